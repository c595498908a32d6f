// The typed client: openapi-fetch over types generated from openapi.json.
import createClient, { type Client, type Middleware } from "openapi-fetch";

import type { components, paths } from "./generated/schema.js";

export type Task = components["schemas"]["Task"];
export type Problem = components["schemas"]["Problem"];
export type TodoClient = Client<paths>;

/**
 * A client that sends `Authorization: Bearer <JWT>` on every call.
 * `getToken` is asked each time, so a frontend can hand over a fresh Better
 * Auth token (they live 15 minutes) without rebuilding the client.
 */
export function createTodoClient(
  baseUrl: string,
  getToken: () => string | Promise<string>,
): TodoClient {
  const client = createClient<paths>({ baseUrl });
  const bearer: Middleware = {
    async onRequest({ request }) {
      request.headers.set("Authorization", `Bearer ${await getToken()}`);
      return request;
    },
  };
  client.use(bearer);
  return client;
}
