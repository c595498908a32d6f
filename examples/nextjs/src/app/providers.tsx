"use client";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createContext, useContext, useState, type ReactNode } from "react";
import { createTodoClient, type TodoClient } from "todo-api-client";

import { describe } from "@/lib/api/errors";
import { currentToken, refreshToken } from "@/lib/api/token";

const ApiContext = createContext<TodoClient | null>(null);
const ApiUrlContext = createContext<string | null>(null);

/** The typed Todo API client, for the service at the URL the server names. */
export function useApi(): TodoClient {
  const api = useContext(ApiContext);
  if (!api) throw new Error("useApi outside <Providers>");
  return api;
}

/** The service's origin, for what the typed client does not cover: the event stream. */
export function useApiUrl(): string {
  const apiUrl = useContext(ApiUrlContext);
  if (!apiUrl) throw new Error("useApiUrl outside <Providers>");
  return apiUrl;
}

export function Providers({ apiUrl, children }: { apiUrl: string; children: ReactNode }) {
  // The token in memory for each call; after a 401 (tokens live 15 minutes)
  // a fresh one, and the call is retried once.
  const [api] = useState(() => createTodoClient(apiUrl, ({ refresh }) => (refresh ? refreshToken() : currentToken())));
  const [queryClient] = useState(
    () =>
      new QueryClient({
        defaultOptions: {
          // The lists follow the service's event stream (use-live-tasks.ts),
          // not the window's focus; a stale edit is still caught by If-Match
          // and shown as a conflict.
          // A read that failed for a reason that passes (the service down or
          // busy) is tried again, more slowly each time, for as long as the
          // page shows it; the list says meanwhile what is wrong.
          queries: {
            refetchOnWindowFocus: false,
            staleTime: 30_000,
            retry: (_count, error) => describe(error).transient,
            retryDelay: (attempt) => Math.min(500 * 2 ** attempt, 8_000),
          },
          // Writes run offline too: they go to the offline queue then
          // (offline.tsx), rather than waiting, paused, for the network.
          mutations: { retry: false, networkMode: "always" },
        },
      }),
  );
  return (
    <ApiContext.Provider value={api}>
      <ApiUrlContext.Provider value={apiUrl}>
        <QueryClientProvider client={queryClient}>{children}</QueryClientProvider>
      </ApiUrlContext.Provider>
    </ApiContext.Provider>
  );
}
