"use client";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createContext, useContext, useState, type ReactNode } from "react";

import { createTodoClient, type TodoClient } from "@/lib/api/client";

const ApiContext = createContext<TodoClient | null>(null);

/** The typed Todo API client, for the service at the URL the server names. */
export function useApi(): TodoClient {
  const api = useContext(ApiContext);
  if (!api) throw new Error("useApi outside <Providers>");
  return api;
}

export function Providers({ apiUrl, children }: { apiUrl: string; children: ReactNode }) {
  const [api] = useState(() => createTodoClient(apiUrl));
  const [queryClient] = useState(
    () =>
      new QueryClient({
        defaultOptions: {
          // The list changes only through this tab's own edits or a reload;
          // a stale edit is caught by If-Match and shown as a conflict.
          queries: { refetchOnWindowFocus: false, retry: false, staleTime: 30_000 },
        },
      }),
  );
  return (
    <ApiContext.Provider value={api}>
      <QueryClientProvider client={queryClient}>{children}</QueryClientProvider>
    </ApiContext.Provider>
  );
}
