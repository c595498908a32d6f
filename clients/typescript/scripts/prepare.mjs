// `npm run prepare`: generates the types from openapi.json and compiles the
// package to dist/ (JavaScript and .d.ts). npm runs it after `npm ci` here,
// and when the package is installed as a `file:` dependency (the Next.js
// example's `npm install`): then this folder has no node_modules of its own
// yet, so its dependencies (the generator, the compiler) are installed first.
import { execSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const run = (command) => execSync(command, { cwd: here, stdio: "inherit" });

if (!existsSync(path.join(here, "node_modules/.bin/tsc")) || !existsSync(path.join(here, "node_modules/.bin/openapi-typescript"))) {
  run("npm ci --ignore-scripts --no-audit --no-fund");
}
run("npm run generate");
run("npm run build");
