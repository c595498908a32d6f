"use client";
import Link from "next/link";
import { useState, type FormEvent } from "react";

import { authClient } from "@/lib/auth-client";

import { LogoIcon } from "./icons";

/** Better Auth's answer, in words. */
function explain(error: { status?: number; message?: string }, mode: "sign-in" | "sign-up"): string {
  if (error.status === 429) {
    // Per account (lib/auth.ts) the message says how long; per address it does not.
    return error.message?.includes("this account") ? error.message : "Too many attempts — wait a minute, then try again.";
  }
  if (error.status === 401 && mode === "sign-in") return "That email and password don't match an account.";
  if (!error.status) return "Can't reach the server — check your connection and try again.";
  return error.message || (mode === "sign-up" ? "Could not create the account." : "Could not sign in.");
}

/** Sign up (name, email, password) or sign in (email, password). */
export function AuthForm({ mode }: { mode: "sign-in" | "sign-up" }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const title = mode === "sign-up" ? "Create your account" : "Sign in to Todo";

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const email = String(form.get("email"));
    const password = String(form.get("password"));
    setBusy(true);
    setError(null);
    const { error } =
      mode === "sign-up"
        ? await authClient.signUp.email({ name: String(form.get("name")), email, password })
        : await authClient.signIn.email({ email, password });
    if (error) {
      setBusy(false);
      setError(explain(error, mode));
    } else window.location.assign("/");
  }

  return (
    <main className="flex min-h-dvh flex-col items-center justify-center px-4 py-10">
      <div className="w-full max-w-sm">
        <div className="mb-6 flex flex-col items-center gap-3 text-center">
          <LogoIcon className="size-10" />
          <h1 className="text-xl font-semibold tracking-tight">{title}</h1>
        </div>
        <form onSubmit={submit} className="card space-y-4 p-6" aria-describedby={error ? "auth-error" : undefined}>
          {mode === "sign-up" && (
            <div>
              <label className="label" htmlFor="name">
                Name
              </label>
              <input id="name" className="field" name="name" required autoComplete="name" />
            </div>
          )}
          <div>
            <label className="label" htmlFor="email">
              Email
            </label>
            <input id="email" className="field" name="email" type="email" required autoComplete="email" />
          </div>
          <div>
            <label className="label" htmlFor="password">
              Password
            </label>
            <input
              id="password"
              className="field"
              name="password"
              type="password"
              required
              minLength={8}
              autoComplete={mode === "sign-up" ? "new-password" : "current-password"}
              aria-describedby={mode === "sign-up" ? "password-hint" : undefined}
            />
            {mode === "sign-up" && (
              <p id="password-hint" className="mt-1 text-xs text-slate-500">
                At least 8 characters.
              </p>
            )}
          </div>
          {error && (
            <p id="auth-error" className="rounded-lg bg-red-50 px-3 py-2 text-sm text-red-700" role="alert">
              {error}
            </p>
          )}
          <button type="submit" className="btn-primary w-full" disabled={busy}>
            {mode === "sign-up" ? "Sign up" : "Sign in"}
          </button>
        </form>
        <p className="mt-4 text-center text-sm text-slate-600">
          {mode === "sign-up" ? (
            <>
              Already have an account?{" "}
              <Link className="font-medium text-brand-600 hover:underline" href="/sign-in" prefetch={false}>
                Sign in
              </Link>
            </>
          ) : (
            <>
              New here?{" "}
              <Link className="font-medium text-brand-600 hover:underline" href="/sign-up" prefetch={false}>
                Create an account
              </Link>
            </>
          )}
        </p>
      </div>
    </main>
  );
}
