"use client";
import { useState } from "react";

import { forgetToken } from "@/lib/api/token";
import { stopLiveUpdates } from "@/lib/api/use-live-tasks";
import { authClient } from "@/lib/auth-client";

/** Who is signed in, sign out, and delete my account. */
export function Account({ name, email }: { name: string; email: string }) {
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | null>(null);

  /** A full page load: the cached tasks and the token in memory go with the page. */
  function leave(to: string) {
    forgetToken();
    window.location.assign(to);
  }

  async function signOut() {
    stopLiveUpdates();
    await authClient.signOut();
    leave("/sign-in");
  }

  /** The server erases the tasks (DELETE /api/me) before the Better Auth user: see lib/auth.ts. */
  async function deleteAccount() {
    stopLiveUpdates();
    const { error } = await authClient.deleteUser();
    if (error) setError(error.message ?? "could not delete the account");
    else leave("/sign-up");
  }

  return (
    <div>
      <span className="muted" data-testid="who">
        {name} ({email})
      </span>{" "}
      <button onClick={signOut}>Sign out</button>{" "}
      {confirming ? (
        <>
          <button onClick={deleteAccount}>Yes, delete my account and tasks</button>{" "}
          <button onClick={() => setConfirming(false)}>Keep it</button>
        </>
      ) : (
        <button onClick={() => setConfirming(true)}>Delete my account</button>
      )}
      {error && <p className="error" role="alert">{error}</p>}
    </div>
  );
}
