"use client";
// The signed-in user's JWT, from Better Auth (`authClient.token()`), kept in
// the typed client's token cache, in memory only: never in storage or a
// cookie the app sets.
import { tokenCache } from "todo-api-client";

import { authClient } from "../auth-client";

const token = tokenCache(async () => {
  const { data, error } = await authClient.token();
  if (!data?.token) throw new Error(error?.message ?? "not signed in");
  return data.token;
});

/** The token in memory, fetched once when there is none. */
export const currentToken = token.current;

/** A fresh token from Better Auth; concurrent callers share one request. */
export const refreshToken = token.refresh;

/** Forgets the token: on sign-out and account deletion. */
export const forgetToken = token.forget;
