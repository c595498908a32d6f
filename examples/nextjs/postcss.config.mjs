// Tailwind CSS v4, through its PostCSS plugin (Next.js runs PostCSS on every
// CSS file it bundles).
const config = {
  plugins: { "@tailwindcss/postcss": {} },
};

export default config;
