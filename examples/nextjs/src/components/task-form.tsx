"use client";
import { useId, useState, type FormEvent, type ReactNode } from "react";
import { fieldErrors, type Task } from "todo-api-client";

import { ApiProblem, describeWrite } from "@/lib/api/errors";
import { useTaskMutations, type NewTask } from "@/lib/api/use-tasks";
import { characters, limits } from "@/lib/limits";

import { PlusIcon } from "./icons";

/** What the user is editing, as the form holds it. */
export type Draft = { title: string; description: string };

export const emptyDraft: Draft = { title: "", description: "" };

export function draftOf(task: Task): Draft {
  return { title: task.title, description: task.description ?? "" };
}

/** The request body for a draft: the service's field names and types. */
export function bodyOf(draft: Draft): NewTask {
  return { title: draft.title, description: draft.description === "" ? null : draft.description };
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
}: {
  draft: Draft;
  onChange: (draft: Draft) => void;
  errors: Record<string, string>;
  compact?: boolean;
}) {
  return (
    <>
      <Field
        label="Title"
        error={errors.title}
        count={characters(draft.title)}
        max={limits.title}
        className={compact ? "" : "flex-1"}
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
      <Field label="Description" error={errors.description} count={characters(draft.description)} max={limits.description}>
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
    </>
  );
}

/** The add form: checked as the service would before sending; the service's own 422 messages appear beside their fields. */
export function AddTask({ onSaved }: { onSaved?: (task: Task) => void }) {
  const { create } = useTaskMutations();
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
    create.mutate(bodyOf(draft), {
      onSuccess: (task) => {
        setDraft(emptyDraft);
        setTried(false);
        onSaved?.(task);
      },
    });
  }

  return (
    <form aria-label="Add a task" onSubmit={submit} noValidate className="card p-4">
      <div className="grid gap-3 sm:grid-cols-[1fr_1fr_auto] sm:items-start">
        <TaskFields
          draft={draft}
          onChange={(next) => {
            setDraft(next);
            if (create.error) create.reset();
          }}
          errors={errors}
        />
        <div className="sm:pt-5">
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
