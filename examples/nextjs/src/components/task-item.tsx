"use client";
import { useState, type FormEvent } from "react";
import { fieldErrors, type Task } from "todo-api-client";

import { ApiProblem, describeWrite } from "@/lib/api/errors";
import { Conflict, useTagList, useTaskMutations } from "@/lib/api/use-tasks";
import { describeDue } from "@/lib/due";
import { describeRule, reminderLabel } from "@/lib/recurrence";

import { BellIcon, CalendarIcon, FlagIcon, PencilIcon, RepeatIcon, TrashIcon } from "./icons";
import { TaskFields, bodyOf, checkDraft, draftOf, priorityNames, type Draft } from "./task-form";

const priorityStyle = {
  high: "bg-red-50 text-red-700 ring-red-200",
  medium: "bg-amber-50 text-amber-800 ring-amber-200",
  low: "bg-sky-50 text-sky-700 ring-sky-200",
  none: "",
} as const;

/**
 * One task: toggle, edit, delete (undoable, by the board); a 412 shows the
 * newer version. Its priority, due date (marked when overdue), how it
 * repeats, its reminders and its tags show under the title; a tag is a
 * button that filters the list by it.
 */
export function TaskItem({
  task,
  waiting = false,
  onDelete,
  onTag,
  activeTags = [],
}: {
  task: Task;
  /** A change of it made offline has not reached the service yet. */
  waiting?: boolean;
  onDelete: (task: Task) => void;
  onTag?: (tag: string) => void;
  activeTags?: string[];
}) {
  const { update, toggle } = useTaskMutations();
  const tagList = useTagList();
  const due = describeDue(task);
  const [editing, setEditing] = useState(false);
  // The version the edit started from: a conflict moves it to the newer one.
  const [base, setBase] = useState<Task>(task);
  const [draft, setDraft] = useState<Draft>(draftOf(task));
  const [tried, setTried] = useState(false);
  const [conflict, setConflict] = useState<{ newer: Task | null; mine: Draft } | null>(null);
  const server = update.error instanceof ApiProblem ? fieldErrors(update.error.problem) : {};
  const errors = { ...server, ...(tried ? checkDraft(draft) : {}) };
  const toggleFailed = toggle.error && !(toggle.error instanceof Conflict);
  const updateFailed = update.error && !(update.error instanceof Conflict) && Object.keys(server).length === 0;

  function onConflict(error: Error) {
    if (!(error instanceof Conflict)) return;
    setConflict({ newer: error.newer, mine: draft });
    if (error.newer) {
      setBase(error.newer);
      setDraft(draftOf(error.newer));
    }
  }

  function startEditing() {
    setBase(task);
    setDraft(draftOf(task));
    setConflict(null);
    setTried(false);
    update.reset();
    setEditing(true);
  }

  function save(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setTried(true);
    if (Object.keys(checkDraft(draft)).length > 0) return;
    update.mutate(
      { task: base, changes: bodyOf(draft, base) },
      {
        onSuccess: () => {
          setEditing(false);
          setConflict(null);
        },
        onError: onConflict,
      },
    );
  }

  const conflictPanel = conflict && (
    <div
      className="mb-3 rounded-lg border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900"
      role="alert"
      data-testid="conflict"
    >
      {conflict.newer ? (
        <>
          <strong className="font-semibold">This task was changed elsewhere; your edit was not saved.</strong>
          <div>
            Newer version: <q data-testid="newer-title">{conflict.newer.title}</q>
            {conflict.newer.description && <> — {conflict.newer.description}</>}
            {conflict.newer.completed ? " (completed)" : " (pending)"}
          </div>
          {editing && (
            <div className="text-amber-800">
              Your edit was: <q>{conflict.mine.title}</q>. The form now holds the newer version.
            </div>
          )}
        </>
      ) : (
        <strong className="font-semibold">This task was deleted elsewhere.</strong>
      )}
    </div>
  );

  if (editing) {
    return (
      <li className="bg-brand-50/40 px-4 py-4" data-testid="task" data-task-id={task.id}>
        {conflictPanel}
        <form aria-label="Edit task" onSubmit={save} noValidate className="grid gap-3">
          <TaskFields
            draft={draft}
            onChange={setDraft}
            errors={errors}
            compact
            suggestions={tagList.data?.map((tag) => tag.name)}
          />
          {updateFailed && (
            <p role="alert" className="text-sm text-red-700">
              {describeWrite(update.error, "your edit")}
            </p>
          )}
          <div className="flex gap-2">
            <button type="submit" className="btn-primary" disabled={update.isPending}>
              Save
            </button>
            <button type="button" className="btn-secondary" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </div>
        </form>
      </li>
    );
  }

  return (
    <li
      className="group px-4 py-3 transition-colors hover:bg-slate-50/80"
      data-testid="task"
      data-task-id={task.id}
      data-completed={task.completed}
      data-overdue={due?.overdue ?? false}
      data-priority={task.priority}
      data-waiting={waiting}
    >
      {conflictPanel}
      <div className="flex items-start gap-3">
        <input
          type="checkbox"
          className="mt-0.5 size-5 shrink-0 cursor-pointer rounded-md accent-brand-600"
          checked={task.completed}
          onChange={() => toggle.mutate(task, { onError: onConflict })}
          aria-label={`Completed: ${task.title}`}
        />
        <div className="min-w-0 flex-1">
          <p
            className={
              "title text-sm font-medium break-words " + (task.completed ? "text-slate-400 line-through" : "text-slate-900")
            }
          >
            {task.title}
          </p>
          {task.description && (
            <p className="mt-0.5 text-sm break-words whitespace-pre-line text-slate-500">{task.description}</p>
          )}
          {(task.priority !== "none" || due || task.recurrence || task.reminders.length > 0 || task.tags.length > 0 || waiting) && (
            <div className="mt-1.5 flex flex-wrap items-center gap-1.5">
              {waiting && (
                <span
                  data-testid="waiting"
                  className="chip bg-amber-100 text-amber-900 ring-1 ring-amber-300 ring-inset"
                  title="Saved on this device; sent to the service when you're back online"
                >
                  Waiting
                  <span className="sr-only"> to be sent</span>
                </span>
              )}
              {task.priority !== "none" && (
                <span className={`chip ring-1 ring-inset ${priorityStyle[task.priority]}`} data-testid="priority">
                  <FlagIcon className="size-3" />
                  {priorityNames[task.priority]}
                  <span className="sr-only"> priority</span>
                </span>
              )}
              {due && (
                <span
                  data-testid="due"
                  className={
                    "chip ring-1 ring-inset " +
                    (due.overdue
                      ? "bg-red-600 text-white ring-red-600"
                      : due.soon
                        ? "bg-amber-50 text-amber-800 ring-amber-200"
                        : "bg-slate-50 text-slate-600 ring-slate-200")
                  }
                  title={task.due_at ? new Date(task.due_at).toLocaleString() : undefined}
                >
                  <CalendarIcon className="size-3" />
                  {due.overdue ? `Overdue · ${due.label}` : `Due ${due.label}`}
                </span>
              )}
              {task.recurrence && (
                <span
                  data-testid="repeats"
                  className="chip bg-violet-50 text-violet-700 ring-1 ring-violet-200 ring-inset"
                  title={task.recurrence}
                >
                  <RepeatIcon className="size-3" />
                  {describeRule(task.recurrence)}
                </span>
              )}
              {task.reminders.length > 0 && task.due_time && (
                <span
                  data-testid="reminders"
                  className="chip bg-slate-50 text-slate-600 ring-1 ring-slate-200 ring-inset"
                  title={`Reminders: ${task.reminders.map(reminderLabel).join(", ")}`}
                >
                  <BellIcon className="size-3" />
                  <span className="sr-only">Reminder: </span>
                  {task.reminders.length === 1 ? reminderLabel(task.reminders[0] ?? 0) : `${task.reminders.length} reminders`}
                </span>
              )}
              {task.tags.map((tag) => {
                const active = activeTags.some((t) => t.toLowerCase() === tag.toLowerCase());
                return (
                  <button
                    key={tag}
                    type="button"
                    data-testid="tag"
                    data-tag={tag}
                    className="chip bg-slate-100 text-slate-700 hover:bg-brand-50 hover:text-brand-700 aria-pressed:bg-brand-600 aria-pressed:text-white"
                    aria-pressed={active}
                    onClick={() => onTag?.(tag)}
                  >
                    <span className="sr-only">Filter by tag </span>
                    <span aria-hidden="true">#</span>
                    {tag}
                  </button>
                );
              })}
            </div>
          )}
          {toggleFailed && (
            <p role="alert" className="mt-1 text-xs text-red-700">
              {describeWrite(toggle.error, "the change")}
            </p>
          )}
        </div>
        <div className="-my-1 flex shrink-0 items-center gap-0.5 sm:opacity-70 sm:group-focus-within:opacity-100 sm:group-hover:opacity-100">
          <button className="btn-ghost px-2 py-1.5" onClick={startEditing}>
            <PencilIcon className="size-4" />
            <span className="sr-only sm:not-sr-only">Edit</span>
          </button>
          <button className="btn-ghost px-2 py-1.5 hover:bg-red-50 hover:text-red-700" onClick={() => onDelete(task)}>
            <TrashIcon className="size-4" />
            <span className="sr-only sm:not-sr-only">Delete</span>
          </button>
        </div>
      </div>
    </li>
  );
}
