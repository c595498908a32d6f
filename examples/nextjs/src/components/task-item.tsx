"use client";
import { useState, type FormEvent } from "react";
import { fieldErrors, type Task } from "todo-api-client";

import { ApiProblem, Conflict, useTaskMutations } from "@/lib/api/use-tasks";

/** One task: toggle, edit title and description, delete; a 412 shows the newer version. */
export function TaskItem({ task }: { task: Task }) {
  const { update, toggle, remove } = useTaskMutations();
  const [editing, setEditing] = useState(false);
  // The version the edit started from: a conflict moves it to the newer one.
  const [base, setBase] = useState<Task>(task);
  const [draft, setDraft] = useState({ title: task.title, description: task.description ?? "" });
  const [conflict, setConflict] = useState<{ newer: Task | null; mine: typeof draft } | null>(null);
  const errors = update.error instanceof ApiProblem ? fieldErrors(update.error.problem) : {};

  function onConflict(error: Error) {
    if (!(error instanceof Conflict)) return;
    setConflict({ newer: error.newer, mine: draft });
    if (error.newer) {
      setBase(error.newer);
      setDraft({ title: error.newer.title, description: error.newer.description ?? "" });
    }
  }

  function startEditing() {
    setBase(task);
    setDraft({ title: task.title, description: task.description ?? "" });
    setConflict(null);
    update.reset();
    setEditing(true);
  }

  function save(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const changes = { title: draft.title, description: draft.description === "" ? null : draft.description };
    update.mutate(
      { task: base, changes },
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
    <div className="conflict" role="alert" data-testid="conflict">
      {conflict.newer ? (
        <>
          <strong>This task was changed elsewhere; your edit was not saved.</strong>
          <div>
            Newer version: <q data-testid="newer-title">{conflict.newer.title}</q>
            {conflict.newer.description && <> — {conflict.newer.description}</>}
            {conflict.newer.completed ? " (completed)" : " (pending)"}
          </div>
          {editing && (
            <div className="muted">
              Your edit was: <q>{conflict.mine.title}</q>. The form now holds the newer version.
            </div>
          )}
        </>
      ) : (
        <strong>This task was deleted elsewhere.</strong>
      )}
    </div>
  );

  if (editing) {
    return (
      <li className="task" data-testid="task" data-task-id={task.id}>
        {conflictPanel}
        <form aria-label="Edit task" onSubmit={save}>
          <label>
            Title
            <input
              name="title"
              value={draft.title}
              onChange={(e) => setDraft({ ...draft, title: e.target.value })}
              aria-invalid={Boolean(errors.title)}
            />
            {errors.title && <span className="field-error">{errors.title}</span>}
          </label>
          <label>
            Description
            <input
              name="description"
              value={draft.description}
              onChange={(e) => setDraft({ ...draft, description: e.target.value })}
              aria-invalid={Boolean(errors.description)}
            />
            {errors.description && <span className="field-error">{errors.description}</span>}
          </label>
          <button type="submit" disabled={update.isPending}>
            Save
          </button>
          <button type="button" onClick={() => setEditing(false)}>
            Cancel
          </button>
        </form>
      </li>
    );
  }

  return (
    <li className={task.completed ? "task completed" : "task"} data-testid="task" data-task-id={task.id}>
      {conflictPanel}
      <label style={{ flexDirection: "row", alignItems: "center" }}>
        <input
          type="checkbox"
          checked={task.completed}
          onChange={() => toggle.mutate(task, { onError: onConflict })}
          aria-label={`Completed: ${task.title}`}
        />
        <span className="title">{task.title}</span>
      </label>
      {task.description && <div className="muted">{task.description}</div>}
      <button onClick={startEditing}>Edit</button>{" "}
      <button onClick={() => remove.mutate(task, { onError: onConflict })}>Delete</button>
    </li>
  );
}
