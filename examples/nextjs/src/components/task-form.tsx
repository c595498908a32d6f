"use client";
import { useId, useState, type FormEvent, type ReactNode } from "react";
import { fieldErrors, type Task } from "todo-api-client";

import { ApiProblem, describeWrite } from "@/lib/api/errors";
import { useTagList, useTaskMutations, type NewTask, type TaskChanges } from "@/lib/api/use-tasks";
import { browserTimeZone } from "@/lib/due";
import { characters, limits, tagProblem } from "@/lib/limits";
import { noRepeat, repeatOf, repeatProblem, ruleOf, type Repeat } from "@/lib/recurrence";

import { PlusIcon, XIcon } from "./icons";
import { ReminderPicker } from "./reminder-picker";
import { RepeatPicker } from "./repeat-picker";
import { TagInput, withTag } from "./tag-input";

export type Priority = Task["priority"];
export const priorities: Priority[] = ["none", "low", "medium", "high"];
export const priorityNames: Record<Priority, string> = { none: "None", low: "Low", medium: "Medium", high: "High" };

/** What the user is editing, as the form holds it. */
export type Draft = {
  title: string;
  description: string;
  priority: Priority;
  tags: string[];
  /** A tag typed but not yet added: added on save. */
  tagText: string;
  /** `YYYY-MM-DD`, or "" for none. */
  dueDate: string;
  /** `HH:MM`, or "" for "some time that day". */
  dueTime: string;
  /**
   * How it repeats, and the reminders: they need a due date (a time, for
   * reminders), and while it is empty (being retyped, say) they are kept
   * here, shown and sent as none.
   */
  repeat: Repeat;
  /** Minutes before the due time, sorted. */
  reminders: number[];
};

export const emptyDraft: Draft = {
  title: "",
  description: "",
  priority: "none",
  tags: [],
  tagText: "",
  dueDate: "",
  dueTime: "",
  repeat: noRepeat,
  reminders: [],
};

export function draftOf(task: Task): Draft {
  return {
    title: task.title,
    description: task.description ?? "",
    priority: task.priority,
    tags: task.tags,
    tagText: "",
    dueDate: task.due_date ?? "",
    dueTime: task.due_time ?? "",
    repeat: repeatOf(task.recurrence),
    reminders: task.reminders,
  };
}

/** The tags with the one still being typed, if it is a valid tag. */
function tagsOf(draft: Draft): string[] {
  return draft.tagText.trim() && !tagProblem(draft.tagText) ? withTag(draft.tags, draft.tagText) : draft.tags;
}

/**
 * The request body for a draft: the service's field names and types. A due
 * date and time are meant in the browser's time zone; when editing, the
 * task keeps its zone unless the date or time changed. The repeat rule is
 * sent as it was when unchanged, which keeps the series where it is.
 */
export function bodyOf(draft: Draft, base?: Task): NewTask & TaskChanges {
  const dueDate = draft.dueDate || null;
  const dueTime = dueDate ? draft.dueTime || null : null;
  const moved = !base || base.due_date !== dueDate || base.due_time !== dueTime;
  return {
    title: draft.title,
    description: draft.description === "" ? null : draft.description,
    priority: draft.priority,
    tags: tagsOf(draft),
    due_date: dueDate,
    due_time: dueTime,
    ...(dueDate && moved ? { time_zone: browserTimeZone() } : {}),
    recurrence: dueDate ? ruleOf(draft.repeat) : null,
    reminders: dueTime ? draft.reminders : [],
  };
}

/**
 * Checked before sending, as the service would: only after the user tried to
 * save (never at rest), so an empty form is not greeted with errors.
 */
export function checkDraft(draft: Draft): Record<string, string> {
  const errors: Record<string, string> = {};
  if (draft.title.trim() === "") errors.title = "Give the task a title";
  else if (characters(draft.title.trim()) > limits.title) errors.title = `At most ${limits.title} characters`;
  if (characters(draft.description) > limits.description) errors.description = `At most ${limits.description} characters`;
  if (draft.tagText.trim() !== "") {
    const why = tagProblem(draft.tagText);
    if (why) errors.tags = why;
  }
  if (tagsOf(draft).length > limits.tagsPerTask) errors.tags = `A task has at most ${limits.tagsPerTask} tags`;
  if (draft.dueTime && !draft.dueDate) errors.due_date = "Pick a day for the time";
  const repeat = draft.dueDate ? repeatProblem(draft.repeat, draft.dueDate) : null;
  if (repeat) errors.recurrence = repeat;
  if (draft.dueTime && draft.reminders.length > limits.reminders) errors.reminders = `At most ${limits.reminders} reminders`;
  return errors;
}

/** A field's label, input, the error beside it and, near the limit, a character count. */
function Field({
  label,
  error,
  count,
  max,
  className,
  children,
}: {
  label: string;
  error?: string;
  count?: number;
  max?: number;
  className?: string;
  children: (ids: { id: string; describedBy: string | undefined }) => ReactNode;
}) {
  const id = useId();
  const errorId = `${id}-error`;
  const countId = `${id}-count`;
  const nearLimit = count !== undefined && max !== undefined && count >= max * 0.8;
  const describedBy = [error ? errorId : null, nearLimit ? countId : null].filter(Boolean).join(" ") || undefined;
  return (
    <div className={className}>
      <label className="label" htmlFor={id}>
        {label}
      </label>
      {children({ id, describedBy })}
      <div className="flex justify-between gap-2">
        {error ? (
          <span id={errorId} className="field-error mt-1 text-xs text-red-600">
            {error}
          </span>
        ) : (
          <span />
        )}
        {nearLimit && (
          <span id={countId} className="mt-1 text-xs text-slate-500 tabular-nums">
            {count}/{max}
          </span>
        )}
      </div>
    </div>
  );
}

/** The fields a task has, shared by the add form and the edit form. */
export function TaskFields({
  draft,
  onChange,
  errors,
  compact = false,
  suggestions = [],
}: {
  draft: Draft;
  onChange: (draft: Draft) => void;
  errors: Record<string, string>;
  compact?: boolean;
  /** The user's tags, offered as they type one. */
  suggestions?: string[];
}) {
  return (
    <>
      <Field
        label="Title"
        error={errors.title}
        count={characters(draft.title)}
        max={limits.title}
      >
        {({ id, describedBy }) => (
          <input
            id={id}
            name="title"
            className="field"
            value={draft.title}
            maxLength={limits.title}
            placeholder="What needs doing?"
            autoComplete="off"
            aria-invalid={errors.title ? true : undefined}
            aria-describedby={describedBy}
            onChange={(e) => onChange({ ...draft, title: e.target.value })}
          />
        )}
      </Field>
      <Field
        label="Description"
        error={errors.description}
        count={characters(draft.description)}
        max={limits.description}
        className="sm:col-span-full"
      >
        {({ id, describedBy }) => (
          <textarea
            id={id}
            name="description"
            className="field min-h-10 resize-y"
            rows={compact ? 2 : 1}
            value={draft.description}
            maxLength={limits.description}
            placeholder="Notes (optional)"
            aria-invalid={errors.description ? true : undefined}
            aria-describedby={describedBy}
            onChange={(e) => onChange({ ...draft, description: e.target.value })}
          />
        )}
      </Field>
      <div className="grid grid-cols-2 gap-3 sm:col-span-full sm:grid-cols-[8rem_10rem_9rem_1fr]">
        <Field label="Priority">
          {({ id }) => (
            <select
              id={id}
              name="priority"
              className="field"
              value={draft.priority}
              onChange={(e) => onChange({ ...draft, priority: e.target.value as Priority })}
            >
              {priorities.map((p) => (
                <option key={p} value={p}>
                  {priorityNames[p]}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Due date" error={errors.due_date}>
          {({ id, describedBy }) => (
            <div className="relative">
              <input
                id={id}
                type="date"
                name="due_date"
                className={"field " + (draft.dueDate ? "pr-8" : "")}
                value={draft.dueDate}
                aria-invalid={errors.due_date ? true : undefined}
                aria-describedby={describedBy}
                onChange={(e) => onChange({ ...draft, dueDate: e.target.value, dueTime: e.target.value ? draft.dueTime : "" })}
              />
              {draft.dueDate && (
                <button
                  type="button"
                  className="absolute top-1/2 right-1.5 -translate-y-1/2 rounded p-1 text-slate-400 hover:bg-slate-100 hover:text-slate-700"
                  onClick={() => onChange({ ...draft, dueDate: "", dueTime: "", repeat: noRepeat, reminders: [] })}
                >
                  <XIcon className="size-3.5" />
                  <span className="sr-only">Clear the due date</span>
                </button>
              )}
            </div>
          )}
        </Field>
        <Field label="Time (optional)" error={errors.due_time}>
          {({ id, describedBy }) => (
            <input
              id={id}
              type="time"
              name="due_time"
              className="field"
              value={draft.dueTime}
              disabled={!draft.dueDate}
              title={draft.dueDate ? undefined : "Pick a day first"}
              aria-invalid={errors.due_time ? true : undefined}
              aria-describedby={describedBy}
              onChange={(e) => onChange({ ...draft, dueTime: e.target.value })}
            />
          )}
        </Field>
        <div className="col-span-2 sm:col-span-1">
          <TagInput
            tags={draft.tags}
            pending={draft.tagText}
            onChange={({ tags, pending }) => onChange({ ...draft, tags, tagText: pending })}
            suggestions={suggestions}
            error={errors.tags}
          />
        </div>
      </div>
      <div className="grid gap-3 sm:col-span-full md:grid-cols-2">
        <RepeatPicker
          repeat={draft.dueDate ? draft.repeat : noRepeat}
          dueDate={draft.dueDate}
          onChange={(repeat) => onChange({ ...draft, repeat })}
          error={errors.recurrence}
        />
        <ReminderPicker
          reminders={draft.dueDate && draft.dueTime ? draft.reminders : []}
          enabled={Boolean(draft.dueDate && draft.dueTime)}
          onChange={(reminders) => onChange({ ...draft, reminders })}
          error={errors.reminders}
        />
      </div>
    </>
  );
}

/** The add form: checked as the service would before sending; the service's own 422 messages appear beside their fields. */
export function AddTask({ onSaved }: { onSaved?: (task: Task) => void }) {
  const { create } = useTaskMutations();
  const tags = useTagList();
  const [draft, setDraft] = useState<Draft>(emptyDraft);
  const [tried, setTried] = useState(false);
  const local = tried ? checkDraft(draft) : {};
  const server = create.error instanceof ApiProblem ? fieldErrors(create.error.problem) : {};
  const errors = { ...server, ...local };
  const failure = create.error && !(create.error instanceof ApiProblem && Object.keys(server).length > 0);

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setTried(true);
    if (Object.keys(checkDraft(draft)).length > 0) return;
    // The form is cleared at once, ready for the next task; if the add
    // fails, what was typed comes back (unless the user has started anew).
    const sent = draft;
    setDraft(emptyDraft);
    setTried(false);
    create.mutate(bodyOf(sent), {
      onSuccess: (task) => onSaved?.(task),
      onError: () => setDraft((current) => (current === emptyDraft ? sent : current)),
    });
  }

  return (
    <form aria-label="Add a task" onSubmit={submit} noValidate className="card p-4">
      <div className="grid gap-3 sm:grid-cols-[1fr_auto] sm:items-start">
        <TaskFields
          draft={draft}
          onChange={(next) => {
            setDraft(next);
            if (create.error) create.reset();
          }}
          errors={errors}
          suggestions={tags.data?.map((tag) => tag.name)}
        />
        <div className="order-last sm:order-none sm:col-start-2 sm:row-start-1 sm:pt-5">
          <button type="submit" className="btn-primary w-full sm:w-auto" disabled={create.isPending}>
            <PlusIcon className="size-4" />
            Add
          </button>
        </div>
      </div>
      {failure && (
        <p role="alert" className="mt-2 text-sm text-red-700">
          {describeWrite(create.error, "the task")}
        </p>
      )}
    </form>
  );
}
