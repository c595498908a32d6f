// Runs the compiled usage example against the live service.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, test } from "node:test";

import { binary, startService } from "../../../e2e/lib/service.mjs";
import { createTodoClient } from "../dist/src/client.js";
import { tourOfTheApi } from "../dist/src/example.js";

const secret = "typescript-client-test-secret";
let service;

before(async () => {
  service = await startService({ BETTER_AUTH_SECRET: secret });
});
after(async () => await service?.stop());

test("the typed client drives every kind of call", async () => {
  const token = execFileSync(binary, ["token", "--sub", "ts-user"], {
    env: { PATH: process.env.PATH, BETTER_AUTH_SECRET: secret },
  })
    .toString()
    .trim();
  const api = createTodoClient(service.address, () => token);
  const tour = await tourOfTheApi(api);

  assert.equal(tour.created.title, "Try the typed client");
  assert.equal(tour.created.user_id, "ts-user");
  assert.equal(tour.created.version, 1);
  assert.deepEqual(tour.retriedCreate, tour.created, "a retry with the same key creates nothing");
  assert.equal(tour.safeUpdate.conflict, false);
  assert.equal(tour.safeUpdate.task.version, 2);
  assert.equal(tour.safeUpdate.etag, '"2"');
  assert.equal(tour.staleUpdate.conflict, true, "a stale If-Match is refused");
  assert.equal(tour.staleUpdate.task.description, "edited on the laptop", "nothing was overwritten");
  assert.equal(tour.updated.description, null);
  assert.equal(tour.completed.completed, true);
  assert.deepEqual(tour.pending.map((t) => t.title), ["Typed list filters"]);
  assert.equal(tour.totalPending, 1);
  assert.equal(tour.invalid.status, 422);
  assert.equal(tour.invalid.errors?.[0]?.field, "title");
  assert.equal(tour.missing.status, 404);
  assert.equal(tour.deletedStatus, 204);
  assert.equal(tour.leftAfterErasure, 0, "erasing the account removed the remaining task");
  assert.equal(tour.repeatedErasureStatus, 204, "erasure is idempotent");
});
