// The typed client: openapi-fetch over types generated from openapi.json.
import createClient, { type Client } from "openapi-fetch";

import type { components, paths } from "./generated/schema.js";

export type Task = components["schemas"]["Task"];
export type Problem = components["schemas"]["Problem"];
export type TodoClient = Client<paths>;

/**
 * Where the client gets its bearer token. It is asked before every call with
 * `refresh: false` (hand over the token in memory) and, when the service
 * answered 401 (tokens expire: Better Auth's live 15 minutes), once more with
 * `refresh: true` (fetch a new one).
 */
export type GetToken = (context: { refresh: boolean }) => string | Promise<string>;

/**
 * A client that sends `Authorization: Bearer <JWT>` on every call. When the
 * service answers 401, it asks `getToken` for a fresh token and retries the
 * call once with it; a 401 is returned as it is when the fresh token is the
 * one just refused (a fixed token, say), or when the retry is refused too.
 */
export function createTodoClient(baseUrl: string, getToken: GetToken): TodoClient {
  async function fetchWithToken(request: Request): Promise<Response> {
    const retry = request.clone();
    const token = await getToken({ refresh: false });
    request.headers.set("Authorization", `Bearer ${token}`);
    const response = await fetch(request);
    if (response.status !== 401) return response;
    const fresh = await getToken({ refresh: true });
    if (fresh === token) return response;
    await response.arrayBuffer(); // read to the end, so the browser does not count it aborted later
    retry.headers.set("Authorization", `Bearer ${fresh}`);
    return fetch(retry);
  }
  return createClient<paths>({ baseUrl, fetch: fetchWithToken });
}

/** A call the service refused: its status and, when it sent one, its problem document (RFC 9457). */
export class TodoApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | null,
  ) {
    super(problem?.detail || problem?.title || `the service answered ${status}`);
    this.name = "TodoApiError";
  }
}

/** A task's `ETag`, for `If-Match`: the service quotes its version. */
export function etagOf(task: Pick<Task, "version">): string {
  return `"${task.version}"`;
}

/** The message for each field of a 422, by field name. */
export function fieldErrors(problem: Problem | undefined): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const { field, message } of problem?.errors ?? []) errors[field] ??= message;
  return errors;
}
