"use client";
import { useId, useState, type FormEvent } from "react";

import { forgetToken } from "@/lib/api/token";
import { stopLiveUpdates } from "@/lib/api/use-live-tasks";
import { authClient } from "@/lib/auth-client";

/** A full page load: the cached tasks and the token in memory go with the page. */
function leave(to: string) {
  forgetToken();
  window.location.assign(to);
}

/** Who is signed in, and sign out: in the header, away from anything destructive. */
export function UserMenu({ name, email }: { name: string; email: string }) {
  const [busy, setBusy] = useState(false);

  async function signOut() {
    setBusy(true);
    stopLiveUpdates();
    await authClient.signOut();
    leave("/sign-in");
  }

  return (
    <div className="flex min-w-0 items-center gap-3">
      <span
        aria-hidden="true"
        className="grid size-8 shrink-0 place-items-center rounded-full bg-brand-100 text-sm font-semibold text-brand-700"
      >
        {(name || email).slice(0, 1).toUpperCase()}
      </span>
      <span className="hidden min-w-0 flex-col leading-tight sm:flex" data-testid="who">
        <span className="truncate text-sm font-medium text-slate-900">{name}</span>
        <span className="truncate text-xs text-slate-500">{email}</span>
      </span>
      <span className="sr-only sm:hidden">
        Signed in as {name} ({email})
      </span>
      <button className="btn-secondary" onClick={signOut} disabled={busy}>
        Sign out
      </button>
    </div>
  );
}

/**
 * Deleting the account, in a section of its own at the foot of the page,
 * behind a typed confirmation: the user's email (or the word "delete").
 * The server erases the tasks (DELETE /api/me) before the Better Auth user:
 * see lib/auth.ts.
 */
export function DangerZone({ email }: { email: string }) {
  const [open, setOpen] = useState(false);
  const [typed, setTyped] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const inputId = useId();
  const hintId = useId();
  const confirmed = [email.toLowerCase(), "delete"].includes(typed.trim().toLowerCase());

  async function deleteAccount(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!confirmed) return;
    setBusy(true);
    setError(null);
    stopLiveUpdates();
    const { error } = await authClient.deleteUser();
    if (error) {
      setBusy(false);
      setError(
        error.status === 401
          ? "Your session ended — sign in again, then delete the account."
          : "The account could not be deleted. Nothing was removed; try again.",
      );
    } else leave("/sign-up");
  }

  return (
    <section aria-labelledby="danger-zone" className="mt-12 rounded-xl border border-red-200 bg-white p-5 shadow-xs">
      <h2 id="danger-zone" className="text-base font-semibold text-red-700">
        Danger zone
      </h2>
      <div className="mt-1 flex flex-col gap-3 sm:flex-row sm:items-center sm:justify-between">
        <p className="text-sm text-slate-600">
          Deleting your account removes it and every task in it, for good.
        </p>
        {!open && (
          <button className="btn-danger-outline self-start sm:self-auto" onClick={() => setOpen(true)}>
            Delete my account…
          </button>
        )}
      </div>
      {open && (
        <form onSubmit={deleteAccount} aria-label="Delete my account" className="mt-4 rounded-lg bg-red-50 p-4">
          <label htmlFor={inputId} className="block text-sm font-medium text-red-900">
            Type your email to confirm
          </label>
          <p id={hintId} className="mt-0.5 text-xs text-red-800">
            Type <strong className="font-semibold break-all">{email}</strong> (or the word <strong>delete</strong>).
            This cannot be undone.
          </p>
          <input
            id={inputId}
            className="field mt-2 max-w-sm"
            value={typed}
            onChange={(e) => setTyped(e.target.value)}
            aria-describedby={hintId}
            autoComplete="off"
            spellCheck={false}
            autoFocus
          />
          <div className="mt-3 flex flex-wrap gap-2">
            <button type="submit" className="btn-danger" disabled={!confirmed || busy}>
              {busy ? "Deleting…" : "Delete my account and tasks"}
            </button>
            <button
              type="button"
              className="btn-secondary"
              onClick={() => {
                setOpen(false);
                setTyped("");
                setError(null);
              }}
            >
              Keep my account
            </button>
          </div>
          {error && (
            <p className="mt-2 text-sm text-red-700" role="alert">
              {error}
            </p>
          )}
        </form>
      )}
    </section>
  );
}
