// Live sync: the change feed (`GET /api/tasks/changes`) and the event stream
// (`GET /api/events`), typed from openapi.json. The stream is read with
// `fetch`, not the browser's EventSource, which cannot send a bearer token.
// Besides task changes, both carry reminders: a task's reminder whose time
// came. A reminder is news for the user, never a change of the task.
import type { components, paths } from "./generated/schema.js";

type Task = components["schemas"]["Task"];
type Problem = components["schemas"]["Problem"];
/** The body of a response, whatever its exact media type. */
type BodyOf<R> = R extends { content: infer C } ? C[keyof C] : never;

/** One page of the change feed. */
export type ChangesPage = BodyOf<paths["/api/tasks/changes"]["get"]["responses"][200]>;
/** A deleted task: `{ id, deleted_at }`. */
export type DeletedTask = ChangesPage["deleted"][number];
/**
 * A reminder whose time came: `{ task_id, title, due_at, remind_at, late }`,
 * the data of a `reminder` event and an entry of the feed's `reminders`.
 * `late` is true when it was recorded more than a minute after `remind_at`
 * (no instance of the service ran then).
 */
export type Reminder = ChangesPage["reminders"][number];

/** Where the service is and how to call it. */
export interface LiveConnection {
  /** The service's origin, e.g. `https://api.example.com`. */
  baseUrl: string;
  /**
   * A bearer token, asked before every request: the first connection, then
   * each reconnection (`reconnect: true`), which must get a token that is
   * still valid, since the service closes the stream when its token expires
   * and answers 401 to an expired one.
   */
  getToken: (context: { reconnect: boolean }) => string | Promise<string>;
  /** The `fetch` to use; the global one by default. */
  fetch?: typeof fetch;
}

/** A call the service refused: its status and problem document. */
export class LiveHttpError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | null,
    readonly retryAfterMs: number | null = null,
  ) {
    super(`${status}: ${problem?.detail ?? problem?.title ?? "request failed"}`);
  }
}

/** A 410: the cursor expired or was never issued. Drop the copy and reload from scratch. */
export class CursorExpiredError extends LiveHttpError {}

/** A refused call as an error: its status, its problem document and its `Retry-After`. */
export async function refusal(response: Response): Promise<LiveHttpError> {
  const text = await response.text(); // read to the end: the connection is reused, not aborted
  let problem: Problem | null = null;
  try {
    problem = text ? (JSON.parse(text) as Problem) : null;
  } catch {
    problem = null;
  }
  const seconds = Number(response.headers.get("Retry-After"));
  const retryAfterMs = response.headers.has("Retry-After") && Number.isFinite(seconds) ? seconds * 1000 : null;
  if (response.status === 410) return new CursorExpiredError(410, problem, retryAfterMs);
  return new LiveHttpError(response.status, problem, retryAfterMs);
}

function url(baseUrl: string, path: string, query: Record<string, string | number | undefined>): string {
  const target = new URL(path, baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`);
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined) target.searchParams.set(name, String(value));
  }
  return target.toString();
}

/**
 * One page of the caller's changes after `since`; without it, the caller's
 * current tasks. Throws `CursorExpiredError` on 410, `LiveHttpError` on any
 * other refusal.
 */
export async function fetchChanges(
  connection: LiveConnection,
  options: { since?: string; limit?: number; signal?: AbortSignal; reconnect?: boolean } = {},
): Promise<ChangesPage> {
  const token = await connection.getToken({ reconnect: options.reconnect ?? false });
  const response = await (connection.fetch ?? fetch)(
    url(connection.baseUrl, "api/tasks/changes", { since: options.since, limit: options.limit }),
    { headers: { Authorization: `Bearer ${token}`, Accept: "application/json" }, signal: options.signal },
  );
  if (!response.ok) throw await refusal(response);
  return (await response.json()) as ChangesPage;
}

/** Every change after a cursor (or every current task), all pages merged. */
export interface ChangeSet {
  /** Each changed task once, in its latest state, oldest change first. */
  tasks: Task[];
  /** The tasks deleted since the cursor (none without one). */
  deleted: DeletedTask[];
  /** The reminders recorded since the cursor, oldest first (none in a snapshot's first page). */
  reminders: Reminder[];
  /** Where to follow on from: `since` of the next call, or `Last-Event-ID` of the stream. */
  cursor: string;
}

/** Reads the change feed page by page while `has_more`, merging the pages. */
export async function loadChanges(
  connection: LiveConnection,
  options: { since?: string; limit?: number; signal?: AbortSignal; reconnect?: boolean } = {},
): Promise<ChangeSet> {
  const tasks = new Map<number, Task>();
  const deleted = new Map<number, DeletedTask>();
  const reminders: Reminder[] = [];
  let since = options.since;
  let reconnect = options.reconnect ?? false;
  for (;;) {
    const page = await fetchChanges(connection, { ...options, since, reconnect });
    reconnect = true;
    for (const task of page.tasks) {
      tasks.delete(task.id); // a later page's version moves it to the end
      tasks.set(task.id, task);
    }
    for (const gone of page.deleted) {
      tasks.delete(gone.id);
      deleted.set(gone.id, gone);
    }
    // Each one is news of its own: kept apart from the tasks, in order, none merged.
    reminders.push(...(page.reminders ?? [])); // `??`: a service from before reminders
    since = page.cursor;
    if (!page.has_more) {
      return { tasks: [...tasks.values()], deleted: [...deleted.values()], reminders, cursor: page.cursor };
    }
  }
}

/** One message of a text/event-stream: `data` is null for a message without data (an id-only one). */
export interface EventStreamMessage {
  event: string;
  data: string | null;
  /** The last event id after this message: the stream's cursor. */
  id: string;
}

/**
 * An incremental text/event-stream parser (the WHATWG rules): lines end in
 * CRLF, LF or CR, even split across chunks; `:` lines are comments
 * (keep-alives); a blank line ends a message; `id` persists from message to
 * message; a message cut off by the end of the stream is dropped.
 */
export class EventStreamParser {
  /** The reconnection time the server asked for with `retry:`, if any. */
  retryMs: number | null = null;
  private partial = "";
  private skipLineFeed = false;
  private lastId = "";
  private event = "";
  private data: string[] = [];
  private fields = false;

  /** Feeds decoded text; returns the messages it completed. */
  push(chunk: string): EventStreamMessage[] {
    const messages: EventStreamMessage[] = [];
    let start = 0;
    if (this.skipLineFeed && chunk.length > 0) {
      if (chunk.charCodeAt(0) === 10) start = 1;
      this.skipLineFeed = false;
    }
    for (let i = start; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const line = this.partial + chunk.slice(start, i);
      this.partial = "";
      this.line(line, messages);
      if (c === 13) {
        if (i + 1 < chunk.length) {
          if (chunk.charCodeAt(i + 1) === 10) i++;
        } else {
          this.skipLineFeed = true;
        }
      }
      start = i + 1;
    }
    this.partial += chunk.slice(start);
    return messages;
  }

  private line(line: string, messages: EventStreamMessage[]): void {
    if (line === "") {
      if (this.fields) {
        messages.push({ event: this.event || "message", data: this.data.length ? this.data.join("\n") : null, id: this.lastId });
      }
      this.event = "";
      this.data = [];
      this.fields = false;
      return;
    }
    if (line.startsWith(":")) return; // a comment: keep-alive
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.event = value;
        break;
      case "data":
        this.data.push(value);
        break;
      case "id":
        if (value.includes("\0")) return;
        this.lastId = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        return;
      default:
        return; // unknown fields are ignored
    }
    this.fields = true;
  }
}

type Awaitable<T> = T | Promise<T>;

export interface WatchOptions extends LiveConnection {
  /** Resume after this cursor (one an earlier watch or the change feed handed out). */
  since?: string;
  /**
   * Without a cursor (at the start, and after a reset), first load the
   * caller's current tasks from the change feed (`onSnapshot`), then follow
   * from its cursor. Otherwise the stream starts at "now" and `onOpen` tells
   * when: reload what you show then.
   */
  snapshot?: boolean;
  /** Stops watching: the returned promise then resolves. */
  signal?: AbortSignal;
  /** All of the caller's tasks as they are at `cursor`: replace your copy. */
  onSnapshot?(tasks: Task[], cursor: string): Awaitable<void>;
  /** A task was created or changed: its latest state. */
  onUpsert?(task: Task, cursor: string): Awaitable<void>;
  /** A task was deleted. */
  onDelete?(deleted: DeletedTask, cursor: string): Awaitable<void>;
  /**
   * A reminder's time came: tell the user (a notification, say). It comes
   * from the stream, or from the change feed when a snapshot was loaded
   * across several pages; either way once per cursor, so resuming repeats
   * none. It changes no task: `onUpsert` brings task changes.
   */
  onReminder?(reminder: Reminder, cursor: string): Awaitable<void>;
  /**
   * The stream is live. `resumed` is false when it started at "now" rather
   * than after a known cursor (and no snapshot was loaded): changes made
   * before `cursor` are not in it, so reload what you show.
   */
  onOpen?(info: { cursor: string; resumed: boolean }): Awaitable<void>;
  /**
   * A 410: the cursor expired or was never issued. Drop your copy; watching
   * starts again from scratch (a snapshot, or the stream at "now").
   */
  onReset?(): Awaitable<void>;
  /** A connection failed or ended; the next attempt comes after `delayMs`. */
  onRetry?(info: { error: unknown; attempt: number; delayMs: number }): void;
  /** Backoff between failed attempts: from `initialMs` (or the server's `retry:`), doubling up to `maxMs`. */
  retry?: { initialMs?: number; maxMs?: number };
  /**
   * With nothing received for this long (not even the keep-alive comment
   * sent every 15 s), the connection is taken for dead and reopened.
   */
  idleTimeoutMs?: number;
}

function isAbort(error: unknown, signal: AbortSignal | undefined): boolean {
  return Boolean(signal?.aborted) || (error instanceof Error && error.name === "AbortError");
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Follows the caller's task changes until `signal` aborts, reconnecting with
 * backoff and resuming after the last id seen (`Last-Event-ID`), with a token
 * asked of `getToken` on every connection. Resolves when stopped; rejects
 * when a callback throws or the service refuses in a way a retry cannot fix
 * (a 4xx other than 401, 408, 410 and 429).
 */
export async function watchTasks(options: WatchOptions): Promise<void> {
  const { signal } = options;
  const doFetch = options.fetch ?? fetch;
  const maxMs = options.retry?.maxMs ?? 30_000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 45_000;
  let cursor: string | null = options.since ?? null;
  let failures = 0;
  let connections = 0;
  let retryMs: number | null = null;

  const backoff = async (error: unknown, minimumMs = 0) => {
    failures++;
    const base = retryMs ?? options.retry?.initialMs ?? 500;
    const exponential = Math.min(maxMs, base * 2 ** (failures - 1));
    const delayMs = Math.max(minimumMs, Math.round(exponential * (0.5 + Math.random() / 2)));
    options.onRetry?.({ error, attempt: failures, delayMs });
    await sleep(delayMs, signal);
  };

  while (!signal?.aborted) {
    const reconnect = connections++ > 0;
    try {
      let resumed = cursor !== null;
      if (cursor === null && options.snapshot) {
        const snapshot = await loadChanges(options, { signal, reconnect });
        await callback(options.onSnapshot?.bind(options), snapshot.tasks, snapshot.cursor);
        // Those recorded while the later pages were read: delivered as the stream would.
        for (const reminder of snapshot.reminders) await callback(options.onReminder?.bind(options), reminder, snapshot.cursor);
        cursor = snapshot.cursor;
        resumed = true;
      }
      const stream = await openStream(options, doFetch, cursor, reconnect, signal);
      const started = Date.now();
      let received = false;
      if (resumed && cursor !== null) await callback(options.onOpen?.bind(options), { cursor, resumed: true });
      let opened = resumed;
      const parser = new EventStreamParser();
      for await (const chunk of readText(stream, idleTimeoutMs, signal)) {
        if (!received) {
          received = true;
          failures = 0;
        }
        for (const message of parser.push(chunk)) {
          if (!opened && message.id) {
            opened = true;
            await callback(options.onOpen?.bind(options), { cursor: message.id, resumed: false });
          }
          if (message.data !== null) await deliver(options, message);
          if (message.id) cursor = message.id;
        }
        retryMs = parser.retryMs ?? retryMs;
      }
      if (signal?.aborted) break;
      // The service ended the stream (its token expired, say): reconnect at
      // once, unless it ended before anything came.
      if (!received && Date.now() - started < 1000) await backoff(new Error("the stream ended at once"));
    } catch (error) {
      if (signal?.aborted && isAbort(error, signal)) break;
      if (error instanceof FatalError) throw error.cause;
      if (error instanceof CursorExpiredError) {
        cursor = null;
        await options.onReset?.();
        continue;
      }
      if (error instanceof LiveHttpError) {
        const retriable = error.status === 401 || error.status === 408 || error.status === 429 || error.status >= 500;
        if (!retriable) throw error;
        await backoff(error, error.retryAfterMs ?? 0);
        continue;
      }
      await backoff(error); // the network, a dead connection
    }
  }
}

/** A callback threw, or the service sent what no retry can fix: the caller's to see. */
class FatalError extends Error {}

async function callback<A extends unknown[]>(fn: ((...args: A) => Awaitable<void>) | undefined, ...args: A): Promise<void> {
  try {
    await fn?.(...args);
  } catch (error) {
    throw new FatalError("a callback failed", { cause: error });
  }
}

async function deliver(options: WatchOptions, message: EventStreamMessage): Promise<void> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message.data ?? "");
  } catch {
    throw new FatalError("bad event", { cause: new Error(`the ${message.event} event's data is not JSON`) });
  }
  if (message.event === "upsert") await callback(options.onUpsert?.bind(options), parsed as Task, message.id);
  else if (message.event === "delete") await callback(options.onDelete?.bind(options), parsed as DeletedTask, message.id);
  else if (message.event === "reminder") await callback(options.onReminder?.bind(options), parsed as Reminder, message.id);
  // other event types are left for newer clients
}

async function openStream(
  connection: LiveConnection,
  doFetch: typeof fetch,
  cursor: string | null,
  reconnect: boolean,
  signal: AbortSignal | undefined,
): Promise<ReadableStream<Uint8Array>> {
  const headers: Record<string, string> = {
    Authorization: `Bearer ${await connection.getToken({ reconnect })}`,
    Accept: "text/event-stream",
  };
  if (cursor !== null) headers["Last-Event-ID"] = cursor;
  const response = await doFetch(url(connection.baseUrl, "api/events", {}), { headers, signal });
  if (!response.ok) throw await refusal(response);
  if (!response.body) throw new Error("the event stream has no body");
  return response.body;
}

/**
 * The stream's text, chunk by chunk. Aborts the read (and so the
 * connection) when nothing arrives for `idleMs`, or when `signal` aborts.
 */
async function* readText(
  body: ReadableStream<Uint8Array>,
  idleMs: number,
  signal: AbortSignal | undefined,
): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let idle = false;
  let finished = false;
  const stop = () => void reader.cancel().catch(() => undefined);
  const onAbort = () => stop();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    for (;;) {
      clearTimeout(timer);
      timer = setTimeout(() => {
        idle = true;
        stop();
      }, idleMs);
      const { done, value } = await reader.read();
      if (idle) throw new Error(`nothing received for ${idleMs} ms`);
      if (done) {
        finished = true; // the service ended it: nothing to cancel
        return;
      }
      if (signal?.aborted) return;
      yield decoder.decode(value, { stream: true });
    }
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
    if (!finished && !signal?.aborted) stop(); // left early: close the connection
    try {
      reader.releaseLock();
    } catch {
      // already released
    }
  }
}
