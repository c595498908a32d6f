"use client";
import { useCallback, useRef, useState } from "react";
import type { Task } from "todo-api-client";

import { UNDO_WINDOW_MS, type PendingDelete } from "@/lib/api/use-undoable-deletes";

import { AlertIcon, BellIcon, CheckIcon, XIcon } from "./icons";

export type Notice = { id: number; text: string; tone: "success" | "error" | "reminder" };

/**
 * Short messages that go away by themselves (errors stay twice as long); a
 * reminder stays until dismissed, since the user may not be looking.
 */
export function useNotices() {
  const [list, setList] = useState<Notice[]>([]);
  const next = useRef(1);
  const dismiss = useCallback((id: number) => setList((all) => all.filter((n) => n.id !== id)), []);
  const show = useCallback(
    (text: string, tone: Notice["tone"]) => {
      const id = next.current++;
      setList((all) => [...all.slice(-2), { id, text, tone }]);
      if (tone !== "reminder") setTimeout(() => dismiss(id), tone === "error" ? 10_000 : 4_000);
    },
    [dismiss],
  );
  return { list, show, dismiss };
}

/** The toasts at the foot of the screen: deletes that can still be undone, and notices. */
export function Toasts({
  pending,
  onUndo,
  notices,
  onDismiss,
}: {
  pending: PendingDelete[];
  onUndo: (task: Task) => void;
  notices: Notice[];
  onDismiss: (id: number) => void;
}) {
  return (
    <div
      aria-live="polite"
      aria-label="Notifications"
      role="region"
      className="pointer-events-none fixed inset-x-0 bottom-0 z-30 flex flex-col items-center gap-2 p-4 sm:items-end sm:p-6"
    >
      {pending.map(({ task }) => (
        <div
          key={`delete-${task.id}`}
          data-testid="undo-toast"
          className="pointer-events-auto relative w-full max-w-sm overflow-hidden rounded-xl bg-slate-900 text-white shadow-lg"
        >
          <div className="flex items-center gap-3 px-4 py-3">
            <p className="min-w-0 flex-1 text-sm">
              Deleted <span className="font-medium break-words">“{task.title}”</span>
            </p>
            <button
              className="rounded-md px-2.5 py-1 text-sm font-semibold text-sky-300 hover:bg-white/10"
              onClick={() => onUndo(task)}
            >
              Undo
            </button>
          </div>
          <span
            aria-hidden="true"
            className="countdown absolute bottom-0 left-0 h-0.5 w-full bg-sky-400"
            style={{ animationDuration: `${UNDO_WINDOW_MS}ms` }}
          />
        </div>
      ))}
      {notices.map((notice) => (
        <div
          key={notice.id}
          role={notice.tone === "error" ? "alert" : "status"}
          data-testid="notice"
          data-tone={notice.tone}
          className={
            "pointer-events-auto flex w-full max-w-sm items-start gap-3 rounded-xl border px-4 py-3 text-sm shadow-lg " +
            {
              error: "border-red-200 bg-red-50 text-red-800",
              success: "border-slate-200 bg-white text-slate-800",
              reminder: "border-brand-100 bg-brand-50 text-slate-900",
            }[notice.tone]
          }
        >
          {notice.tone === "error" ? (
            <AlertIcon className="mt-0.5 size-4 shrink-0" />
          ) : notice.tone === "reminder" ? (
            <BellIcon className="mt-0.5 size-4 shrink-0 text-brand-600" />
          ) : (
            <CheckIcon className="mt-0.5 size-4 shrink-0 text-emerald-600" />
          )}
          <p className="min-w-0 flex-1">{notice.text}</p>
          <button className="-m-1 rounded p-1 text-slate-500 hover:text-slate-800" onClick={() => onDismiss(notice.id)}>
            <XIcon className="size-4" />
            <span className="sr-only">Dismiss</span>
          </button>
        </div>
      ))}
    </div>
  );
}
