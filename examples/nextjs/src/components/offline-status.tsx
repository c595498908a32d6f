"use client";
// What the offline queue holds, shown to the user: a banner with the count
// of changes waiting (offline, or being sent), and the changes that need a
// decision: conflicts (this device's version beside the other's, "Keep
// mine" / "Keep theirs") and writes the service refused.
import { useState } from "react";
import type { SyncConflict, SyncFailure, Task } from "todo-api-client";

import { useOffline } from "@/lib/api/offline";

import { AlertIcon, XIcon } from "./icons";

const changes = (n: number) => (n === 1 ? "1 change" : `${n} changes`);

/** Offline, or changes waiting: says so, with the count. Nothing when all is sent. */
export function SyncBanner() {
  const { state, online, retrying } = useOffline();
  const waiting = state.pending.length + (state.inflight?.writes.length ?? 0);
  if (online && waiting === 0) return null;
  const mode = !online ? "offline" : retrying ? "retrying" : "syncing";
  const count = <span data-testid="waiting-count">{changes(waiting)}</span>;
  const text = {
    offline:
      waiting === 0 ? (
        <>You&apos;re offline. Changes you make are kept here and sent when you&apos;re back online.</>
      ) : (
        <>You&apos;re offline: {count} waiting, sent when you&apos;re back online.</>
      ),
    retrying: <>Can&apos;t reach the task service: {count} waiting — retrying…</>,
    syncing: <>Sending {count}…</>,
  }[mode];
  return (
    <div
      role="status"
      data-testid="sync-banner"
      data-state={mode}
      className={
        "flex items-center gap-3 rounded-xl border px-4 py-3 text-sm " +
        (mode === "syncing" ? "border-sky-200 bg-sky-50 text-sky-900" : "border-amber-300 bg-amber-50 text-amber-900")
      }
    >
      <span aria-hidden="true" className={`size-2 shrink-0 rounded-full ${mode === "syncing" ? "bg-sky-500 animate-pulse" : "bg-amber-500"}`} />
      <span>{text}</span>
    </div>
  );
}

/** The conflicts and refused writes the last flushes left, each waiting for the user. */
export function SyncProblems() {
  const { state } = useOffline();
  if (state.conflicts.length === 0 && state.failures.length === 0) return null;
  return (
    <section aria-label="Changes that need you" className="space-y-3">
      {state.conflicts.map((conflict) => (
        <ConflictView key={conflict.id} conflict={conflict} />
      ))}
      {state.failures.map((failure) => (
        <FailureView key={failure.id} failure={failure} />
      ))}
    </section>
  );
}

/** One conflict: both versions side by side, and the two ways out. */
function ConflictView({ conflict }: { conflict: SyncConflict }) {
  const { queue, sync } = useOffline();
  const [busy, setBusy] = useState(false);
  const { mine, theirs } = conflict;
  // Named as the user knew it before either change.
  const title = conflict.write.base.title;
  const decide = async (keep: "mine" | "theirs") => {
    setBusy(true);
    try {
      await (keep === "mine" ? queue.keepMine(conflict.id) : queue.keepTheirs(conflict.id));
      sync();
    } finally {
      setBusy(false);
    }
  };
  return (
    <div role="alert" data-testid="sync-conflict" data-task-id={conflict.taskId} className="card border-amber-300 p-4">
      <p className="flex items-start gap-2 text-sm font-semibold text-amber-900">
        <AlertIcon className="mt-0.5 size-4 shrink-0" />
        {theirs === null
          ? `“${title}” was deleted on another device while your change waited.`
          : `“${title}” was changed on another device while your change waited. Nothing was overwritten: which version stays?`}
      </p>
      <div className="mt-3 grid gap-3 sm:grid-cols-2">
        <Version label="Your version" testId="mine" task={mine} gone="You deleted it." />
        <Version label="Their version" testId="theirs" task={theirs} gone="Deleted on another device." />
      </div>
      <div className="mt-3 flex flex-wrap gap-2">
        <button className="btn-primary" disabled={busy || theirs === undefined} onClick={() => void decide("mine")}>
          Keep mine
        </button>
        <button className="btn-secondary" disabled={busy} onClick={() => void decide("theirs")}>
          Keep theirs
        </button>
      </div>
    </div>
  );
}

function Version({ label, testId, task, gone }: { label: string; testId: string; task: Task | null | undefined; gone: string }) {
  return (
    <div data-testid={testId} className="rounded-lg border border-slate-200 bg-slate-50 px-3 py-2 text-sm">
      <p className="text-xs font-medium tracking-wide text-slate-500 uppercase">{label}</p>
      {task === undefined ? (
        <p className="text-slate-500">Reading it…</p>
      ) : task === null ? (
        <p className="text-slate-700">{gone}</p>
      ) : (
        <>
          <p className="version-title font-medium break-words text-slate-900">{task.title}</p>
          {task.description && <p className="break-words whitespace-pre-line text-slate-600">{task.description}</p>}
          <p className="text-slate-500">
            {task.completed ? "Completed" : "Pending"}
            {task.priority !== "none" && ` · ${task.priority} priority`}
            {task.due_date && ` · due ${task.due_date}${task.due_time ? ` ${task.due_time}` : ""}`}
            {task.tags.length > 0 && ` · ${task.tags.map((tag) => `#${tag}`).join(" ")}`}
          </p>
        </>
      )}
    </div>
  );
}

/** A write the service refused (a 422, say): what it was and why, until dismissed. */
function FailureView({ failure }: { failure: SyncFailure }) {
  const { queue } = useOffline();
  const { write } = failure;
  const title = write.op === "create" ? write.task.title : write.base.title;
  const what = { create: "Adding", update: "Editing", complete: "Completing", delete: "Deleting" }[write.op];
  const why = failure.status === 424 ? "adding it failed first" : (failure.problem?.detail ?? `the service answered ${failure.status}`);
  return (
    <div role="alert" data-testid="sync-failure" className="flex items-start gap-3 rounded-xl border border-red-200 bg-red-50 px-4 py-3 text-sm text-red-800">
      <AlertIcon className="mt-0.5 size-4 shrink-0" />
      <p className="min-w-0 flex-1">
        {what} “{title}” while offline was not saved: {why}.
      </p>
      <button className="-m-1 rounded p-1 text-red-600 hover:text-red-900" onClick={() => void queue.dismissFailure(failure.id)}>
        <XIcon className="size-4" />
        <span className="sr-only">Dismiss</span>
      </button>
    </div>
  );
}
