"use client";
import Link from "next/link";
import { useState, type FormEvent } from "react";

import { authClient } from "@/lib/auth-client";

/** Sign up (name, email, password) or sign in (email, password). */
export function AuthForm({ mode }: { mode: "sign-in" | "sign-up" }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const email = String(form.get("email"));
    const password = String(form.get("password"));
    setBusy(true);
    const { error } =
      mode === "sign-up"
        ? await authClient.signUp.email({ name: String(form.get("name")), email, password })
        : await authClient.signIn.email({ email, password });
    setBusy(false);
    if (error) setError(error.message ?? "could not sign in");
    else window.location.assign("/");
  }

  return (
    <main>
      <h1>{mode === "sign-up" ? "Sign up" : "Sign in"}</h1>
      <form onSubmit={submit}>
        {mode === "sign-up" && (
          <label>
            Name
            <input name="name" required autoComplete="name" />
          </label>
        )}
        <label>
          Email
          <input name="email" type="email" required autoComplete="email" />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            required
            minLength={8}
            autoComplete={mode === "sign-up" ? "new-password" : "current-password"}
          />
        </label>
        <button type="submit" disabled={busy}>
          {mode === "sign-up" ? "Sign up" : "Sign in"}
        </button>
      </form>
      {error && <p className="error" role="alert">{error}</p>}
      <p className="muted">
        {mode === "sign-up" ? (
          <Link href="/sign-in" prefetch={false}>I have an account</Link>
        ) : (
          <Link href="/sign-up" prefetch={false}>Create an account</Link>
        )}
      </p>
    </main>
  );
}
