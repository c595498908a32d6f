import path from "node:path";

import type { NextConfig } from "next";

// The repository: the typed client (clients/typescript, the `todo-api-client`
// dependency, a link to that folder) lives outside this app's folder, and
// Turbopack only reads files under its root.
const repository = path.join(__dirname, "../..");

const config: NextConfig = {
  // No telemetry, fonts or images fetched from outside at build or run time.
  images: { unoptimized: true },
  poweredByHeader: false,
  turbopack: { root: repository },
  outputFileTracingRoot: repository,
};

export default config;
