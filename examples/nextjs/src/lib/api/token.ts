"use client";
// The signed-in user's JWT, from Better Auth (`authClient.token()`), kept in
// the typed client's token cache, in memory only: never in storage or a
// cookie the app sets.
import { tokenCache } from "todo-api-client";

import { authClient } from "../auth-client";

/** Better Auth has no session for this browser any more (signed out elsewhere, expired, account deleted). */
export class SessionEndedError extends Error {
  constructor() {
    super("Your session ended");
    this.name = "SessionEndedError";
  }
}

const token = tokenCache(async () => {
  const { data, error } = await authClient.token();
  if (data?.token) return data.token;
  if (error && (error.status === 401 || error.status === 403)) throw new SessionEndedError();
  // The app itself did not answer: a network error, not a signed-out user.
  throw new TypeError(error?.message || "Failed to fetch a token");
});

/** The token in memory, fetched once when there is none. */
export const currentToken = token.current;

/** A fresh token from Better Auth; concurrent callers share one request. */
export const refreshToken = token.refresh;

/** Forgets the token: on sign-out and account deletion. */
export const forgetToken = token.forget;
