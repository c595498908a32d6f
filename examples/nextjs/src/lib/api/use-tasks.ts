"use client";
// The task queries and mutations, cached by TanStack Query. Every write of
// an existing task sends If-Match with the version the user saw; a 412
// comes back as a `Conflict` carrying the newer version. Offline (or while
// earlier offline writes still wait) a write goes to the offline queue
// instead (offline.tsx), which sends it when the network is back.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { etagOf, listTags, type components, type operations, type Tag, type Task } from "todo-api-client";

import { useApi } from "@/app/providers";

import { ApiProblem } from "./errors";
import { useOffline } from "./offline";

export { ApiProblem } from "./errors";

export type ListQuery = NonNullable<operations["listTasks"]["parameters"]["query"]>;
export type TaskPage = { tasks: Task[]; total: number };
export type NewTask = components["schemas"]["CreateTask"];
export type TaskChanges = components["schemas"]["UpdateTask"];

/** A stale write: someone else changed the task first. `newer` is null when it was deleted. */
export class Conflict extends Error {
  constructor(readonly newer: Task | null) {
    super("the task changed elsewhere");
    this.name = "Conflict";
  }
}

/** Every cached page of the list starts with this key. */
export const listKey = ["tasks"] as const;
/** The user's tags with their counts (GET /api/tags). */
export const tagsKey = ["tags"] as const;

/** The user's tags, for the tag filter and suggestions. */
export function useTagList() {
  const api = useApi();
  return useQuery({ queryKey: tagsKey, queryFn: (): Promise<Tag[]> => listTags(api) });
}

export function useTaskList(query: ListQuery) {
  const api = useApi();
  return useQuery({
    queryKey: [...listKey, query],
    placeholderData: keepPreviousData,
    // No abort signal: a superseded page is left to finish and ignored,
    // rather than cancelled mid-flight.
    queryFn: async (): Promise<TaskPage> => {
      const { data, error, response } = await api.GET("/api/tasks", { params: { query } });
      if (error) throw new ApiProblem(error);
      return { tasks: data, total: Number(response.headers.get("x-total-count") ?? data.length) };
    },
  });
}

export function useTaskMutations() {
  const api = useApi();
  const offline = useOffline();
  const queryClient = useQueryClient();
  const refresh = () =>
    Promise.all([
      queryClient.invalidateQueries({ queryKey: listKey }),
      queryClient.invalidateQueries({ queryKey: tagsKey }),
    ]);

  /** After a 412: the task as it is now, or null when it is gone. */
  async function conflict(id: number): Promise<Conflict> {
    const { data } = await api.GET("/api/tasks/{id}", { params: { path: { id } } });
    return new Conflict(data ?? null);
  }

  /** Replaces one task in every cached page, for optimistic updates. */
  function patchCached(id: number, change: (task: Task) => Task) {
    queryClient.setQueriesData<TaskPage>({ queryKey: listKey }, (page) =>
      page && { ...page, tasks: page.tasks.map((task) => (task.id === id ? change(task) : task)) },
    );
  }

  /** Records a write in the offline queue, and sends it at once when the browser is online. */
  async function queued<T>(record: () => Promise<T>): Promise<T> {
    const result = await record();
    offline.sync();
    return result;
  }

  const create = useMutation({
    mutationFn: async (body: NewTask): Promise<Task> => {
      if (offline.queues()) return queued(() => offline.queue.create(body));
      const { data, error } = await api.POST("/api/tasks", { body });
      if (error) throw new ApiProblem(error);
      return data;
    },
    onSuccess: refresh,
  });

  const update = useMutation({
    mutationFn: async ({ task, changes }: { task: Task; changes: TaskChanges }): Promise<Task> => {
      if (offline.queues(task)) {
        await queued(() => offline.queue.update(task, changes));
        return { ...task, ...(changes as Partial<Task>) };
      }
      const { data, error, response } = await api.PUT("/api/tasks/{id}", {
        params: { path: { id: task.id }, header: { "If-Match": etagOf(task) } },
        body: changes,
      });
      if (response.status === 412) throw await conflict(task.id);
      if (error) throw new ApiProblem(error);
      return data;
    },
    onSettled: refresh,
  });

  const toggle = useMutation({
    mutationFn: async (task: Task): Promise<Task> => {
      if (offline.queues(task)) {
        await queued(() => offline.queue.complete(task, !task.completed));
        return { ...task, completed: !task.completed };
      }
      const { data, error, response } = await api.PATCH("/api/tasks/{id}/complete", {
        params: { path: { id: task.id }, header: { "If-Match": etagOf(task) } },
        body: { completed: !task.completed },
      });
      if (response.status === 412) throw await conflict(task.id);
      if (error) throw new ApiProblem(error);
      return data;
    },
    // Optimistic: the box flips at once and flips back if the call fails.
    // Not for a recurring task being completed: the service moves it to its
    // next occurrence (still pending) rather than ticking it.
    onMutate: async (task) => {
      await queryClient.cancelQueries({ queryKey: listKey });
      if (task.recurrence && !task.completed) return;
      patchCached(task.id, (cached) => ({ ...cached, completed: !task.completed }));
    },
    // The answer at once (a recurring task's next due date, say), ahead of the refetch.
    onSuccess: (answered) => patchCached(answered.id, (cached) => (answered.version >= cached.version ? answered : cached)),
    onSettled: refresh,
  });

  const remove = useMutation({
    mutationFn: async (task: Task) => {
      if (offline.queues(task)) return queued(() => offline.queue.remove(task));
      const { error, response } = await api.DELETE("/api/tasks/{id}", {
        params: { path: { id: task.id }, header: { "If-Match": etagOf(task) } },
      });
      if (response.status === 412) throw await conflict(task.id);
      // Already gone (deleted in another tab meanwhile): what the user wanted.
      if (error && response.status !== 404) throw new ApiProblem(error);
    },
    onSettled: refresh,
  });

  return { create, update, toggle, remove };
}
