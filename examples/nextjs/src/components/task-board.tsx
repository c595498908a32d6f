"use client";
import { useState, type FormEvent } from "react";
import { isLocalTask, type Task } from "todo-api-client";

import { describe, describeWrite } from "@/lib/api/errors";
import { useOffline } from "@/lib/api/offline";
import { useLiveTasks, type LiveState } from "@/lib/api/use-live-tasks";
import { Conflict, useTagList, useTaskList, type ListQuery } from "@/lib/api/use-tasks";
import { useUndoableDeletes } from "@/lib/api/use-undoable-deletes";
import { limits } from "@/lib/limits";
import { dueWords, notifyReminder } from "@/lib/notifications";

import { AlertIcon, ChevronLeftIcon, ChevronRightIcon, SearchIcon, XIcon } from "./icons";
import { SyncBanner, SyncProblems } from "./offline-status";
import { AddTask } from "./task-form";
import { TaskItem } from "./task-item";
import { Toasts, useNotices } from "./toasts";

export const PAGE_SIZE = 20;
type Status = NonNullable<ListQuery["status"]>;
type Sort = NonNullable<ListQuery["sort"]>;
type Order = NonNullable<ListQuery["order"]>;

type PriorityFilter = "any" | "high" | "high,medium" | "medium" | "low" | "none";

const sortNames: Record<Sort, string> = {
  due_at: "Due date",
  priority: "Priority",
  created_at: "Created",
  updated_at: "Updated",
  title: "Title",
};
/** What each order means for each sort, in words. */
const orderNames: Record<Sort, Record<Order, string>> = {
  due_at: { asc: "Soonest first", desc: "Latest first" },
  priority: { desc: "Highest first", asc: "Lowest first" },
  created_at: { desc: "Newest first", asc: "Oldest first" },
  updated_at: { desc: "Recently updated first", asc: "Least recently updated first" },
  title: { asc: "A to Z", desc: "Z to A" },
};
/** The order a sort starts in when picked. */
const naturalOrder: Record<Sort, Order> = { due_at: "asc", priority: "desc", created_at: "desc", updated_at: "desc", title: "asc" };
const priorityFilterNames: Record<PriorityFilter, string> = {
  any: "Any priority",
  high: "High",
  "high,medium": "High and medium",
  medium: "Medium",
  low: "Low",
  none: "No priority",
};
const statusNames: Record<Status, string> = { all: "All", pending: "Pending", completed: "Completed" };

/** The list with the contract's filters, search, sort and paging, the add form, and undoable deletes. */
export function TaskBoard() {
  const [status, setStatus] = useState<Status>("all");
  const [q, setQ] = useState("");
  const [sort, setSort] = useState<Sort>("created_at");
  const [order, setOrder] = useState<Order>("desc");
  const [priority, setPriority] = useState<PriorityFilter>("any");
  const [tags, setTags] = useState<string[]>([]);
  const [overdue, setOverdue] = useState(false);
  const [offset, setOffset] = useState(0);
  const query: ListQuery = {
    status,
    sort,
    order,
    limit: PAGE_SIZE,
    offset,
    tag: tags,
    ...(q ? { q } : {}),
    ...(priority !== "any" ? { priority } : {}),
    ...(overdue ? { overdue: true } : {}),
  };
  const tagList = useTagList();
  const list = useTaskList(query);
  const offline = useOffline();
  const notices = useNotices();
  const deletes = useUndoableDeletes((task, error) => {
    notices.show(
      error instanceof Conflict
        ? error.newer
          ? `“${task.title}” was changed elsewhere, so it was not deleted.`
          : `“${task.title}” was already deleted elsewhere.`
        : describeWrite(error, `deleting “${task.title}”`),
      "error",
    );
  });

  // Live updates start once the list has loaded (with a token refreshed by
  // then if it had to be), and go on whatever the list shows next.
  const [loaded, setLoaded] = useState(false);
  if (list.isSuccess && !loaded) setLoaded(true);
  // A reminder: a system notification where the browser allows it, else a toast.
  const live = useLiveTasks(loaded, (reminder) => {
    if (!notifyReminder(reminder)) notices.show(`Reminder: “${reminder.title}” is ${dueWords(reminder)}.`, "reminder");
  });

  // The page as the service sent it, with the writes still waiting applied
  // over it (tasks added offline lead the first page).
  const shown = offline.queue
    .applyPending(list.data?.tasks ?? [])
    .filter((task) => !deletes.hidden.has(task.id) && (offset === 0 || !isLocalTask(task)));
  const shownIds = new Set(shown.map((task) => task.id));
  const hiddenHere = (list.data?.tasks ?? []).filter((task) => !shownIds.has(task.id)).length;
  const addedHere = shown.filter(isLocalTask).length;
  const total = Math.max(0, (list.data?.total ?? 0) - hiddenHere + addedHere);
  const filtered = status !== "all" || q !== "" || priority !== "any" || tags.length > 0 || overdue;
  const toggleTag = (tag: string) =>
    reset(() =>
      setTags((current) =>
        current.some((t) => t.toLowerCase() === tag.toLowerCase())
          ? current.filter((t) => t.toLowerCase() !== tag.toLowerCase())
          : [...current, tag],
      ),
    );
  // While the first page has not come yet, or the list keeps failing.
  const trouble = list.failureReason ? describe(list.failureReason) : null;

  function reset(change: () => void) {
    change();
    setOffset(0);
  }

  function search(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const value = String(new FormData(event.currentTarget).get("q")).trim();
    reset(() => setQ(value));
  }

  return (
    <div className="mt-4 space-y-4">
      <SyncBanner />
      <SyncProblems />
      <AddTask />

      <section aria-label="Filters and sort" className="card space-y-3 p-3 sm:p-4">
        <div className="flex flex-col gap-3 md:flex-row md:items-center md:justify-between">
          <div role="group" aria-label="Filters" className="inline-flex self-start rounded-lg bg-slate-100 p-1">
            {(["all", "pending", "completed"] as const).map((value) => (
              <button
                key={value}
                aria-pressed={status === value}
                className="rounded-md px-3 py-1.5 text-sm font-medium text-slate-600 transition-colors hover:text-slate-900 aria-pressed:bg-white aria-pressed:text-slate-900 aria-pressed:shadow-sm"
                onClick={() => reset(() => setStatus(value))}
              >
                {statusNames[value]}
              </button>
            ))}
          </div>
          <form role="search" onSubmit={search} className="flex min-w-0 gap-2 md:w-80">
            <label className="relative min-w-0 flex-1">
              <span className="sr-only">Search</span>
              <SearchIcon className="pointer-events-none absolute top-1/2 left-3 size-4 -translate-y-1/2 text-slate-400" />
              <input
                name="q"
                type="search"
                defaultValue={q}
                maxLength={limits.search}
                placeholder="Search tasks"
                className="field pl-9"
              />
            </label>
            <button type="submit" className="btn-secondary">
              Search
            </button>
          </form>
        </div>
        <div className="grid grid-cols-2 gap-3 sm:flex sm:flex-wrap sm:items-end">
          <div className="sm:w-40">
            <label className="label" htmlFor="filter-priority">
              Priority
            </label>
            <select
              id="filter-priority"
              className="field"
              value={priority}
              onChange={(e) => reset(() => setPriority(e.target.value as PriorityFilter))}
            >
              {(Object.keys(priorityFilterNames) as PriorityFilter[]).map((key) => (
                <option key={key} value={key}>
                  {priorityFilterNames[key]}
                </option>
              ))}
            </select>
          </div>
          <div className="sm:w-40">
            <label className="label" htmlFor="filter-tag">
              Tag
            </label>
            <select
              id="filter-tag"
              className="field"
              value=""
              onChange={(e) => {
                if (e.target.value) toggleTag(e.target.value);
              }}
            >
              <option value="">{tags.length ? "Add a tag…" : "Any tag"}</option>
              {tagList.data
                ?.filter((tag) => !tags.some((t) => t.toLowerCase() === tag.name.toLowerCase()))
                .map((tag) => (
                  <option key={tag.name} value={tag.name}>
                    {tag.name} ({tag.pending})
                  </option>
                ))}
            </select>
          </div>
          <div className="sm:w-40">
            <label className="label" htmlFor="sort-by">
              Sort by
            </label>
            <select
              id="sort-by"
              className="field"
              value={sort}
              onChange={(e) => {
                const next = e.target.value as Sort;
                reset(() => {
                  setSort(next);
                  setOrder(naturalOrder[next]);
                });
              }}
            >
              {(Object.keys(sortNames) as Sort[]).map((key) => (
                <option key={key} value={key}>
                  {sortNames[key]}
                </option>
              ))}
            </select>
          </div>
          <div className="sm:w-48">
            <label className="label" htmlFor="sort-order">
              Order
            </label>
            <select
              id="sort-order"
              className="field" value={order} onChange={(e) => reset(() => setOrder(e.target.value as Order))}>
              <option value={naturalOrder[sort]}>{orderNames[sort][naturalOrder[sort]]}</option>
              <option value={naturalOrder[sort] === "asc" ? "desc" : "asc"}>
                {orderNames[sort][naturalOrder[sort] === "asc" ? "desc" : "asc"]}
              </option>
            </select>
          </div>
          <button
            className="btn-secondary col-span-2 aria-pressed:border-red-300 aria-pressed:bg-red-50 aria-pressed:text-red-700 sm:col-span-1"
            aria-pressed={overdue}
            onClick={() => reset(() => setOverdue(!overdue))}
          >
            Overdue only
          </button>
        </div>
      </section>

      <Summary
        status={status}
        q={q}
        priority={priority}
        tags={tags}
        overdue={overdue}
        onRemoveTag={toggleTag}
        sort={sort}
        order={order}
        onClear={
          filtered
            ? () =>
                reset(() => {
                  setStatus("all");
                  setQ("");
                  setPriority("any");
                  setTags([]);
                  setOverdue(false);
                })
            : undefined
        }
      />

      {trouble && (
        <div
          role="alert"
          data-testid="trouble"
          data-kind={trouble.kind}
          className={
            "flex flex-wrap items-center gap-3 rounded-xl border px-4 py-3 text-sm " +
            (trouble.kind === "session" ? "border-amber-300 bg-amber-50 text-amber-900" : "border-red-200 bg-red-50 text-red-800")
          }
        >
          <AlertIcon className="size-5 shrink-0" />
          <span className="flex-1">{trouble.message}</span>
          {trouble.kind === "session" ? (
            <a className="btn-secondary" href="/sign-in">
              Sign in again
            </a>
          ) : (
            <button className="btn-secondary" onClick={() => void list.refetch()}>
              Retry now
            </button>
          )}
        </div>
      )}

      <section aria-label="Task list" className="card overflow-hidden">
        {list.data ? (
          <>
            <ul aria-label="Tasks" aria-busy={list.isFetching} className="divide-y divide-slate-100">
              {shown.map((task) => (
                <TaskItem
                  key={task.id}
                  task={task}
                  waiting={task.waiting}
                  onDelete={deletes.schedule}
                  onTag={toggleTag}
                  activeTags={tags}
                />
              ))}
            </ul>
            {shown.length === 0 && <EmptyState filtered={filtered} />}
          </>
        ) : list.isError && !trouble?.transient ? (
          // Retrying cannot help (signed out, say): no endless skeleton.
          <p className="px-6 py-12 text-center text-sm text-slate-500">Your tasks will show here again once this is sorted out.</p>
        ) : (
          <Skeleton />
        )}
        <footer className="flex flex-wrap items-center justify-between gap-3 border-t border-slate-100 bg-slate-50/60 px-4 py-2.5">
          <LiveBadge state={live} />
          {list.data ? (
            <nav aria-label="Pages" className="flex items-center gap-2">
              <button
                className="btn-ghost px-2"
                disabled={offset === 0}
                onClick={() => setOffset(Math.max(0, offset - PAGE_SIZE))}
              >
                <ChevronLeftIcon className="size-4" />
                Previous
              </button>
              <span data-testid="range" className="text-sm text-slate-600 tabular-nums">
                {total === 0 ? "0" : `${offset + 1}–${Math.min(offset + shown.length, total)}`} of {total}
              </span>
              <button
                className="btn-ghost px-2"
                disabled={offset + PAGE_SIZE >= total}
                onClick={() => setOffset(offset + PAGE_SIZE)}
              >
                Next
                <ChevronRightIcon className="size-4" />
              </button>
            </nav>
          ) : (
            <span className="text-sm text-slate-500">Loading tasks…</span>
          )}
        </footer>
      </section>

      <Toasts
        notices={notices.list}
        onDismiss={notices.dismiss}
        pending={deletes.pending}
        onUndo={(task: Task) => deletes.undo(task.id)}
      />
    </div>
  );
}

/** The filters and the sort in force, in one sentence. */
function Summary({
  status,
  q,
  priority,
  tags,
  overdue,
  onRemoveTag,
  sort,
  order,
  onClear,
}: {
  status: Status;
  q: string;
  priority: PriorityFilter;
  tags: string[];
  overdue: boolean;
  onRemoveTag: (tag: string) => void;
  sort: Sort;
  order: Order;
  onClear?: () => void;
}) {
  const parts = [
    overdue ? (status === "completed" ? "Completed overdue tasks" : "Overdue tasks") : status === "all" ? "All tasks" : `${statusNames[status]} tasks`,
  ];
  if (priority !== "any") parts.push(priority === "none" ? "with no priority" : `of ${priorityFilterNames[priority].toLowerCase()} priority`);
  if (tags.length) parts.push(`tagged ${tags.map((t) => `“${t}”`).join(" and ")}`);
  if (q) parts.push(`matching “${q}”`);
  return (
    <div className="flex flex-wrap items-center gap-x-3 gap-y-1.5 px-1 text-sm text-slate-600">
      <p data-testid="summary" aria-live="polite">
        <span className="font-medium text-slate-900">{parts.join(" ")}</span>
        {" · "}sorted by {sortNames[sort].toLowerCase()}, {orderNames[sort][order].toLowerCase()}
      </p>
      {tags.map((tag) => (
        <button
          key={tag}
          className="chip bg-brand-600 text-white hover:bg-brand-700"
          onClick={() => onRemoveTag(tag)}
          data-testid="active-tag"
        >
          <span aria-hidden="true">#{tag}</span>
          <XIcon className="size-3" />
          <span className="sr-only">Remove the tag filter {tag}</span>
        </button>
      ))}
      {onClear && (
        <button className="inline-flex items-center gap-1 text-sm font-medium text-brand-600 hover:underline" onClick={onClear}>
          <XIcon className="size-3.5" /> Clear filters
        </button>
      )}
    </div>
  );
}

function Skeleton() {
  return (
    <div data-testid="skeleton" aria-busy="true" aria-label="Loading tasks" role="status">
      <span className="sr-only">Loading tasks…</span>
      <ul aria-hidden="true" className="divide-y divide-slate-100">
        {[72, 56, 64, 48, 60].map((width, i) => (
          <li key={i} className="flex items-center gap-3 px-4 py-4">
            <span className="skeleton size-5 rounded-md" />
            <span className="flex-1 space-y-2">
              <span className="skeleton block h-3.5" style={{ width: `${width}%` }} />
              <span className="skeleton block h-3 w-1/4" />
            </span>
          </li>
        ))}
      </ul>
    </div>
  );
}

function EmptyState({ filtered }: { filtered: boolean }) {
  return (
    <div className="px-6 py-12 text-center" data-testid="empty">
      <p className="text-sm font-medium text-slate-900">{filtered ? "No tasks match" : "No tasks yet"}</p>
      <p className="mt-1 text-sm text-slate-500">
        {filtered ? "Try another filter or search." : "Add your first task above."}
      </p>
    </div>
  );
}

const liveText: Record<LiveState, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  stopped: "Not updating — reload the page",
  "signed-out": "Not updating — signed out",
};
const liveDot: Record<LiveState, string> = {
  connecting: "bg-slate-400",
  live: "bg-emerald-500",
  reconnecting: "bg-amber-500 animate-pulse",
  stopped: "bg-red-500",
  "signed-out": "bg-red-500",
};

function LiveBadge({ state }: { state: LiveState }) {
  return (
    <span
      className="inline-flex items-center gap-2 text-xs font-medium text-slate-600"
      data-testid="live"
      data-state={state}
      role="status"
      title={state === "live" ? "Changes made elsewhere show here at once" : undefined}
    >
      <span aria-hidden="true" className={`size-2 rounded-full ${liveDot[state]}`} />
      {liveText[state]}
    </span>
  );
}
