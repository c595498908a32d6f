"use client";
// Keeps the cached task lists live. The service's event stream (the typed
// client's watchTasks) tells of every change to the user's tasks, whichever tab,
// device or instance of the service made it: each cached page is patched at
// once, and the lists on screen are refetched, since only the service knows
// where a task now belongs among the filters, the sort and the pages. Each
// event's cursor is handed to the offline queue: after sending what waited,
// it catches up from there through the change feed. Reminders whose time
// came are handed to `onReminder`: they change no task.
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { watchTasks, type Reminder, type Task } from "todo-api-client";

import { useApiUrl } from "@/app/providers";

import { useOffline } from "./offline";
import { currentToken, refreshToken, SessionEndedError } from "./token";
import { listKey, tagsKey, type TaskPage } from "./use-tasks";

export type LiveState = "connecting" | "live" | "reconnecting" | "stopped" | "signed-out";

const watching = new Set<AbortController>();

/**
 * Stops this page's live updates: before signing out or deleting the
 * account, so that no stream the service ends then reconnects without a
 * session.
 */
export function stopLiveUpdates(): void {
  for (const controller of watching) controller.abort();
}

/**
 * Follows the user's changes once `enabled` (after the list first loaded),
 * telling `onReminder` of each reminder as it comes; returns the stream's state.
 */
export function useLiveTasks(enabled: boolean, onReminder?: (reminder: Reminder) => void): LiveState {
  const apiUrl = useApiUrl();
  const queryClient = useQueryClient();
  const { queue } = useOffline();
  const [state, setState] = useState<LiveState>("connecting");
  // The latest callback, without reopening the stream when it changes.
  const remind = useRef(onReminder);
  useEffect(() => {
    remind.current = onReminder;
  });

  useEffect(() => {
    if (!enabled) return;
    const controller = new AbortController();
    watching.add(controller);

    // A burst of events (a bulk delete, say) makes one refetch, not one each.
    let queued: ReturnType<typeof setTimeout> | undefined;
    const refetch = () => {
      queued ??= setTimeout(() => {
        queued = undefined;
        void queryClient.invalidateQueries({ queryKey: listKey });
        void queryClient.invalidateQueries({ queryKey: tagsKey });
      }, 50);
    };
    // The count goes down with a task patched out, so the range is right
    // before the refetch answers.
    const patch = (change: (tasks: Task[]) => Task[]) =>
      queryClient.setQueriesData<TaskPage>({ queryKey: listKey }, (page) => {
        if (!page) return page;
        const tasks = change(page.tasks);
        return { tasks, total: Math.max(0, page.total - (page.tasks.length - tasks.length)) };
      });

    watchTasks({
      baseUrl: apiUrl,
      signal: controller.signal,
      // Back within seconds of the service's return, not the default 30.
      retry: { maxMs: 8_000 },
      // The first connection uses the token in memory; a reconnection (the
      // service closes the stream when the token expires) gets a fresh one.
      getToken: async ({ reconnect }) => {
        try {
          return await (reconnect ? refreshToken() : currentToken());
        } catch (error) {
          // No session any more: reconnecting cannot help until the user signs in.
          if (error instanceof SessionEndedError) {
            setState("signed-out");
            controller.abort();
          }
          throw error;
        }
      },
      onOpen: ({ cursor, resumed }) => {
        setState("live");
        queue.setCursor(cursor);
        // Started at "now": whatever changed since the list loaded is not in the stream.
        if (!resumed) refetch();
      },
      onUpsert: (task, cursor) => {
        queue.setCursor(cursor);
        patch((tasks) => tasks.map((cached) => (cached.id === task.id && task.version >= cached.version ? task : cached)));
        refetch();
      },
      onDelete: ({ id }, cursor) => {
        queue.setCursor(cursor);
        patch((tasks) => tasks.filter((cached) => cached.id !== id));
        refetch();
      },
      onReminder: (reminder, cursor) => {
        queue.setCursor(cursor);
        remind.current?.(reminder);
      },
      // A 410: the stream starts again at "now", and onOpen reloads the lists.
      onReset: refetch,
      onRetry: () => {
        if (!controller.signal.aborted) setState("reconnecting");
      },
    }).catch((error: unknown) => {
      console.error("live updates stopped:", error);
      setState("stopped");
    });
    return () => {
      watching.delete(controller);
      controller.abort();
      clearTimeout(queued);
    };
  }, [enabled, apiUrl, queryClient, queue]);

  return state;
}
