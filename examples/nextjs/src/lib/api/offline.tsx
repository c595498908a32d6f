"use client";
// Offline-first writes for the app, on the typed client's OfflineQueue
// (clients/typescript/src/offline.ts). While the browser is offline, or
// while earlier writes still wait (so the order of writes is kept), every
// write goes to the queue, kept in IndexedDB per user, and shows at once,
// marked as waiting. When the browser is online again, the queue is sent as
// one batch, retried with backoff until it is answered (the same key and
// body each time, so nothing applies twice), and the lists catch up through
// the change feed. Conflicts wait in the queue's state for the user.
import { useQueryClient, type QueryClient } from "@tanstack/react-query";
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
  type ReactNode,
} from "react";
import {
  indexedDbStore,
  isLocalTask,
  memoryStore,
  OfflineQueue,
  type ChangeSet,
  type OfflineState,
  type Task,
} from "todo-api-client";

import { useApiUrl } from "@/app/providers";

import { currentToken, refreshToken } from "./token";
import { listKey, tagsKey, type TaskPage } from "./use-tasks";

type Offline = {
  queue: OfflineQueue;
  state: OfflineState;
  online: boolean;
  /** The last flush failed (the network, the service busy): it is retried by itself. */
  retrying: boolean;
  /** Whether a write of `task` goes to the queue rather than straight to the service. */
  queues(task?: Task): boolean;
  /** Sends what waits, now, if the browser is online. */
  sync(): void;
};

const OfflineContext = createContext<Offline | null>(null);

export function useOffline(): Offline {
  const offline = useContext(OfflineContext);
  if (!offline) throw new Error("useOffline outside <OfflineProvider>");
  return offline;
}

/** The queue of the signed-in user (`userId`): one IndexedDB database each. */
export function OfflineProvider({ userId, children }: { userId: string; children: ReactNode }) {
  const apiUrl = useApiUrl();
  const queryClient = useQueryClient();
  const [queue] = useState(
    () =>
      new OfflineQueue({
        connection: { baseUrl: apiUrl, getToken: ({ refresh }) => (refresh ? refreshToken() : currentToken()) },
        store: typeof indexedDB === "undefined" ? memoryStore() : indexedDbStore(userId),
      }),
  );
  useEffect(() => () => queue.close(), [queue]);
  const state = useSyncExternalStore(
    (listener) => queue.subscribe(listener),
    () => queue.state,
    () => queue.state,
  );
  const online = useOnline();
  const { retrying, sync } = useSyncLoop(queue, online, queryClient);

  const queues = useCallback(
    (task?: Task) => !navigator.onLine || queue.waiting > 0 || (task !== undefined && isLocalTask(task)),
    [queue],
  );
  const value = useMemo(() => ({ queue, state, online, retrying, queues, sync }), [queue, state, online, retrying, queues, sync]);
  return <OfflineContext.Provider value={value}>{children}</OfflineContext.Provider>;
}

/** `navigator.onLine`, kept current by the `online` and `offline` events. */
function useOnline(): boolean {
  return useSyncExternalStore(
    (listener) => {
      window.addEventListener("online", listener);
      window.addEventListener("offline", listener);
      return () => {
        window.removeEventListener("online", listener);
        window.removeEventListener("offline", listener);
      };
    },
    () => navigator.onLine,
    () => true,
  );
}

/**
 * Flushes the queue whenever the browser is online and something waits: at
 * start (what an earlier page left), on coming back online, and when asked
 * after a write. A flush that fails is tried again after 1, 2, 4… seconds
 * (at most 10); the queue re-sends the frozen batch as it is.
 */
function useSyncLoop(queue: OfflineQueue, online: boolean, queryClient: QueryClient) {
  const [retrying, setRetrying] = useState(false);
  const run = useRef<() => void>(() => undefined);

  useEffect(() => {
    if (!online) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let failures = 0;
    const flush = async () => {
      clearTimeout(timer);
      await queue.load();
      const unread = queue.state.conflicts.some((c) => c.theirs === undefined);
      if (stopped || (queue.waiting === 0 && !unread)) return;
      try {
        // Catch up from the event stream's cursor; without one the lists
        // are simply fetched again.
        const report = await queue.flush({ catchUp: queue.cursor !== null });
        failures = 0;
        setRetrying(false);
        if (report.changes) patchLists(queryClient, report.changes);
        void queryClient.invalidateQueries({ queryKey: listKey });
        void queryClient.invalidateQueries({ queryKey: tagsKey });
      } catch (error) {
        if (stopped) return;
        console.warn("sending the waiting changes failed; retrying:", error);
        setRetrying(true);
        timer = setTimeout(() => void flush(), Math.min(10_000, 1_000 * 2 ** failures++));
      }
    };
    run.current = () => void flush();
    void flush();
    return () => {
      stopped = true;
      clearTimeout(timer);
      run.current = () => undefined;
    };
  }, [queue, online, queryClient]);

  return { retrying: online && retrying, sync: useCallback(() => run.current(), []) };
}

/**
 * The changes the catch-up read, patched into every cached page before the
 * lists are fetched again. Its reminders are left alone: the event stream
 * brings the same ones, and the user hears of each from there.
 */
function patchLists(queryClient: QueryClient, changes: ChangeSet) {
  const latest = new Map(changes.tasks.map((task) => [task.id, task]));
  const deleted = new Set(changes.deleted.map((gone) => gone.id));
  queryClient.setQueriesData<TaskPage>({ queryKey: listKey }, (page) => {
    if (!page) return page;
    const tasks = page.tasks
      .filter((task) => !deleted.has(task.id))
      .map((task) => {
        const newer = latest.get(task.id);
        return newer && newer.version >= task.version ? newer : task;
      });
    return { tasks, total: Math.max(0, page.total - (page.tasks.length - tasks.length)) };
  });
}
