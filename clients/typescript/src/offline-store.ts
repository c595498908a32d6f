// Where the offline queue keeps its state: IndexedDB in a browser, memory
// elsewhere, or any store that can read and replace one JSON-shaped value.
// The whole state is one value written in one step, so a crash or a closed
// tab leaves either the state before a change or the state after it, never
// half of one: the batch frozen for sending is always stored together with
// its Idempotency-Key and with the writes it took out of the queue.
import type { OfflineState } from "./offline.js";

export interface OfflineStore {
  /** The stored state, or null when nothing was stored yet. */
  read(): Promise<OfflineState | null>;
  /** Replaces the stored state in one step: all of it is stored, or none. */
  write(state: OfflineState): Promise<void>;
  /**
   * Runs `fn` holding the lock `name`, shared with every page that uses the
   * same store (other tabs). Optional: without it the queue locks within
   * this page only.
   */
  lock?<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /**
   * Calls `onChange` when another page changed the stored state, so this one
   * re-reads it. Optional. Returns a function that stops the calls.
   */
  watch?(onChange: () => void): () => void;
}

/**
 * A store in memory: for Node, tests, and as a fallback where IndexedDB is
 * missing. It keeps a copy, never the caller's object, so it behaves like a
 * real store (a change to the queue's state is stored only when written).
 * Give two queues the same store to act out a restart.
 */
export function memoryStore(initial: OfflineState | null = null): OfflineStore {
  let stored = initial === null ? null : structuredClone(initial);
  return {
    read: async () => (stored === null ? null : structuredClone(stored)),
    write: async (state) => {
      stored = structuredClone(state);
    },
  };
}

/**
 * A store in the browser's IndexedDB: one database per `name` (give each
 * signed-in user their own, so one user's writes are never sent with
 * another's token), one record holding the whole state. Tabs of the same
 * origin share it: they take turns through the Web Locks API and tell each
 * other of changes on a BroadcastChannel.
 */
export function indexedDbStore(name: string): OfflineStore {
  const database = openDatabase(`todo-offline:${name}`);
  const channelName = `todo-offline:${name}`;
  // One channel to tell and to hear: a channel never hears its own
  // messages, so a tab is not told of its own writes.
  const channel = typeof BroadcastChannel === "undefined" ? null : new BroadcastChannel(channelName);
  return {
    async read() {
      const db = await database;
      const value = await request(db.transaction("state").objectStore("state").get("state"));
      return (value as OfflineState | undefined) ?? null;
    },
    async write(state) {
      const db = await database;
      const transaction = db.transaction("state", "readwrite");
      transaction.objectStore("state").put(state, "state");
      await committed(transaction);
      channel?.postMessage("changed");
    },
    async lock<T>(lockName: string, fn: () => Promise<T>): Promise<T> {
      const locks = typeof navigator === "undefined" ? undefined : navigator.locks;
      // Without Web Locks (an old browser) each tab locks for itself only.
      if (!locks) return within(`${channelName}:${lockName}`, fn);
      return (await locks.request(`${channelName}:${lockName}`, fn)) as T;
    },
    watch(onChange) {
      const listener = () => onChange();
      channel?.addEventListener("message", listener);
      return () => channel?.removeEventListener("message", listener);
    },
  };
}

const pageLocks = new Map<string, Promise<unknown>>();

/** A lock within this page: each run waits for the one before. */
function within<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const run = (pageLocks.get(name) ?? Promise.resolve()).then(fn, fn);
  pageLocks.set(name, run.catch(() => undefined));
  return run;
}

function openDatabase(name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const opening = indexedDB.open(name, 1);
    opening.onupgradeneeded = () => opening.result.createObjectStore("state");
    opening.onsuccess = () => resolve(opening.result);
    opening.onerror = () => reject(opening.error);
    opening.onblocked = () => reject(new Error(`the offline store ${name} is blocked by another tab`));
  });
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** Resolves once the transaction is durable: only then is the write done. */
function committed(transaction: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error ?? new Error("the offline store's write was aborted"));
  });
}
