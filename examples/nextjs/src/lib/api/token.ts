"use client";
// The signed-in user's JWT, from Better Auth (`authClient.token()`), kept in
// this module's memory only: never in storage or a cookie the app sets.
import { authClient } from "../auth-client";

let current: string | null = null;
let pending: Promise<string> | null = null;

/** The token in memory, fetched once when there is none. */
export async function currentToken(): Promise<string> {
  return current ?? refreshToken();
}

/** A fresh token from Better Auth; concurrent callers share one request. */
export function refreshToken(): Promise<string> {
  pending ??= authClient
    .token()
    .then(({ data, error }) => {
      if (!data?.token) throw new Error(error?.message ?? "not signed in");
      current = data.token;
      return data.token;
    })
    .finally(() => {
      pending = null;
    });
  return pending;
}

/** Forgets the token: on sign-out and account deletion. */
export function forgetToken(): void {
  current = null;
}
