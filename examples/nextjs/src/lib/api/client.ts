"use client";
// The typed client: openapi-fetch over the types generated from the
// service's committed openapi.json (`npm run generate`).
import createClient, { type Client } from "openapi-fetch";

import type { components, paths } from "./schema";
import { currentToken, refreshToken } from "./token";

export type Task = components["schemas"]["Task"];
export type Problem = components["schemas"]["Problem"];
export type TodoClient = Client<paths>;

/**
 * Sends the bearer token on every call. Tokens live 15 minutes: when the
 * service answers 401, the token is refreshed once and the call retried.
 */
async function fetchWithToken(request: Request): Promise<Response> {
  const retry = request.clone();
  request.headers.set("Authorization", `Bearer ${await currentToken()}`);
  const response = await fetch(request);
  if (response.status !== 401) return response;
  await response.arrayBuffer(); // read to the end, so the browser does not count it aborted later
  retry.headers.set("Authorization", `Bearer ${await refreshToken()}`);
  return fetch(retry);
}

export function createTodoClient(baseUrl: string): TodoClient {
  return createClient<paths>({ baseUrl, fetch: fetchWithToken });
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
