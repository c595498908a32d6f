// The caller's tags: list them with their counts, rename one on every task
// that carries it, delete one from every task. A tag's name goes in the path
// percent-encoded (openapi-fetch encodes each path parameter with
// `encodeURIComponent`), so names holding `/`, `?`, `#`, `%` or spaces reach
// the service whole; the service matches them ignoring case.
import { TodoApiError, type TodoClient } from "./client.js";
import type { components } from "./generated/schema.js";

/** One of the caller's tags: `{ name, tasks, pending }`. */
export type Tag = components["schemas"]["Tag"];

/** Every tag on the caller's tasks, sorted ignoring case, with how many tasks carry it and how many of those are pending. */
export async function listTags(api: TodoClient): Promise<Tag[]> {
  const { data, error, response } = await api.GET("/api/tags");
  if (!data) throw new TodoApiError(response.status, error ?? null);
  return data;
}

/**
 * Renames `name` (matched ignoring case) to `to` on every task that carries
 * it, merging with `to` where a task has both; a new case of the same name
 * changes its spelling. Answers the tag as the list now has it. Throws
 * `TodoApiError` with status 404 when no task carries `name`, 422 when `to`
 * breaks the tag rules.
 */
export async function renameTag(api: TodoClient, name: string, to: string): Promise<Tag> {
  const { data, error, response } = await api.PUT("/api/tags/{name}", {
    params: { path: { name } },
    body: { name: to },
  });
  if (!data) throw new TodoApiError(response.status, error ?? null);
  return data;
}

/** Removes `name` (matched ignoring case) from every task. Throws `TodoApiError` with status 404 when no task carries it. */
export async function deleteTag(api: TodoClient, name: string): Promise<void> {
  const { error, response } = await api.DELETE("/api/tags/{name}", { params: { path: { name } } });
  if (response.status !== 204) throw new TodoApiError(response.status, error ?? null);
}

/** The path of a tag, for callers that build requests themselves: `/api/tags/` and the name, percent-encoded. */
export function tagPath(name: string): string {
  return `/api/tags/${encodeURIComponent(name)}`;
}
