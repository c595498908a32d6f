// The app's live-sync helpers are the TypeScript client's (clients/typescript/
// src/live.ts), imported from the app's own generated types: the two files
// differ in that import only.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const read = (file) => readFileSync(path.join(root, file), "utf8");

test("src/lib/api/live.ts is the TypeScript client's live.ts", () => {
  const client = read("clients/typescript/src/live.ts");
  const app = read("examples/nextjs/src/lib/api/live.ts");
  assert.equal(app, client.replace('from "./generated/schema.js";', 'from "./schema";'));
});
