// The offline queue against the live service: writes recorded while
// offline and shown over the list, sent as one `POST /api/batch` and applied
// exactly once, even when the answer to the first try is lost; refs named
// in the batch and mapped to ids across batches; a 412 turned into a
// conflict holding both versions; more than 100 writes in several batches;
// a recurring task with reminders made and completed through batches.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, test } from "node:test";

import { binary, startService } from "../../../e2e/lib/service.mjs";
import { memoryStore, OfflineQueue } from "../dist/src/offline.js";

const secret = "typescript-client-offline-test-secret";
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

/** A user of their own, with `call(method, route, body)` on the service. */
function user(name) {
  const token = tokenFor(`offline-${name}-${process.pid}`);
  return { token, call: (method, route, body) => service.call(method, route, token, body) };
}

/**
 * A `fetch` that records every batch request (key and body) and, while
 * `loseAnswers` is above zero, performs the request but throws as a
 * dropped connection would, so the answer never reaches the queue.
 */
function recordingFetch() {
  const wire = { batches: [], loseAnswers: 0 };
  wire.fetch = async (url, init = {}) => {
    const response = await fetch(url, init);
    if (new URL(url).pathname !== "/api/batch") return response;
    wire.batches.push({ key: init.headers["Idempotency-Key"], body: init.body, status: response.status });
    if (wire.loseAnswers > 0) {
      wire.loseAnswers--;
      await response.arrayBuffer();
      throw new TypeError("fetch failed: the connection dropped before the answer arrived");
    }
    return response;
  };
  return wire;
}

function queueFor(who, wire, options = {}) {
  return new OfflineQueue({
    connection: { baseUrl: service.address, getToken: () => who.token, fetch: wire.fetch },
    ...options,
  });
}

const operationsOf = (batch) => JSON.parse(batch.body).operations;

async function created(who, title) {
  const answer = await who.call("POST", "/api/tasks", { title });
  assert.equal(answer.status, 201);
  return answer.body;
}

async function tasksTitled(who, title) {
  return (await who.call("GET", `/api/tasks?q=${encodeURIComponent(title)}&limit=500`)).body.filter((t) => t.title === title);
}

test("writes made offline are shown as waiting, then applied exactly once in one batch", async () => {
  const ana = user("ana");
  const [edit, tick, drop] = [await created(ana, "Edit me"), await created(ana, "Tick me"), await created(ana, "Drop me")];
  const wire = recordingFetch();
  const queue = queueFor(ana, wire);

  // Offline: a new task, changed twice before it ever reached the service,
  // and one write of each other kind on tasks the service has.
  const fresh = await queue.create({ title: "  Made offline  ", priority: "high" });
  assert.ok(fresh.id < 0 && fresh.waiting, "shown at once, with a local id, as waiting");
  await queue.update(fresh, { description: "written on the train" });
  await queue.complete(fresh, true);
  await queue.update(edit, { title: "Edited offline" });
  await queue.complete(tick, true);
  await queue.remove(drop);
  assert.equal(queue.waiting, 6);
  assert.deepEqual(wire.batches, [], "nothing sent yet");

  const shown = queue.applyPending([drop, tick, edit]);
  assert.deepEqual(
    shown.map((t) => [t.title, t.completed, t.waiting]),
    [
      ["Made offline", true, true],
      ["Tick me", true, true],
      ["Edited offline", false, true],
    ],
    "created first, changes applied, the deleted one gone, each marked waiting",
  );
  assert.equal(shown[0].description, "written on the train");

  // Back online: one batch, non-atomic, with the key frozen in the store.
  const report = await queue.flush();
  assert.equal(report.batches, 1);
  assert.equal(wire.batches.length, 1);
  const [batch] = wire.batches;
  assert.match(batch.key, /^offline-[0-9a-f]{32}$/);
  assert.equal(JSON.parse(batch.body).atomic, false);
  assert.deepEqual(operationsOf(batch), [
    { op: "create", ref: "t1", task: { title: "  Made offline  ", priority: "high" } },
    { op: "update", ref: "t1", task: { description: "written on the train" } },
    { op: "complete", ref: "t1", completed: true },
    { op: "update", id: edit.id, if_match: '"1"', task: { title: "Edited offline" } },
    { op: "complete", id: tick.id, if_match: '"1"', completed: true },
    { op: "delete", id: drop.id, if_match: '"1"' },
  ]);
  assert.deepEqual(report.applied.map((a) => a.status), [201, 200, 200, 200, 200, 204]);
  assert.deepEqual([report.conflicts, report.failures], [[], []]);
  assert.equal(queue.waiting, 0);
  assert.equal(queue.state.inflight, null);

  // The service holds exactly those changes, once.
  const [made] = await tasksTitled(ana, "Made offline");
  assert.deepEqual([made.description, made.completed, made.priority, made.version], ["written on the train", true, "high", 3]);
  assert.equal((await tasksTitled(ana, "Made offline")).length, 1);
  const edited = (await ana.call("GET", `/api/tasks/${edit.id}`)).body;
  assert.deepEqual([edited.title, edited.version], ["Edited offline", 2]);
  assert.deepEqual(
    [(await ana.call("GET", `/api/tasks/${tick.id}`)).body.completed, (await ana.call("GET", `/api/tasks/${drop.id}`)).status],
    [true, 404],
  );

  // The catch-up read the change feed (all current tasks: no cursor yet).
  assert.deepEqual(report.changes.tasks.map((t) => t.title).sort(), ["Edited offline", "Made offline", "Tick me"]);
  // A second flush sends nothing and reads only what changed since.
  await ana.call("POST", "/api/tasks", { title: "Made elsewhere" });
  const again = await queue.flush();
  assert.equal(again.batches, 0);
  assert.equal(wire.batches.length, 1);
  assert.deepEqual(again.changes.tasks.map((t) => t.title), ["Made elsewhere"]);
});

test("a lost answer: the retry sends the same key and body, and nothing is applied twice", async () => {
  const ben = user("ben");
  const task = await created(ben, "Counted once");
  const store = memoryStore();
  const wire = recordingFetch();
  const queue = queueFor(ben, wire, { store });
  await queue.create({ title: "Lost answer" });
  await queue.update(task, { description: "changed once" });

  // The request reaches the service, its answer does not reach the queue.
  wire.loseAnswers = 1;
  await assert.rejects(queue.flush(), /connection dropped/);
  assert.equal(wire.batches[0].status, 200, "the service did apply the batch");
  const frozen = queue.state.inflight;
  assert.ok(frozen, "the batch stays frozen");
  assert.equal(frozen.key, wire.batches[0].key);
  assert.equal(queue.waiting, 2, "still waiting: the queue never heard back");

  // The page is reloaded (a new queue over the same store), then retries.
  const reloaded = queueFor(ben, wire, { store });
  await reloaded.load();
  assert.equal(reloaded.waiting, 2);
  const report = await reloaded.flush();
  assert.equal(wire.batches.length, 2);
  assert.equal(wire.batches[1].key, wire.batches[0].key, "the same key");
  assert.equal(wire.batches[1].body, wire.batches[0].body, "the same body, byte for byte");
  assert.deepEqual(report.applied.map((a) => a.status), [201, 200]);
  assert.equal(reloaded.waiting, 0);

  // Applied once: one task of that title, one version more on the other.
  const lost = await tasksTitled(ben, "Lost answer");
  assert.equal(lost.length, 1);
  assert.equal(report.applied[0].task.id, lost[0].id, "the replayed answer names the task created the first time");
  const changed = (await ben.call("GET", `/api/tasks/${task.id}`)).body;
  assert.deepEqual([changed.description, changed.version], ["changed once", 2]);
  const all = await ben.call("GET", "/api/tasks");
  assert.equal(all.headers.get("x-total-count"), "2");
});

test("refs name tasks created in the same batch, and map to their ids in later ones", async () => {
  const cai = user("cai");
  const wire = recordingFetch();
  const queue = queueFor(cai, wire);

  const local = await queue.create({ title: "Planned offline" });
  await queue.flush({ catchUp: false });
  const [stored] = await tasksTitled(cai, "Planned offline");
  assert.deepEqual(queue.state.refs, { t1: { id: stored.id, version: 1 } });

  // The app still shows the local copy (its list not refetched yet), and
  // the user edits it twice: the next batch names the id the service
  // answered, checked against the version it answered, in one operation.
  await queue.update(local, { description: "with the id now" });
  await queue.complete(local, true);
  assert.deepEqual(
    queue.applyPending([stored]).map((t) => [t.id, t.description, t.completed, t.waiting]),
    [[stored.id, "with the id now", true, true]],
    "shown over the service's copy once the list has it",
  );
  await queue.flush({ catchUp: false });
  assert.deepEqual(operationsOf(wire.batches[1]), [
    { op: "update", id: stored.id, if_match: '"1"', task: { description: "with the id now", completed: true } },
  ]);
  const now = (await cai.call("GET", `/api/tasks/${stored.id}`)).body;
  assert.deepEqual([now.description, now.completed, now.version], ["with the id now", true, 2]);
  assert.deepEqual(queue.state.refs.t1, { id: stored.id, version: 2 });

  // A create the service refuses: the writes naming it fail with 424, in
  // its batch and in later ones, and nothing else is held back.
  const refused = await queue.create({ title: " " });
  await queue.update(refused, { description: "never" });
  await queue.create({ title: "Still made" });
  const report = await queue.flush({ catchUp: false });
  assert.deepEqual(report.failures.map((f) => [f.write.op, f.status]), [["create", 422], ["update", 424]]);
  assert.equal(report.failures[0].problem.status, 422);
  assert.equal((await tasksTitled(cai, "Still made")).length, 1);
  await queue.complete(refused, true);
  const later = await queue.flush({ catchUp: false });
  assert.deepEqual(later.failures.map((f) => [f.write.op, f.status]), [["complete", 424]]);
  assert.equal(later.batches, 0, "never sent");
  assert.equal(queue.state.failures.length, 3, "kept until dismissed");
  await queue.dismissFailure(queue.state.failures[0].id);
  assert.equal(queue.state.failures.length, 2);

  // A task created and deleted before it was ever sent is never sent.
  const fleeting = await queue.create({ title: "Never mind" });
  await queue.remove(fleeting);
  assert.equal(queue.waiting, 0);
});

test("a write over a newer version comes back as a conflict with both versions", async () => {
  const dee = user("dee");
  const [shared, gone, lost] = [await created(dee, "Shared"), await created(dee, "Gone"), await created(dee, "Theirs wins")];
  const wire = recordingFetch();
  const queue = queueFor(dee, wire);

  // Edited here while offline...
  await queue.update(shared, { title: "Mine" });
  await queue.complete(shared, true);
  await queue.update(gone, { description: "still wanted" });
  await queue.update(lost, { title: "Mine, dropped" });
  // ...and meanwhile on another device.
  assert.equal((await dee.call("PUT", `/api/tasks/${shared.id}`, { title: "Theirs", description: "from the phone" })).status, 200);
  assert.equal((await dee.call("DELETE", `/api/tasks/${gone.id}`)).status, 204);
  assert.equal((await dee.call("PUT", `/api/tasks/${lost.id}`, { title: "Theirs, kept" })).status, 200);

  const report = await queue.flush({ catchUp: false });
  assert.deepEqual(report.conflicts.map((c) => [c.taskId, c.status]), [[shared.id, 412], [gone.id, 404], [lost.id, 412]]);
  const [onShared, onGone, onLost] = queue.state.conflicts;
  assert.deepEqual([onShared.mine.title, onShared.mine.completed, onShared.mine.version], ["Mine", true, 1], "this device's copy");
  assert.deepEqual([onShared.theirs.title, onShared.theirs.description, onShared.theirs.version], ["Theirs", "from the phone", 2]);
  assert.equal(onGone.theirs, null, "deleted elsewhere");
  const untouched = (await dee.call("GET", `/api/tasks/${shared.id}`)).body;
  assert.deepEqual([untouched.title, untouched.completed, untouched.version], ["Theirs", false, 2], "nothing overwritten");

  // Keep mine: sent again over their version. Keep mine of a task deleted
  // elsewhere: made again. Keep theirs: dropped.
  await queue.keepMine(onShared.id);
  await queue.keepMine(onGone.id);
  await queue.keepTheirs(onLost.id);
  assert.equal(queue.state.conflicts.length, 0);
  await queue.flush({ catchUp: false });
  assert.deepEqual(operationsOf(wire.batches.at(-1)).map((op) => [op.op, op.if_match]), [
    ["update", '"2"'],
    ["create", undefined],
  ]);
  const kept = (await dee.call("GET", `/api/tasks/${shared.id}`)).body;
  assert.deepEqual([kept.title, kept.description, kept.completed, kept.version], ["Mine", "from the phone", true, 3]);
  const remade = await tasksTitled(dee, "Gone");
  assert.deepEqual(remade.map((t) => t.description), ["still wanted"]);
  assert.equal((await dee.call("GET", `/api/tasks/${lost.id}`)).body.title, "Theirs, kept");
});

test("more than 100 writes go in several batches, each with its own key", async () => {
  const eve = user("eve");
  const wire = recordingFetch();
  const queue = queueFor(eve, wire);
  const made = [];
  for (let i = 1; i <= 120; i++) made.push(await queue.create({ title: `Bulk ${String(i).padStart(3, "0")}` }));
  // Edits of the first (sent in the first batch) and of the last (in the second).
  await queue.update(made[0], { description: "first, edited" });
  await queue.update(made[119], { description: "last, edited" });

  const report = await queue.flush({ catchUp: false });
  assert.equal(report.batches, 2);
  assert.deepEqual(wire.batches.map((b) => operationsOf(b).length), [100, 22]);
  assert.notEqual(wire.batches[0].key, wire.batches[1].key);
  const second = operationsOf(wire.batches[1]);
  assert.deepEqual(second.at(-2), { op: "update", id: report.applied[0].task.id, if_match: '"1"', task: { description: "first, edited" } });
  assert.deepEqual(second.at(-1), { op: "update", ref: "t120", task: { description: "last, edited" } });
  assert.equal(report.applied.length, 122);

  const listed = await eve.call("GET", "/api/tasks?q=Bulk&limit=500&sort=title&order=asc");
  assert.equal(listed.headers.get("x-total-count"), "120");
  assert.equal(new Set(listed.body.map((t) => t.title)).size, 120, "each once");
  assert.equal(listed.body[0].description, "first, edited");
  assert.equal(listed.body[119].description, "last, edited");
});

test("a recurring task with reminders, made and completed offline, reaches the service in batches", async () => {
  const fay = user("fay");
  const wire = recordingFetch();
  const queue = queueFor(fay, wire);
  // A Monday a week or two ahead, and the Wednesday after it (UTC).
  const day = (date) => date.toISOString().slice(0, 10);
  const monday = new Date();
  monday.setUTCDate(monday.getUTCDate() + 7 + ((8 - monday.getUTCDay()) % 7));
  const wednesday = new Date(monday);
  wednesday.setUTCDate(monday.getUTCDate() + 2);

  const shown = await queue.create({
    title: "Team sync",
    due_date: day(monday),
    due_time: "09:00",
    time_zone: "UTC",
    recurrence: "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10",
    reminders: [15, 0],
  });
  assert.deepEqual([shown.recurrence, shown.reminders], ["FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10", [0, 15]], "shown as the service will answer it");
  // Reminders need a due time: refused as the single request would be.
  await queue.create({ title: "No time", due_date: day(monday), reminders: [5] });
  const first = await queue.flush({ catchUp: false });
  assert.deepEqual(first.applied.map((a) => a.status), [201]);
  const stored = first.applied[0].task;
  assert.deepEqual(
    [stored.recurrence, stored.reminders, stored.due_date, stored.due_time],
    ["FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10", [0, 15], day(monday), "09:00"],
  );
  assert.deepEqual(first.failures.map((f) => [f.status, f.problem.errors.map((e) => e.field)]), [[422, ["reminders"]]]);

  // Completing it moves it to its next occurrence, still pending.
  await queue.complete(stored, true);
  const second = await queue.flush({ catchUp: false });
  const advanced = second.applied[0].task;
  assert.deepEqual(
    [advanced.completed, advanced.due_date, advanced.due_time, advanced.version],
    [false, day(wednesday), "09:00", 2],
  );
  assert.ok(advanced.completed_at, "completed_at records the completion");
  assert.deepEqual(operationsOf(wire.batches[1]), [{ op: "complete", id: stored.id, if_match: '"1"', completed: true }]);

  // An update clears both.
  await queue.update(advanced, { recurrence: null, reminders: [] });
  await queue.flush({ catchUp: false });
  const cleared = (await fay.call("GET", `/api/tasks/${stored.id}`)).body;
  assert.deepEqual([cleared.recurrence, cleared.reminders, cleared.version], [null, [], 3]);
});
