// The live-sync helpers against the live service: the change feed, the
// event stream followed with `watchTasks` (resuming, a fresh token on every
// connection, a 410 reset, stopping), and the stream parser on its own.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { execFileSync } from "node:child_process";
import { after, before, describe, test } from "node:test";

import { binary, startService } from "../../../e2e/lib/service.mjs";
import { createTodoClient } from "../dist/src/client.js";
import { CursorExpiredError, EventStreamParser, fetchChanges, loadChanges, watchTasks } from "../dist/src/live.js";

const secret = "typescript-client-live-test-secret";
let service;

before(async () => {
  service = await startService({ BETTER_AUTH_SECRET: secret });
});
after(async () => await service?.stop());

function tokenFor(sub) {
  return execFileSync(binary, ["token", "--sub", sub], { env: { PATH: process.env.PATH, BETTER_AUTH_SECRET: secret } })
    .toString()
    .trim();
}

/** An HS256 token with chosen claims, signed as the service expects. */
function sign(payload) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const unsigned = `${part({ alg: "HS256", typ: "JWT" })}.${part(payload)}`;
  return `${unsigned}.${createHmac("sha256", secret).update(unsigned).digest("base64url")}`;
}

/** Retries `check` every 20 ms until it passes or `ms` have gone by. */
async function within(ms, check) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/**
 * Watches one user's changes, recording every callback and every
 * connection (its token context and Last-Event-ID), with a way to cut the
 * current connection as a network failure would.
 */
function watcher(token, options = {}) {
  const controller = new AbortController();
  const seen = { events: [], connections: [], tokens: [], retries: [] };
  let cut = null;
  const done = watchTasks({
    baseUrl: service.address,
    signal: controller.signal,
    retry: { initialMs: 50, maxMs: 500 },
    getToken(context) {
      seen.tokens.push(context);
      return typeof token === "function" ? token(context) : token;
    },
    fetch(input, init) {
      const connection = new AbortController();
      cut = () => connection.abort();
      seen.connections.push({ url: String(input), lastEventId: new Headers(init?.headers).get("last-event-id") });
      return fetch(input, { ...init, signal: AbortSignal.any([init.signal, connection.signal]) });
    },
    onSnapshot: (tasks, cursor) => seen.events.push({ type: "snapshot", titles: tasks.map((t) => t.title), cursor }),
    onUpsert: (task, cursor) => seen.events.push({ type: "upsert", task, cursor }),
    onDelete: (deleted, cursor) => seen.events.push({ type: "delete", id: deleted.id, deleted, cursor }),
    onOpen: (info) => seen.events.push({ type: "open", ...info }),
    onReset: () => seen.events.push({ type: "reset" }),
    onRetry: (info) => seen.retries.push(info),
    ...options,
  });
  return {
    seen,
    done,
    cut: () => cut?.(),
    changes: () => seen.events.filter((e) => e.type === "upsert" || e.type === "delete"),
    lastCursor: () => seen.events.filter((e) => e.cursor).at(-1)?.cursor,
    stop: async () => {
      controller.abort();
      await done;
    },
  };
}

const summary = (events) =>
  events.map((e) => (e.type === "upsert" ? `upsert ${e.task.title}${e.task.completed ? " (done)" : ""}` : `${e.type} ${e.id}`));

describe("the change feed", () => {
  test("without a cursor: the current tasks, paged; with one: what changed since", async () => {
    const token = tokenFor("feed-user");
    const api = createTodoClient(service.address, () => token);
    const ids = [];
    for (const title of ["one", "two", "three"]) ids.push((await api.POST("/api/tasks", { body: { title } })).data.id);
    const connection = { baseUrl: service.address, getToken: () => token };

    const first = await fetchChanges(connection, { limit: 2 });
    assert.equal(first.tasks.length, 2);
    assert.deepEqual(first.deleted, []);
    assert.equal(first.has_more, true);
    const all = await loadChanges(connection, { limit: 2 });
    assert.deepEqual(all.tasks.map((t) => t.title).sort(), ["one", "three", "two"]);
    assert.deepEqual(all.deleted, []);

    await api.PUT("/api/tasks/{id}", { params: { path: { id: ids[0] } }, body: { title: "one, edited" } });
    await api.DELETE("/api/tasks/{id}", { params: { path: { id: ids[1] } } });
    const since = await loadChanges(connection, { since: all.cursor });
    assert.deepEqual(since.tasks.map((t) => t.title), ["one, edited"]);
    assert.deepEqual(since.deleted.map((d) => d.id), [ids[1]]);
    assert.match(since.deleted[0].deleted_at, /Z$/);
    const nothing = await loadChanges(connection, { since: since.cursor });
    assert.deepEqual([nothing.tasks, nothing.deleted], [[], []]);

    // Another user's feed holds none of it.
    const other = await loadChanges({ baseUrl: service.address, getToken: () => tokenFor("feed-other") });
    assert.deepEqual(other.tasks, []);
  });

  test("a cursor never issued is a 410", async () => {
    const connection = { baseUrl: service.address, getToken: () => tokenFor("feed-user") };
    await assert.rejects(fetchChanges(connection, { since: "not-a-cursor" }), (error) => {
      assert.ok(error instanceof CursorExpiredError);
      assert.equal(error.status, 410);
      assert.equal(error.problem.status, 410);
      return true;
    });
  });
});

describe("watchTasks", () => {
  test("delivers a snapshot, then each create, edit, completion and delete within 1 s; another user sees none", async () => {
    const token = tokenFor("watch-ada");
    const api = createTodoClient(service.address, () => token);
    await api.POST("/api/tasks", { body: { title: "already there" } });
    const ada = watcher(token, { snapshot: true });
    const bob = watcher(tokenFor("watch-bob"));
    await within(5000, () => assert.equal(ada.seen.events.filter((e) => e.type === "open").length, 1));
    await within(5000, () => assert.equal(bob.seen.events.filter((e) => e.type === "open").length, 1));
    assert.deepEqual(ada.seen.events[0].titles, ["already there"]);
    assert.equal(ada.seen.events[1].resumed, true, "followed from the snapshot's cursor");
    assert.equal(bob.seen.events[0].resumed, false, "no snapshot: the stream starts at now");

    const created = (await api.POST("/api/tasks", { body: { title: "Live" } })).data;
    await within(1000, () => assert.deepEqual(summary(ada.changes()), ["upsert Live"]));
    assert.deepEqual(ada.changes()[0].task, created, "the task as the service returned it");
    await api.PUT("/api/tasks/{id}", { params: { path: { id: created.id } }, body: { title: "Live, edited" } });
    await within(1000, () => assert.equal(summary(ada.changes()).at(-1), "upsert Live, edited"));
    await api.PATCH("/api/tasks/{id}/complete", { params: { path: { id: created.id } }, body: { completed: true } });
    await within(1000, () => assert.equal(summary(ada.changes()).at(-1), "upsert Live, edited (done)"));
    assert.equal(ada.changes().at(-1).task.version, 3);
    await api.DELETE("/api/tasks/{id}", { params: { path: { id: created.id } } });
    await within(1000, () => assert.equal(summary(ada.changes()).at(-1), `delete ${created.id}`));
    assert.match(ada.changes().at(-1).deleted.deleted_at, /Z$/);

    // Every event carries a cursor, each a new one.
    const cursors = ada.changes().map((e) => e.cursor);
    assert.equal(new Set(cursors).size, 4);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(bob.changes(), [], "nothing of Ada's reaches Bob");
    await ada.stop();
    await bob.stop();
  });

  test("after a broken connection, resumes with Last-Event-ID and misses nothing", async () => {
    const token = tokenFor("watch-resume");
    const api = createTodoClient(service.address, () => token);
    const watch = watcher(token);
    await within(5000, () => assert.equal(watch.seen.events.filter((e) => e.type === "open").length, 1));
    const before = (await api.POST("/api/tasks", { body: { title: "before the break" } })).data;
    await within(1000, () => assert.equal(watch.changes().length, 1));
    const cursor = watch.lastCursor();

    // Cut the connection (as a network would) and write while it is down.
    watch.cut();
    await within(1000, () => assert.equal(watch.seen.retries.length, 1));
    await api.POST("/api/tasks", { body: { title: "during the break" } });
    await api.DELETE("/api/tasks/{id}", { params: { path: { id: before.id } } });

    await within(5000, () =>
      assert.deepEqual(summary(watch.changes()), ["upsert before the break", "upsert during the break", `delete ${before.id}`]),
    );
    assert.equal(watch.seen.connections.length, 2);
    assert.equal(watch.seen.connections[0].lastEventId, null);
    assert.equal(watch.seen.connections[1].lastEventId, cursor, "resumed after the last id seen");
    assert.deepEqual(watch.seen.tokens, [{ reconnect: false }, { reconnect: true }]);
    const opens = watch.seen.events.filter((e) => e.type === "open");
    assert.deepEqual(opens.map((e) => e.resumed), [false, true]);
    await watch.stop();
  });

  test("when the service closes the stream as the token expires, reconnects with a fresh token", async () => {
    const sub = "watch-expiry";
    const now = Math.floor(Date.now() / 1000);
    // Good for 3 seconds: the service ends the stream then.
    const expiring = sign({ sub, iat: now, exp: now + 3 });
    const fresh = tokenFor(sub);
    const watch = watcher(({ reconnect }) => (reconnect ? fresh : expiring));
    await within(10_000, () => assert.ok(watch.seen.tokens.some((t) => t.reconnect), "asked again for a token"));
    await within(5000, () => assert.ok(watch.seen.connections.length >= 2));
    assert.ok(watch.seen.connections.at(-1).lastEventId, "resumed from the cursor");
    const api = createTodoClient(service.address, () => fresh);
    await api.POST("/api/tasks", { body: { title: "after the new token" } });
    await within(1000, () => assert.deepEqual(summary(watch.changes()), ["upsert after the new token"]));
    await watch.stop();
  });

  test("a cursor the service never issued: onReset, then from scratch without one", async () => {
    const token = tokenFor("watch-reset");
    const api = createTodoClient(service.address, () => token);
    await api.POST("/api/tasks", { body: { title: "kept" } });
    const watch = watcher(token, { since: "not-a-cursor", snapshot: true });
    await within(5000, () => assert.ok(watch.seen.events.some((e) => e.type === "open")));
    assert.deepEqual(
      watch.seen.events.map((e) => e.type),
      ["reset", "snapshot", "open"],
    );
    assert.deepEqual(watch.seen.events[1].titles, ["kept"]);
    assert.equal(watch.seen.connections[0].lastEventId, "not-a-cursor");
    assert.ok(watch.seen.connections[1].url.includes("/api/tasks/changes"), "reloaded from the feed");
    assert.ok(!watch.seen.connections[1].url.includes("since="), "without a cursor");
    await api.POST("/api/tasks", { body: { title: "then live" } });
    await within(1000, () => assert.deepEqual(summary(watch.changes()), ["upsert then live"]));
    await watch.stop();
  });

  test("stops when its signal aborts, and a refusal no retry can fix rejects", async () => {
    const watch = watcher(tokenFor("watch-stop"));
    await within(5000, () => assert.ok(watch.seen.events.some((e) => e.type === "open")));
    const started = Date.now();
    await watch.stop();
    assert.ok(Date.now() - started < 1000);
    assert.deepEqual(watch.seen.retries, []);

    // A 401 is retried with a fresh token; a callback's failure ends the watch.
    let calls = 0;
    const failing = watcher(() => (calls++ === 0 ? "not-a-token" : tokenFor("watch-stop")), {
      onOpen() {
        throw new Error("the app failed");
      },
    });
    await assert.rejects(failing.done, /the app failed/);
    assert.equal(failing.seen.retries[0].error.status, 401);
    assert.deepEqual(failing.seen.tokens, [{ reconnect: false }, { reconnect: true }]);
  });
});

describe("EventStreamParser", () => {
  test("reads messages split anywhere, with every line ending, comments and id-only messages", () => {
    const stream =
      ":\n\nid: c1\n\nevent: upsert\r\nid: c2\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\n: keep-alive\r\rdata:x\rretry: 1500\r\r" +
      "event: delete\nid: c3\ndata: {}\n\nid\n\nevent: upsert\ndata: cut off";
    const expected = [
      { event: "message", data: null, id: "c1" },
      { event: "upsert", data: '{"a":\n1}', id: "c2" },
      { event: "message", data: "x", id: "c2" },
      { event: "delete", data: "{}", id: "c3" },
      { event: "message", data: null, id: "" },
    ];
    for (const size of [1, 2, 3, 7, stream.length]) {
      const parser = new EventStreamParser();
      const messages = [];
      for (let i = 0; i < stream.length; i += size) messages.push(...parser.push(stream.slice(i, i + size)));
      assert.deepEqual(messages, expected, `chunks of ${size}`);
      assert.equal(parser.retryMs, 1500);
    }
  });
});
