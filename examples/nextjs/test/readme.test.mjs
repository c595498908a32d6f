// The README's snippets of this example are its own code: each ```ts block
// that starts with `// examples/nextjs/<file>` must equal that file.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

test("the README quotes the example's files as they are", () => {
  const readme = readFileSync(path.join(root, "README.md"), "utf8");
  const quotes = [...readme.matchAll(/```ts\n\/\/ (examples\/nextjs\/\S+)\n([\s\S]*?)```/g)];
  assert.ok(quotes.length >= 4, "the README quotes the example");
  for (const [, file, body] of quotes) {
    assert.equal(body, readFileSync(path.join(root, file), "utf8"), `${file} as quoted in README.md`);
  }
});
