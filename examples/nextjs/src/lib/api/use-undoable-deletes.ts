"use client";
// Deleting with undo: the task leaves the list at once, but the DELETE is
// sent only when the undo window closes. Undo within it and nothing was ever
// sent, so the task comes back exactly as it was (same id, same history):
// undo is not a re-create. Leaving the page while a delete waits sends it
// then, so what the user saw is what happened.
import { useCallback, useEffect, useRef, useState } from "react";
import { etagOf, type Task } from "todo-api-client";

import { useApiUrl } from "@/app/providers";

import { useOffline } from "./offline";
import { currentToken } from "./token";
import { useTaskMutations } from "./use-tasks";

export const UNDO_WINDOW_MS = 5_000;

export type PendingDelete = { task: Task; deadline: number };

export function useUndoableDeletes(onFailed: (task: Task, error: unknown) => void) {
  const apiUrl = useApiUrl();
  const offline = useOffline();
  const { remove } = useTaskMutations();
  const [pending, setPending] = useState<PendingDelete[]>([]);
  // Deleted for good: kept hidden until the refetched lists no longer hold them.
  const [gone, setGone] = useState<ReadonlySet<number>>(new Set());
  const timers = useRef(new Map<number, { task: Task; timer: ReturnType<typeof setTimeout> }>());
  const latest = useRef({ remove: remove.mutateAsync, onFailed });
  latest.current = { remove: remove.mutateAsync, onFailed };

  const send = useCallback(async (task: Task) => {
    timers.current.delete(task.id);
    setGone((set) => new Set(set).add(task.id));
    setPending((list) => list.filter((entry) => entry.task.id !== task.id));
    try {
      await latest.current.remove(task);
    } catch (error) {
      setGone((set) => {
        const next = new Set(set);
        next.delete(task.id);
        return next;
      });
      latest.current.onFailed(task, error);
    }
  }, []);

  const schedule = useCallback(
    (task: Task) => {
      if (timers.current.has(task.id)) return;
      const timer = setTimeout(() => void send(task), UNDO_WINDOW_MS);
      timers.current.set(task.id, { task, timer });
      setPending((list) => [...list, { task, deadline: Date.now() + UNDO_WINDOW_MS }]);
    },
    [send],
  );

  const undo = useCallback((id: number) => {
    const entry = timers.current.get(id);
    if (!entry) return;
    clearTimeout(entry.timer);
    timers.current.delete(id);
    setPending((list) => list.filter((p) => p.task.id !== id));
  }, []);

  // The page goes away (reload, sign-out, a closed tab) with deletes still
  // waiting: send them now, with `keepalive` so they outlive the page;
  // offline, they go to the offline queue, sent when the app is next open.
  useEffect(() => {
    const flush = () => {
      const waiting = [...timers.current.values()];
      timers.current.clear();
      for (const { timer } of waiting) clearTimeout(timer);
      const queued = waiting.filter(({ task }) => offline.queues(task));
      for (const { task } of queued) void offline.queue.remove(task);
      const direct = waiting.filter((entry) => !queued.includes(entry));
      if (direct.length === 0) return;
      void currentToken().then((token) => {
        for (const { task } of direct) {
          void fetch(`${apiUrl}/api/tasks/${task.id}`, {
            method: "DELETE",
            keepalive: true,
            headers: { Authorization: `Bearer ${token}`, "If-Match": etagOf(task) },
          }).catch(() => undefined);
        }
      });
    };
    window.addEventListener("pagehide", flush);
    return () => window.removeEventListener("pagehide", flush);
  }, [apiUrl, offline]);

  const hidden = new Set<number>(gone);
  for (const entry of pending) hidden.add(entry.task.id);
  return { pending, hidden, schedule, undo };
}
