import type { NextConfig } from "next";

const config: NextConfig = {
  // No telemetry, fonts or images fetched from outside at build or run time.
  images: { unoptimized: true },
  poweredByHeader: false,
};

export default config;
