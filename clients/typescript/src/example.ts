// What a frontend does with the client. Every request and response below is
// typed from openapi.json: a wrong field name or type fails `tsc --strict`.
import type { Problem, Task, TodoClient } from "./client.js";

export interface Tour {
  created: Task;
  updated: Task;
  completed: Task;
  pending: Task[];
  totalPending: number;
  invalid: Problem;
  missing: Problem;
  deletedStatus: number;
}

export async function tourOfTheApi(api: TodoClient): Promise<Tour> {
  const created = await api.POST("/api/tasks", {
    body: { title: "  Try the typed client  ", description: "from TypeScript" },
  });
  if (!created.data) throw new Error(`create failed: ${created.error?.detail}`);
  const id = created.data.id;

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

  return {
    created: created.data,
    updated: updated.data,
    completed: completed.data,
    pending: pending.data,
    totalPending,
    invalid: invalid.error,
    missing: missing.error,
    deletedStatus: deleted.response.status,
  };
}
