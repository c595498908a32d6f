// A bearer token kept in memory: fetched when first needed, fetched again
// when the service refused it, never stored anywhere else.

export interface TokenCache {
  /** The token in memory, fetched once when there is none. */
  current(): Promise<string>;
  /** A fresh token; concurrent callers share one fetch. */
  refresh(): Promise<string>;
  /** Forgets the token: on sign-out and account deletion. */
  forget(): void;
}

/**
 * Keeps the token `fetchToken` hands out (a frontend's Better Auth
 * `authClient.token()`, say). Give `createTodoClient` and `watchTasks` the
 * same cache: `current()` for a call or a first connection, `refresh()` after
 * a 401 or for a reconnection.
 */
export function tokenCache(fetchToken: () => Promise<string>): TokenCache {
  let current: string | null = null;
  let pending: Promise<string> | null = null;
  const refresh = (): Promise<string> => {
    pending ??= fetchToken()
      .then((token) => {
        current = token;
        return token;
      })
      .finally(() => {
        pending = null;
      });
    return pending;
  };
  return {
    current: async () => current ?? refresh(),
    refresh,
    forget() {
      current = null;
    },
  };
}
