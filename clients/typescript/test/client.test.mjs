// Runs the compiled usage example against the live service.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { execFileSync } from "node:child_process";
import { after, before, test } from "node:test";

import { binary, startService } from "../../../e2e/lib/service.mjs";
import { createTodoClient } from "../dist/src/client.js";
import { tourOfTheApi } from "../dist/src/example.js";
import { tokenCache } from "../dist/src/token.js";

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

/** An HS256 token with chosen claims, signed as the service expects. */
function sign(payload) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const unsigned = `${part({ alg: "HS256", typ: "JWT" })}.${part(payload)}`;
  return `${unsigned}.${createHmac("sha256", secret).update(unsigned).digest("base64url")}`;
}

test("after a 401 the call is retried once with a fresh token", async () => {
  const now = Math.floor(Date.now() / 1000);
  const expired = sign({ sub: "ts-refresh", iat: now - 3600, exp: now - 600 });
  const fresh = sign({ sub: "ts-refresh", iat: now, exp: now + 600 });
  const asked = [];
  const api = createTodoClient(service.address, (context) => {
    asked.push(context);
    return context.refresh ? fresh : expired;
  });
  const listed = await api.GET("/api/tasks");
  assert.equal(listed.response.status, 200, "the retry with the fresh token went through");
  assert.deepEqual(asked, [{ refresh: false }, { refresh: true }]);

  // A token source that has nothing newer: the 401 comes back, no retry.
  const stuck = [];
  const fixed = createTodoClient(service.address, (context) => {
    stuck.push(context);
    return expired;
  });
  const refused = await fixed.GET("/api/tasks");
  assert.equal(refused.response.status, 401);
  assert.equal(refused.error?.status, 401, "the problem document is still readable");
  assert.deepEqual(stuck, [{ refresh: false }, { refresh: true }]);
});

test("the token cache fetches once, shares a refresh and forgets", async () => {
  let fetched = 0;
  const cache = tokenCache(async () => `token-${++fetched}`);
  assert.equal(await cache.current(), "token-1");
  assert.equal(await cache.current(), "token-1", "kept in memory");
  const [a, b] = await Promise.all([cache.refresh(), cache.refresh()]);
  assert.deepEqual([a, b, fetched], ["token-2", "token-2", 2], "concurrent refreshes share one fetch");
  assert.equal(await cache.current(), "token-2");
  cache.forget();
  assert.equal(await cache.current(), "token-3", "fetched again after forget");
});
