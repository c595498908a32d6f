// Offline-first writes. A write the user makes while the service cannot be
// reached (create, update, complete, delete) is recorded in a store and
// shown at once over the tasks the app already has, marked as waiting. Back
// online, `flush()` sends what the queue holds as `POST /api/batch` with
// `"atomic": false`, so each write applies or fails alone, at most 100 to a
// request, then catches up through the change feed.
//
// Exactly once: before a batch is sent, its body and a fresh
// `Idempotency-Key` are frozen and stored together, in the same write that
// takes its writes out of the queue. Whatever happens to the request (a lost
// response, a closed tab, a crash), the next flush re-sends those same bytes
// with that same key, and the service answers with its first answer again
// without applying anything twice.
//
// Never overwriting: a write of a task the service has carries `if_match`
// with the version the user saw. A 412 comes back as a conflict holding both
// versions, this device's and the service's, for the user to choose.
import { type Problem, type Task } from "./client.js";
import type { components } from "./generated/schema.js";
import { CursorExpiredError, LiveHttpError, loadChanges, refusal, type ChangeSet, type LiveConnection } from "./live.js";
import { memoryStore, type OfflineStore } from "./offline-store.js";

export { indexedDbStore, memoryStore, type OfflineStore } from "./offline-store.js";

export type NewTask = components["schemas"]["CreateTask"];
export type TaskChanges = components["schemas"]["UpdateTask"];

/** The service takes at most this many operations in one batch. */
export const MAX_BATCH_OPERATIONS = 100;
/**
 * A batch's body stays under this: the service takes batch bodies of up to
 * 3 MiB (`POST /api/batch` only; every other route 64 KiB), what 100
 * operations with every field at its limit need, so 100 writes always go
 * in one request. The cap only guards against a body the service would
 * refuse as too large.
 */
const MAX_BATCH_BYTES = 3 * 1024 * 1024;

/**
 * The task a write names: one the service has (`id`), or one created on
 * this device and not yet stored, by its client-chosen `ref`.
 */
export type WriteTarget = { id: number } | { ref: string };

/**
 * One recorded write. `base` is the task as the user saw it when making the
 * change (the local copy a conflict shows); `expected` is the version sent
 * as `if_match`, absent for a task this device created and has not yet
 * heard back about.
 */
export type QueuedWrite =
  | { op: "create"; ref: string; task: NewTask; at: string }
  | { op: "update"; target: WriteTarget; task: TaskChanges; base: Task; expected?: number }
  | { op: "complete"; target: WriteTarget; completed: boolean; base: Task; expected?: number }
  | { op: "delete"; target: WriteTarget; base: Task; expected?: number };

/** A write of a task that exists somewhere: everything but a create. */
export type TaskWrite = Exclude<QueuedWrite, { op: "create" }>;

/** A batch frozen for sending: re-sent byte for byte, with the same key, until an answer comes. */
export interface FrozenBatch {
  key: string;
  /** The exact request body. */
  body: string;
  /** What each operation of the body is, in order, to read the answer by. */
  writes: QueuedWrite[];
}

/** A write the service refused because someone else changed (412) or deleted (404) the task first. */
export interface SyncConflict {
  /** Names the conflict for `keepMine` and `keepTheirs`. */
  id: string;
  /** The task's id at the service. */
  taskId: number;
  status: number;
  /** What this device meant to do (its later writes of the same task merged in). */
  write: TaskWrite;
  /** The task as this device had it, with its change applied; null when the change was a delete. */
  mine: Task | null;
  /** The task as the service has it now; null when it was deleted there; absent until it could be read. */
  theirs?: Task | null;
}

/** A write the service refused for another reason (a 422, a quota's 403, a 424 for a create that failed first). */
export interface SyncFailure {
  id: string;
  write: QueuedWrite;
  status: number;
  problem: Problem | null;
}

/** Everything the queue stores, as one value. */
export interface OfflineState {
  format: 1;
  /** Writes not yet sent, oldest first. */
  pending: QueuedWrite[];
  /** The batch on its way (or whose answer was lost): sent again as it is. */
  inflight: FrozenBatch | null;
  /** What each ref became: the id and latest known version, or null when its create failed. */
  refs: Record<string, { id: number; version: number } | null>;
  conflicts: SyncConflict[];
  failures: SyncFailure[];
  /** The next number for a ref, a conflict or a failure. */
  next: number;
}

/** A task as shown: `waiting` while a write of it has not been answered yet. */
export type ShownTask = Task & { waiting: boolean };

/** Where the service is and how to call it; `getToken` is the typed client's. */
export interface OfflineConnection {
  baseUrl: string;
  /** A bearer token; asked with `refresh: true` once after a 401. */
  getToken: (context: { refresh: boolean }) => string | Promise<string>;
  /** The `fetch` to use; the global one by default. */
  fetch?: typeof fetch;
}

export interface OfflineQueueOptions {
  connection: OfflineConnection;
  /**
   * How long a batch request may take before it is given up (and sent
   * again, same key and body, by the next flush): 30 s by default.
   */
  timeoutMs?: number;
  /** Where the state is kept: IndexedDB in a browser (`indexedDbStore`), memory by default. */
  store?: OfflineStore;
  /** Operations per batch, at most 100. */
  maxOperations?: number;
}

/** What one `flush()` did. */
export interface FlushReport {
  /** How many batch requests were answered. */
  batches: number;
  /** The writes that took effect, with the task as the service answered it (none for a delete). */
  applied: { write: QueuedWrite; status: number; task?: Task }[];
  /** The conflicts this flush found (all open ones are in `state.conflicts`). */
  conflicts: SyncConflict[];
  failures: SyncFailure[];
  /**
   * The changes since the queue's cursor, read after sending; null when not
   * asked for. Its `reminders` are the ones the event stream also sends
   * after that cursor: an app following the stream tells the user from one
   * of the two only.
   */
  changes: ChangeSet | null;
}

export function emptyState(): OfflineState {
  return { format: 1, pending: [], inflight: null, refs: {}, conflicts: [], failures: [], next: 1 };
}

/** A task created on this device and not yet stored has a negative id, derived from its ref. */
export function isLocalTask(task: Pick<Task, "id">): boolean {
  return task.id < 0;
}

const refOfLocalId = (id: number) => `t${-id}`;
const localIdOfRef = (ref: string) => -Number(ref.slice(1));

/**
 * The offline queue. Record writes with `create`, `update`, `complete` and
 * `remove`; show `applyPending(tasks)`; call `flush()` when the network is
 * back (and at start, for what an earlier page left). Every method waits for
 * the store, so a write is safe once its promise resolves.
 */
export class OfflineQueue {
  private current: OfflineState = emptyState();
  private readonly store: OfflineStore;
  private readonly maxOperations: number;
  private readonly listeners = new Set<() => void>();
  private readonly unwatch: () => void;
  private loaded: Promise<void> | null = null;
  private readonly locks = new Map<string, Promise<unknown>>();
  private flushing: Promise<FlushReport> | null = null;
  private nextFlush: Promise<FlushReport> | null = null;
  private followFrom: string | null = null;

  constructor(private readonly options: OfflineQueueOptions) {
    this.store = options.store ?? memoryStore();
    this.maxOperations = Math.min(MAX_BATCH_OPERATIONS, Math.max(1, options.maxOperations ?? MAX_BATCH_OPERATIONS));
    this.unwatch = this.store.watch?.(() => void this.reload()) ?? (() => undefined);
  }

  /** The state as last read or written: for rendering (empty until loaded). */
  get state(): OfflineState {
    return this.current;
  }

  /** How many writes have not been answered yet (the batch on its way included). */
  get waiting(): number {
    return this.current.pending.length + (this.current.inflight?.writes.length ?? 0);
  }

  /** Reads the stored state (once; every method does it first). */
  load(): Promise<void> {
    this.loaded ??= this.reload();
    return this.loaded;
  }

  /** Calls `listener` after every change of the state, here or in another tab. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops listening to other tabs. */
  close(): void {
    this.unwatch();
    this.listeners.clear();
  }

  /** The cursor the next catch-up starts from; null before any. */
  get cursor(): string | null {
    return this.followFrom;
  }

  /**
   * Where the change feed catch-up after a flush starts: the cursor the app
   * is in sync at (from the event stream, say). Without one, the first
   * catch-up reads all of the user's current tasks.
   */
  setCursor(cursor: string): void {
    this.followFrom = cursor;
  }

  /** Records a create; answers the task as it will be shown meanwhile (a negative id). */
  async create(task: NewTask): Promise<ShownTask> {
    let shown: ShownTask | undefined;
    await this.change((state) => {
      const ref = `t${state.next++}`;
      const write: QueuedWrite = { op: "create", ref, task, at: new Date().toISOString() };
      state.pending.push(write);
      shown = { ...taskOfCreate(write), waiting: true };
    });
    return shown!;
  }

  /** Records an update of `task` as shown (its version is the one the user saw). */
  update(task: Task, changes: TaskChanges): Promise<void> {
    return this.record({ op: "update", ...this.aim(task), task: changes });
  }

  /** Records marking `task` completed or not. */
  complete(task: Task, completed: boolean): Promise<void> {
    return this.record({ op: "complete", ...this.aim(task), completed });
  }

  /**
   * Records a delete. A task created on this device whose create has not
   * been sent yet is simply dropped from the queue, with its other writes:
   * the service never hears of it.
   */
  async remove(task: Task): Promise<void> {
    if (isLocalTask(task)) {
      const ref = refOfLocalId(task.id);
      let dropped = false;
      await this.change((state) => {
        if (!state.pending.some((w) => w.op === "create" && w.ref === ref)) return;
        state.pending = state.pending.filter((w) => !namesRef(w, ref));
        dropped = true;
      });
      if (dropped) return;
    }
    return this.record({ op: "delete", ...this.aim(task) });
  }

  /**
   * The tasks as the user should see them: `tasks` (from the service) with
   * the writes not yet answered applied over them, each touched one marked
   * `waiting`; tasks created here come first, deleted ones are left out.
   */
  applyPending(tasks: Task[]): ShownTask[] {
    const writes = [...(this.current.inflight?.writes ?? []), ...this.current.pending];
    const shown = new Map<number, ShownTask>(tasks.map((task) => [task.id, { ...task, waiting: false }]));
    const created: number[] = [];
    for (const write of writes) {
      if (write.op === "create") {
        const task = taskOfCreate(write);
        shown.set(task.id, { ...task, waiting: true });
        created.unshift(task.id);
        continue;
      }
      const ids = [localIdOf(write.target), idOf(write.target, this.current.refs)];
      for (const id of ids) {
        const task = id === undefined ? undefined : shown.get(id);
        if (task === undefined || id === undefined) continue;
        if (write.op === "delete") shown.delete(id);
        else shown.set(id, { ...applyWrite(task, write), waiting: true });
      }
    }
    const fresh = created.flatMap((id) => shown.get(id) ?? []);
    return [...fresh, ...tasks.flatMap((task) => shown.get(task.id) ?? [])];
  }

  /**
   * Sends everything the queue holds, batch by batch, then catches up
   * through the change feed (unless `catchUp` is false). Throws when the
   * service cannot be reached or asks to wait (429, 503): what was frozen
   * stays frozen, and the next call sends it again, same key, same body.
   * A call while one runs waits for it, then sends what came meanwhile.
   */
  flush(options: { catchUp?: boolean } = {}): Promise<FlushReport> {
    if (!this.flushing) return this.startFlush(options);
    // One is running and may have read the queue already: one more follows
    // it, shared by every caller meanwhile.
    this.nextFlush ??= this.flushing
      .catch(() => undefined)
      .then(() => {
        this.nextFlush = null;
        return this.startFlush(options);
      });
    return this.nextFlush;
  }

  /**
   * Resolves a conflict with this device's change: sent again over the
   * service's current version (by the next flush). When the task was
   * deleted elsewhere, an update or completion creates it again as this
   * device had it; a delete has nothing left to do.
   */
  async keepMine(conflictId: string): Promise<void> {
    await this.change((state) => {
      const conflict = takeConflict(state, conflictId);
      if (conflict.theirs === undefined) throw new Error("the service's version has not been read yet: flush again first");
      if (conflict.theirs) {
        state.pending.push({ ...conflict.write, target: { id: conflict.taskId }, base: conflict.theirs, expected: conflict.theirs.version });
      } else if (conflict.write.op !== "delete" && conflict.mine) {
        state.pending.push({ op: "create", ref: `t${state.next++}`, task: createBodyOf(conflict.mine), at: new Date().toISOString() });
      }
    });
  }

  /** Resolves a conflict with the service's version: this device's change is dropped. */
  async keepTheirs(conflictId: string): Promise<void> {
    await this.change((state) => void takeConflict(state, conflictId));
  }

  /** Forgets a failure once the user has seen it. */
  async dismissFailure(failureId: string): Promise<void> {
    await this.change((state) => {
      state.failures = state.failures.filter((f) => f.id !== failureId);
    });
  }

  // --- recording ---

  /** The target, base and expected version of a write of `task` as shown. */
  private aim(task: Task): { target: WriteTarget; base: Task; expected?: number } {
    const base = withoutWaiting(task);
    if (isLocalTask(task)) return { target: { ref: refOfLocalId(task.id) }, base };
    return { target: { id: task.id }, base, expected: task.version };
  }

  private async record(write: TaskWrite): Promise<void> {
    await this.change((state) => void state.pending.push(write));
  }

  // --- flushing ---

  private startFlush(options: { catchUp?: boolean }): Promise<FlushReport> {
    this.flushing = this.lock("flush", () => this.flushAll(options.catchUp ?? true)).finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async flushAll(catchUp: boolean): Promise<FlushReport> {
    const report: FlushReport = { batches: 0, applied: [], conflicts: [], failures: [], changes: null };
    for (;;) {
      const batch = await this.nextBatch(report);
      if (!batch) break;
      let results: BatchResult[];
      try {
        results = await this.send(batch);
      } catch (error) {
        if (!(error instanceof LiveHttpError) || retriable(error.status)) throw error;
        results = batch.writes.map(() => ({ status: error.status, ...(error.problem ? { problem: error.problem } : {}) }));
      }
      await this.settle(batch, results, report);
      report.batches++;
    }
    await this.readTheirs();
    if (catchUp) report.changes = await this.catchUp();
    return report;
  }

  /**
   * The batch to send: the one frozen earlier if its answer never came, else
   * the next writes, frozen now (body and key stored with them) before
   * anything is sent.
   */
  private async nextBatch(report: FlushReport): Promise<FrozenBatch | null> {
    let batch: FrozenBatch | null = null;
    await this.change((state) => {
      if (!state.inflight) state.inflight = freeze(state, this.maxOperations, report);
      batch = state.inflight;
    });
    return batch;
  }

  /** Posts a frozen batch; the results, one per operation. Throws when it must be sent again later. */
  private async send(batch: FrozenBatch): Promise<BatchResult[]> {
    const { connection } = this.options;
    const post = async (refresh: boolean) =>
      (connection.fetch ?? fetch)(endpoint(connection.baseUrl, "api/batch"), {
        method: "POST",
        headers: {
          Authorization: `Bearer ${await connection.getToken({ refresh })}`,
          "Content-Type": "application/json",
          "Idempotency-Key": batch.key,
        },
        body: batch.body,
        // A request that hangs would hold the flush (and its lock) forever.
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    let response = await post(false);
    if (response.status === 401) {
      await response.arrayBuffer(); // read to the end: the connection is reused
      response = await post(true);
    }
    if (response.ok) return ((await response.json()) as components["schemas"]["BatchResults"]).results;
    throw await refusal(response);
  }

  /**
   * Reads the answer: refs become ids, 412s and 404s become conflicts, other
   * refusals failures; the batch is done and the queue's later writes of
   * the same tasks follow on from the versions the service answered. One
   * store write, so the answer is taken in whole or not at all.
   */
  private async settle(batch: FrozenBatch, results: BatchResult[], report: FlushReport): Promise<void> {
    await this.change((state) => {
      if (state.inflight?.key !== batch.key) return; // another tab settled it first
      batch.writes.forEach((write, i) => {
        const result = results[i] ?? { status: 500 }; // an answer too short: not to be trusted as applied
        settleOne(state, write, result, report);
      });
      state.inflight = null;
      for (const conflict of state.conflicts) absorbLaterWrites(state, conflict);
    });
  }

  /** Reads the service's version of every conflict that lacks it (a GET each). */
  private async readTheirs(): Promise<void> {
    for (const conflict of this.current.conflicts.filter((c) => c.theirs === undefined)) {
      const theirs = await this.fetchTask(conflict.taskId);
      if (theirs === undefined) continue;
      await this.change((state) => {
        const open = state.conflicts.find((c) => c.id === conflict.id);
        if (open) open.theirs = theirs;
      });
    }
  }

  /** The task as the service has it; null when it is gone; undefined when the service did not say. */
  private async fetchTask(id: number): Promise<Task | null | undefined> {
    const { connection } = this.options;
    try {
      const token = await connection.getToken({ refresh: false });
      const response = await (connection.fetch ?? fetch)(endpoint(connection.baseUrl, `api/tasks/${id}`), {
        headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
      });
      if (response.status === 404) return null;
      if (!response.ok) return void (await response.arrayBuffer());
      return (await response.json()) as Task;
    } catch {
      return undefined; // the network again: the next flush asks again
    }
  }

  /** Every change after the queue's cursor (all current tasks without one), and the cursor moves on. */
  private async catchUp(): Promise<ChangeSet> {
    const { connection } = this.options;
    const live: LiveConnection = {
      baseUrl: connection.baseUrl,
      fetch: connection.fetch,
      getToken: () => connection.getToken({ refresh: false }),
    };
    let changes: ChangeSet;
    try {
      changes = await loadChanges(live, this.followFrom === null ? {} : { since: this.followFrom });
    } catch (error) {
      if (!(error instanceof CursorExpiredError)) throw error;
      changes = await loadChanges(live); // too old: start from the current tasks
    }
    this.followFrom = changes.cursor;
    return changes;
  }

  // --- state ---

  /** Reads, changes and writes the state, one change at a time across tabs; listeners hear of it. */
  private async change(fn: (state: OfflineState) => void): Promise<void> {
    await this.load();
    await this.lock("state", async () => {
      const state = (await this.store.read()) ?? emptyState();
      fn(state);
      await this.store.write(state);
      this.current = state;
    });
    this.emit();
  }

  /** Reads the stored state afresh, in turn with changes, so an older read never lands after a newer write. */
  private async reload(): Promise<void> {
    await this.lock("state", async () => {
      this.current = (await this.store.read()) ?? emptyState();
    });
    this.emit();
  }

  private emit(): void {
    for (const listener of this.listeners) listener();
  }

  /** The store's lock shared with other tabs, or one within this page. */
  private lock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    if (this.store.lock) return this.store.lock(name, fn);
    const run = (this.locks.get(name) ?? Promise.resolve()).then(fn, fn);
    this.locks.set(name, run.catch(() => undefined));
    return run;
  }
}

/** One result of `POST /api/batch`: `{status, task}` or `{status, problem}`. */
type BatchResult = components["schemas"]["OperationResult"];

/**
 * Freezes the next batch out of the pending writes: names refs the service
 * already answered by their ids, merges the writes of each existing task
 * into one (so each is checked against the version the user saw, and a
 * refused first write can never let a second one through), and takes as
 * many as fit in one request. The rest stays pending.
 */
function freeze(state: OfflineState, maxOperations: number, report: FlushReport): FrozenBatch | null {
  const ready: QueuedWrite[] = [];
  for (const write of state.pending) {
    const resolved = resolveRef(write, state.refs);
    if (resolved) ready.push(resolved);
    else fail(state, report, write, 424, null); // its create failed in an earlier batch
  }
  const merged = mergeWritesOfEachTask(ready);
  const operations: string[] = [];
  let bytes = 64;
  for (const write of merged) {
    const text = JSON.stringify(operationOf(write));
    const size = new TextEncoder().encode(text).length + 1;
    if (operations.length === maxOperations || (operations.length > 0 && bytes + size > MAX_BATCH_BYTES)) break;
    operations.push(text);
    bytes += size;
  }
  state.pending = merged.slice(operations.length);
  if (operations.length === 0) return null;
  return {
    key: newKey(),
    body: `{"atomic":false,"operations":[${operations.join(",")}]}`,
    writes: merged.slice(0, operations.length),
  };
}

/**
 * A write naming a ref whose create was answered in an earlier batch, made
 * to name the id instead, checked against the version last answered; null
 * when that create failed. Other writes are returned as they are.
 */
function resolveRef(write: QueuedWrite, refs: OfflineState["refs"]): QueuedWrite | null {
  if (write.op === "create" || !("ref" in write.target)) return write;
  const answered = refs[write.target.ref];
  if (answered === undefined) return write; // created in this batch: sent with the ref
  if (answered === null) return null;
  return { ...write, target: { id: answered.id }, expected: write.expected ?? answered.version };
}

/** Merges each existing task's writes into its first, in place of it. Writes naming refs stay as they are. */
function mergeWritesOfEachTask(writes: QueuedWrite[]): QueuedWrite[] {
  const merged: QueuedWrite[] = [];
  const firstOf = new Map<number, number>();
  for (const write of writes) {
    const id = write.op === "create" || !("id" in write.target) ? undefined : write.target.id;
    const at = id === undefined ? undefined : firstOf.get(id);
    if (at === undefined) {
      if (id !== undefined) firstOf.set(id, merged.length);
      merged.push(write);
    } else {
      merged[at] = mergeWrites(merged[at] as TaskWrite, write as TaskWrite);
    }
  }
  return merged;
}

/**
 * Two writes of one task as one, keeping the first's base and expected
 * version: updates merge field by field, a completion becomes the update's
 * `completed`, and a delete wins.
 */
function mergeWrites(first: TaskWrite, then: TaskWrite): TaskWrite {
  const { target, base, expected } = first;
  const keep = expected === undefined ? { target, base } : { target, base, expected };
  if (first.op === "delete") return first;
  if (then.op === "delete") return { op: "delete", ...keep };
  if (first.op === "complete" && then.op === "complete") return { op: "complete", ...keep, completed: then.completed };
  return { op: "update", ...keep, task: { ...changesOf(first), ...changesOf(then) } };
}

function changesOf(write: Exclude<TaskWrite, { op: "delete" }>): TaskChanges {
  return write.op === "update" ? write.task : { completed: write.completed };
}

/**
 * The batch operation for a write, as the contract spells it. (Not typed as
 * the generated `BatchOperation`: its "`id` or `ref`" comes out of the
 * generator as a type no object can meet.)
 */
function operationOf(write: QueuedWrite): Record<string, unknown> {
  if (write.op === "create") return { op: "create", ref: write.ref, task: write.task };
  const names = { ...write.target, ...(write.expected === undefined ? {} : { if_match: `"${write.expected}"` }) };
  switch (write.op) {
    case "update":
      return { op: "update", ...names, task: write.task };
    case "complete":
      return { op: "complete", ...names, completed: write.completed };
    case "delete":
      return { op: "delete", ...names };
  }
}

function settleOne(state: OfflineState, write: QueuedWrite, result: BatchResult, report: FlushReport): void {
  const ok = result.status >= 200 && result.status < 300;
  if (write.op === "create") {
    if (ok && result.task) {
      state.refs[write.ref] = { id: result.task.id, version: result.task.version };
      report.applied.push({ write, status: result.status, task: result.task });
    } else {
      state.refs[write.ref] = null; // later writes of it fail with 424
      fail(state, report, write, result.status, result.problem ?? null);
    }
    return;
  }
  const id = idOf(write.target, state.refs);
  if (ok || (result.status === 404 && write.op === "delete")) {
    // A delete of a task already gone elsewhere did what the user wanted.
    if (id !== undefined && result.task) followOn(state, id, write.expected, result.task);
    report.applied.push({ write, status: result.status, ...(result.task ? { task: result.task } : {}) });
  } else if ((result.status === 412 || result.status === 404) && id !== undefined) {
    const conflict: SyncConflict = {
      id: `c${state.next++}`,
      taskId: id,
      status: result.status,
      write,
      mine: write.op === "delete" ? null : applyWrite(write.base, write),
    };
    state.conflicts.push(conflict);
    report.conflicts.push(conflict);
  } else {
    fail(state, report, write, result.status, result.problem ?? null);
  }
}

/**
 * A write of task `id` (expected at version `expected`) applied: the
 * queue's later writes of it that started from the same version now start
 * from the version answered, and a ref naming it learns that version.
 */
function followOn(state: OfflineState, id: number, expected: number | undefined, task: Task): void {
  for (const entry of Object.values(state.refs)) {
    if (entry?.id === id) entry.version = task.version;
  }
  state.pending = state.pending.map((later) =>
    later.op !== "create" && "id" in later.target && later.target.id === id && later.expected === expected
      ? { ...later, base: task, expected: task.version }
      : later,
  );
}

/** The writes still queued for a conflicted task join the conflict: they started from the same refused version. */
function absorbLaterWrites(state: OfflineState, conflict: SyncConflict): void {
  const later = state.pending.filter(
    (w): w is TaskWrite => w.op !== "create" && idOf(w.target, state.refs) === conflict.taskId,
  );
  if (later.length === 0) return;
  state.pending = state.pending.filter((w) => !later.includes(w as TaskWrite));
  conflict.write = later.reduce(mergeWrites, conflict.write);
  conflict.mine = conflict.write.op === "delete" ? null : applyWrite(conflict.write.base, conflict.write);
}

function fail(state: OfflineState, report: FlushReport, write: QueuedWrite, status: number, problem: Problem | null): void {
  const failure: SyncFailure = { id: `f${state.next++}`, write, status, problem };
  state.failures.push(failure);
  report.failures.push(failure);
}

function takeConflict(state: OfflineState, conflictId: string): SyncConflict {
  const conflict = state.conflicts.find((c) => c.id === conflictId);
  if (!conflict) throw new Error(`no open conflict ${conflictId}`);
  state.conflicts = state.conflicts.filter((c) => c !== conflict);
  return conflict;
}

/** The service's id for a target, when it has one yet. */
function idOf(target: WriteTarget, refs: OfflineState["refs"]): number | undefined {
  if ("id" in target) return target.id;
  return refs[target.ref]?.id;
}

/** The local id a target is shown with, for a task created on this device. */
function localIdOf(target: WriteTarget): number | undefined {
  return "ref" in target ? localIdOfRef(target.ref) : undefined;
}

function namesRef(write: QueuedWrite, ref: string): boolean {
  return write.op === "create" ? write.ref === ref : "ref" in write.target && write.target.ref === ref;
}

/** The task a write would leave, as far as this device can tell (the service trims, sorts tags, computes `due_at`). */
function applyWrite(task: Task, write: Exclude<TaskWrite, { op: "delete" }>): Task {
  const changes = changesOf(write);
  const fields = changes as Partial<Task>;
  return { ...task, ...fields, ...(fields.title === undefined ? {} : { title: fields.title.trim() }) };
}

/** A task created offline, as shown until the service has it. */
function taskOfCreate(write: Extract<QueuedWrite, { op: "create" }>): Task {
  const { task } = write;
  return {
    id: localIdOfRef(write.ref),
    user_id: "",
    title: task.title.trim(),
    description: task.description ?? null,
    completed: task.completed ?? false,
    created_at: write.at,
    updated_at: write.at,
    version: 0,
    priority: task.priority ?? "none",
    tags: task.tags ?? [],
    due_date: task.due_date ?? null,
    due_time: task.due_time ?? null,
    time_zone: task.time_zone ?? "UTC",
    due_at: null,
    recurrence: task.recurrence ?? null,
    reminders: [...(task.reminders ?? [])].sort((a, b) => a - b),
    completed_at: task.completed ? write.at : null,
  };
}

/** The create body that brings a task back as this device had it. */
function createBodyOf(task: Task): NewTask {
  const { title, description, completed, priority, tags, due_date, due_time, time_zone, recurrence, reminders } = task;
  return { title, description, completed, priority, tags, due_date, due_time, time_zone, recurrence, reminders };
}

/** A task as shown, without the queue's marker: what a write's base records. */
function withoutWaiting(task: Task | ShownTask): Task {
  const { waiting: _waiting, ...rest } = task as ShownTask;
  return rest;
}

/**
 * A fresh Idempotency-Key: 128 random bits. `getRandomValues` rather than
 * `randomUUID`, which browsers offer only on https and localhost.
 */
function newKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `offline-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

function endpoint(baseUrl: string, path: string): string {
  return new URL(path, baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`).toString();
}

/**
 * Whether sending the same batch again may work: the network, a 401 (a
 * token refreshed meanwhile), 408, 409 (the first request with the key
 * still running), 429 and 5xx. Any other refusal of the whole batch fails
 * each of its writes.
 */
function retriable(status: number): boolean {
  return status === 401 || status === 408 || status === 409 || status === 429 || status >= 500;
}

