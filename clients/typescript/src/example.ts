// What a frontend does with the client. Every request and response below is
// typed from openapi.json: a wrong field name or type fails `tsc --strict`.
import type { Problem, Task, TodoClient } from "./client.js";

export interface Tour {
  created: Task;
  retriedCreate: Task;
  safeUpdate: SafeUpdate;
  staleUpdate: SafeUpdate;
  updated: Task;
  completed: Task;
  pending: Task[];
  totalPending: number;
  invalid: Problem;
  missing: Problem;
  deletedStatus: number;
  /** Tasks left after the account was erased (none), and a repeat erasure's status. */
  leftAfterErasure: number;
  repeatedErasureStatus: number;
}

/** The outcome of an update sent with `If-Match`. */
export interface SafeUpdate {
  /** The task as it now stands: the update's result, or, after a 412, the newer version. */
  task: Task;
  /** Its `ETag`, to send with the next change. */
  etag: string;
  /** `true` when someone else changed the task first and nothing was overwritten. */
  conflict: boolean;
}

/**
 * Updates a task only if it is still at the version `etag` names. On 412
 * (another device changed it first) it re-reads the task and returns the
 * newer version instead of overwriting it: the app shows it and lets the user
 * decide.
 */
export async function updateIfUnchanged(
  api: TodoClient,
  id: number,
  etag: string,
  body: { title?: string; description?: string | null; completed?: boolean },
): Promise<SafeUpdate> {
  const updated = await api.PUT("/api/tasks/{id}", {
    params: { path: { id }, header: { "If-Match": etag } },
    body,
  });
  if (updated.data) {
    return { task: updated.data, etag: updated.response.headers.get("ETag") ?? "", conflict: false };
  }
  if (updated.response.status !== 412) throw new Error(`update failed: ${updated.error?.detail}`);
  const current = await api.GET("/api/tasks/{id}", { params: { path: { id } } });
  if (!current.data) throw new Error(`re-read failed: ${current.error?.detail}`);
  return { task: current.data, etag: current.response.headers.get("ETag") ?? "", conflict: true };
}

/**
 * Erases everything the API keeps about the signed-in user: their tasks and
 * their record. Call it before Better Auth deletes the user (its
 * `user.deleteUser.beforeDelete` hook), with that user's token. Safe to
 * repeat: a second call, or one for a user who never wrote anything, is
 * also a 204. Returns the status.
 */
export async function eraseAccount(api: TodoClient): Promise<number> {
  const erased = await api.DELETE("/api/me");
  if (erased.response.status !== 204) {
    throw new Error(`erasure failed: ${erased.error?.detail ?? erased.response.status}`);
  }
  return erased.response.status;
}

export async function tourOfTheApi(api: TodoClient): Promise<Tour> {
  // A retry of a create (after a timeout, say) carries the same key and
  // gets the first response back: no second task.
  const key = `create-${Date.now()}-${Math.random()}`;
  const newTask = { title: "  Try the typed client  ", description: "from TypeScript" };
  const created = await api.POST("/api/tasks", {
    params: { header: { "Idempotency-Key": key } },
    body: newTask,
  });
  if (!created.data) throw new Error(`create failed: ${created.error?.detail}`);
  const id = created.data.id;
  const retried = await api.POST("/api/tasks", {
    params: { header: { "Idempotency-Key": key } },
    body: newTask,
  });
  if (!retried.data) throw new Error(`retry failed: ${retried.error?.detail}`);

  // Two devices hold the same version; the first to write wins, the second
  // gets the newer version back instead of silently overwriting it.
  const etag = created.response.headers.get("ETag") ?? "";
  const safeUpdate = await updateIfUnchanged(api, id, etag, { description: "edited on the laptop" });
  const staleUpdate = await updateIfUnchanged(api, id, etag, { description: "edited on the phone" });

  const updated = await api.PUT("/api/tasks/{id}", {
    params: { path: { id } },
    body: { title: "Tried the typed client", description: null },
  });
  if (!updated.data) throw new Error(`update failed: ${updated.error?.detail}`);

  // A second task that stays pending, to list with filters.
  await api.POST("/api/tasks", { body: { title: "Typed list filters" } });

  const completed = await api.PATCH("/api/tasks/{id}/complete", {
    params: { path: { id } },
    body: { completed: true },
  });
  if (!completed.data) throw new Error(`complete failed: ${completed.error?.detail}`);

  const pending = await api.GET("/api/tasks", {
    params: { query: { status: "pending", q: "typed", sort: "title", order: "asc", limit: 10 } },
  });
  if (!pending.data) throw new Error(`list failed: ${pending.error?.detail}`);
  const totalPending = Number(pending.response.headers.get("X-Total-Count"));

  // Errors come back typed as RFC 9457 problems.
  const invalid = await api.POST("/api/tasks", { body: { title: "" } });
  if (!invalid.error) throw new Error("an empty title was accepted");
  const missing = await api.GET("/api/tasks/{id}", { params: { path: { id: 987654321 } } });
  if (!missing.error) throw new Error("a missing task was found");

  const deleted = await api.DELETE("/api/tasks/{id}", { params: { path: { id } } });

  // Leaving: the account and every task with it.
  await eraseAccount(api);
  const afterErasure = await api.GET("/api/tasks");
  if (!afterErasure.data) throw new Error(`list failed: ${afterErasure.error?.detail}`);
  const repeatedErasureStatus = await eraseAccount(api);

  return {
    created: created.data,
    retriedCreate: retried.data,
    safeUpdate,
    staleUpdate,
    updated: updated.data,
    completed: completed.data,
    pending: pending.data,
    totalPending,
    invalid: invalid.error,
    missing: missing.error,
    deletedStatus: deleted.response.status,
    leftAfterErasure: afterErasure.data.length,
    repeatedErasureStatus,
  };
}
