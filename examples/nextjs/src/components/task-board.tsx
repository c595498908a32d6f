"use client";
import { useState, type FormEvent } from "react";
import { fieldErrors } from "todo-api-client";

import { useLiveTasks } from "@/lib/api/use-live-tasks";
import { ApiProblem, useTaskList, useTaskMutations, type ListQuery } from "@/lib/api/use-tasks";

import { TaskItem } from "./task-item";

const PAGE_SIZE = 5;
type Status = NonNullable<ListQuery["status"]>;
type Sort = NonNullable<ListQuery["sort"]>;
type Order = NonNullable<ListQuery["order"]>;

/** The list with the contract's filters, search, sort and paging, and the add form. */
export function TaskBoard() {
  const [status, setStatus] = useState<Status>("all");
  const [q, setQ] = useState("");
  const [sort, setSort] = useState<Sort>("created_at");
  const [order, setOrder] = useState<Order>("desc");
  const [offset, setOffset] = useState(0);
  const query: ListQuery = { status, sort, order, limit: PAGE_SIZE, offset, ...(q ? { q } : {}) };
  const list = useTaskList(query);
  const total = list.data?.total ?? 0;
  // Live updates start once the list has loaded (with a token refreshed by
  // then if it had to be), and go on whatever the list shows next.
  const [loaded, setLoaded] = useState(false);
  if (list.isSuccess && !loaded) setLoaded(true);
  const live = useLiveTasks(loaded);

  function search(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setQ(String(new FormData(event.currentTarget).get("q")).trim());
    setOffset(0);
  }

  return (
    <section>
      <AddTask />
      <div className="toolbar" role="group" aria-label="Filters">
        {(["all", "pending", "completed"] as const).map((value) => (
          <button
            key={value}
            aria-pressed={status === value}
            onClick={() => {
              setStatus(value);
              setOffset(0);
            }}
          >
            {value[0]!.toUpperCase() + value.slice(1)}
          </button>
        ))}
        <label>
          Sort by
          <select value={sort} onChange={(e) => setSort(e.target.value as Sort)}>
            <option value="created_at">Created</option>
            <option value="updated_at">Updated</option>
            <option value="title">Title</option>
          </select>
        </label>
        <label>
          Order
          <select value={order} onChange={(e) => setOrder(e.target.value as Order)}>
            <option value="desc">Descending</option>
            <option value="asc">Ascending</option>
          </select>
        </label>
        <form role="search" onSubmit={search}>
          <label>
            Search
            <input name="q" type="search" defaultValue={q} maxLength={200} />
          </label>
          <button type="submit">Search</button>
        </form>
      </div>
      {list.error && (
        <p className="error" role="alert">
          {list.error.message}
        </p>
      )}
      <ul aria-label="Tasks" aria-busy={list.isFetching}>
        {list.data?.tasks.map((task) => <TaskItem key={task.id} task={task} />)}
      </ul>
      {list.data && list.data.tasks.length === 0 && <p className="muted">No tasks.</p>}
      <div className="toolbar">
        <button disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE_SIZE))}>
          Previous
        </button>
        <span data-testid="range">
          {total === 0 ? "0" : `${offset + 1}–${Math.min(offset + PAGE_SIZE, total)}`} of {total}
        </span>
        <button disabled={offset + PAGE_SIZE >= total} onClick={() => setOffset(offset + PAGE_SIZE)}>
          Next
        </button>
        <span className="muted" data-testid="live" data-state={live}>
          {live === "live" ? "Live" : live === "stopped" ? "Not updating: reload the page" : "Connecting…"}
        </span>
      </div>
    </section>
  );
}

/** The add form; the service's 422 field errors appear beside their fields. */
function AddTask() {
  const { create } = useTaskMutations();
  const errors = create.error instanceof ApiProblem ? fieldErrors(create.error.problem) : {};

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const data = new FormData(form);
    const description = String(data.get("description"));
    create.mutate(
      { title: String(data.get("title")), description: description === "" ? null : description },
      { onSuccess: () => form.reset() },
    );
  }

  return (
    <form aria-label="Add a task" onSubmit={submit}>
      <label>
        Title
        <input name="title" aria-invalid={Boolean(errors.title)} />
        {errors.title && <span className="field-error">{errors.title}</span>}
      </label>
      <label>
        Description
        <input name="description" aria-invalid={Boolean(errors.description)} />
        {errors.description && <span className="field-error">{errors.description}</span>}
      </label>
      <button type="submit" disabled={create.isPending}>
        Add
      </button>
    </form>
  );
}
