// The live-sync helpers against the live service: the change feed, the
// event stream followed with `watchTasks` (resuming, a fresh token on every
// connection, a 410 reset, stopping), reminders (a `reminder` event when
// one is due, the feed's `reminders`), and the stream parser on its own.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { execFileSync } from "node:child_process";
import { after, before, describe, test } from "node:test";

import { binary, startService } from "../../../e2e/lib/service.mjs";
import { createTodoClient } from "../dist/src/client.js";
import { CursorExpiredError, EventStreamParser, fetchChanges, loadChanges, watchTasks } from "../dist/src/live.js";
import { OfflineQueue } from "../dist/src/offline.js";

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
    onReminder: (reminder, cursor) => seen.events.push({ type: "reminder", reminder, cursor, at: Date.now() }),
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
    reminders: () => seen.events.filter((e) => e.type === "reminder"),
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
    assert.deepEqual(first.reminders, [], "always present; a snapshot lists none");
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
    assert.deepEqual(since.reminders, []);
    const nothing = await loadChanges(connection, { since: since.cursor });
    assert.deepEqual([nothing.tasks, nothing.deleted, nothing.reminders], [[], [], []]);

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

/**
 * The next whole minute (UTC) at least `leadMs` away, as a due date and time
 * the service takes: `{ at, due_date, due_time }`.
 */
function nextWholeMinute(leadMs = 5000) {
  const at = new Date(Math.ceil((Date.now() + leadMs) / 60_000) * 60_000);
  const iso = at.toISOString();
  return { at, due_date: iso.slice(0, 10), due_time: iso.slice(11, 16) };
}

const sameInstant = (a, b) => new Date(a).getTime() === new Date(b).getTime();

describe("reminders", () => {
  test("a reminder due during the test reaches onReminder; the change feed lists it apart from the tasks", async (t) => {
    const token = tokenFor("remind-ada");
    const api = createTodoClient(service.address, () => token);
    const connection = { baseUrl: service.address, getToken: () => token };
    // Stopped whatever happens, or their retries would outlive the service.
    const watches = [];
    t.after(() => Promise.all(watches.map((w) => w.stop())));
    const watch = (...args) => {
      const w = watcher(...args);
      watches.push(w);
      return w;
    };
    const ada = watch(token);
    const bob = watch(tokenFor("remind-bob"));
    await within(5000, () => assert.ok(ada.seen.events.some((e) => e.type === "open")));
    await within(5000, () => assert.ok(bob.seen.events.some((e) => e.type === "open")));
    const start = ada.seen.events.find((e) => e.type === "open").cursor;

    const due = nextWholeMinute();
    const body = { due_date: due.due_date, due_time: due.due_time, time_zone: "UTC", reminders: [0] };
    const created = (await api.POST("/api/tasks", { body: { title: "Call the bank", ...body } })).data;
    assert.deepEqual(created.reminders, [0]);
    assert.equal(created.recurrence, null);
    assert.ok(sameInstant(created.due_at, due.at), `due at ${due.at.toISOString()}, not ${created.due_at}`);
    // Deleted before its time: its reminder is cancelled.
    const dropped = (await api.POST("/api/tasks", { body: { title: "Never mind", ...body } })).data;
    await api.DELETE("/api/tasks/{id}", { params: { path: { id: dropped.id } } });
    const early = await fetchChanges(connection, { since: start });
    assert.deepEqual(early.reminders, [], "none yet");

    // Within 2 s of its time (the contract), give or take a little.
    await within(due.at.getTime() - Date.now() + 5000, () => assert.equal(ada.reminders().length, 1));
    const [event] = ada.reminders();
    const { reminder } = event;
    assert.deepEqual(Object.keys(reminder).sort(), ["due_at", "late", "remind_at", "task_id", "title"]);
    assert.equal(reminder.task_id, created.id);
    assert.equal(reminder.title, "Call the bank");
    assert.ok(sameInstant(reminder.due_at, created.due_at));
    assert.ok(sameInstant(reminder.remind_at, due.at), "0 minutes before: at the due time");
    assert.equal(reminder.late, false);
    assert.ok(event.at >= due.at.getTime() - 1000, `not early (${event.at - due.at.getTime()} ms)`);
    assert.ok(event.at - due.at.getTime() < 5000, `on time (${event.at - due.at.getTime()} ms)`);
    assert.ok(event.cursor && event.cursor !== start, "with a cursor of its own");
    assert.deepEqual(summary(ada.changes()), ["upsert Call the bank", "upsert Never mind", `delete ${dropped.id}`], "no task change");

    // The feed: the reminder under `reminders`, the task once under `tasks`,
    // and nothing after the reminder's own cursor.
    const page = await fetchChanges(connection, { since: start });
    assert.deepEqual(page.reminders, [reminder], "each entry is the event's data");
    assert.deepEqual(page.tasks.map((t) => t.id), [created.id]);
    assert.deepEqual(page.deleted.map((d) => d.id), [dropped.id]);
    const paged = await loadChanges(connection, { since: start, limit: 1 });
    assert.deepEqual(paged.reminders, [reminder], "across pages, kept apart from the tasks");
    assert.deepEqual(paged.tasks.map((t) => t.id), [created.id]);
    const after = await fetchChanges(connection, { since: event.cursor });
    assert.deepEqual([after.tasks, after.deleted, after.reminders], [[], [], []]);

    // The offline queue's catch-up carries it too.
    const queue = new OfflineQueue({ connection: { baseUrl: service.address, getToken: () => token } });
    queue.setCursor(start);
    const report = await queue.flush();
    assert.deepEqual(report.changes.reminders, [reminder]);
    assert.deepEqual(report.changes.tasks.map((t) => t.id), [created.id]);

    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(ada.reminders().length, 1, "exactly once");
    assert.deepEqual(bob.seen.events.filter((e) => e.type !== "open"), [], "nothing of Ada's reaches Bob");

    // Resuming the stream after a cursor from before it delivers it again,
    // in order (a task deleted since comes as its deletion alone): after
    // the first change's cursor, and after the one the stream opened with
    // (for a user with no changes yet, the very first cursor). A client
    // that has seen nothing may miss deletions, not reminders.
    const line = (events) =>
      events.filter((e) => e.type !== "open").map((e) => (e.type === "reminder" ? `reminder ${e.reminder.task_id}` : summary([e])[0]));
    for (const [since, expected, skip] of [
      [ada.changes()[0].cursor, [`delete ${dropped.id}`, `reminder ${created.id}`], null],
      [start, ["upsert Call the bank", `reminder ${created.id}`], `delete ${dropped.id}`],
    ]) {
      const resumed = watch(token, { since });
      await within(5000, () =>
        assert.deepEqual(line(resumed.seen.events).filter((e) => e !== skip), expected, `resumed after ${since}`),
      );
      assert.equal(resumed.reminders()[0].cursor, event.cursor);
    }
  });

  test("reminders the feed lists while a snapshot is read are delivered by onReminder, not as tasks", async () => {
    // A service of pages: the snapshot's second page carries a reminder
    // recorded meanwhile; the stream then sends another.
    const task = { id: 7, title: "Water plants", version: 1 };
    const fromFeed = { task_id: 7, title: "Water plants", due_at: "2026-11-21T09:30:00Z", remind_at: "2026-11-21T09:15:00Z", late: false };
    const fromStream = { ...fromFeed, remind_at: "2026-11-21T09:30:00Z" };
    const pages = {
      "": { tasks: [task], deleted: [], reminders: [], cursor: "c1", has_more: true },
      c1: { tasks: [], deleted: [], reminders: [fromFeed], cursor: "c2", has_more: false },
    };
    const requests = [];
    const controller = new AbortController();
    const events = [];
    const done = watchTasks({
      baseUrl: "http://service.invalid",
      snapshot: true,
      signal: controller.signal,
      getToken: () => "token",
      async fetch(input, init) {
        const url = new URL(String(input));
        requests.push(`${url.pathname}${url.search}`);
        if (url.pathname === "/api/tasks/changes") return Response.json(pages[url.searchParams.get("since") ?? ""]);
        assert.equal(new Headers(init.headers).get("last-event-id"), "c2");
        const body = new ReadableStream({
          start(stream) {
            stream.enqueue(new TextEncoder().encode(`event: reminder\nid: c3\ndata: ${JSON.stringify(fromStream)}\n\n`));
          },
        });
        return new Response(body, { headers: { "content-type": "text/event-stream" } });
      },
      onSnapshot: (tasks, cursor) => events.push(["snapshot", tasks.map((t) => t.id), cursor]),
      onUpsert: (t, cursor) => events.push(["upsert", t.id, cursor]),
      onReminder: (reminder, cursor) => events.push(["reminder", reminder, cursor]),
      onOpen: ({ cursor }) => events.push(["open", cursor]),
    });
    await within(2000, () => assert.equal(events.length, 4));
    controller.abort();
    await done;
    assert.deepEqual(events, [
      ["snapshot", [7], "c2"],
      ["reminder", fromFeed, "c2"],
      ["open", "c2"],
      ["reminder", fromStream, "c3"],
    ]);
    assert.deepEqual(requests, ["/api/tasks/changes", "/api/tasks/changes?since=c1", "/api/events"]);
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
