// The server's settings, read at run time (not baked in at build time), so
// one build runs against any service and any origin. Every variable is
// listed, with what it does, in ../../README.md.
function setting(name: string, fallback: string): string {
  return process.env[name] || fallback;
}

export const serverConfig = {
  /** This app's public origin: Better Auth's base URL. */
  betterAuthUrl: setting("BETTER_AUTH_URL", "http://localhost:3000"),
  /**
   * Required: the server refuses to start without it (instrumentation.ts).
   * `next build` loads the modules without serving anything, so it gets a
   * placeholder.
   */
  betterAuthSecret:
    process.env.BETTER_AUTH_SECRET ??
    (process.env.NEXT_PHASE === "phase-production-build" ? "placeholder-while-building-never-serves" : undefined),
  authDatabaseUrl: setting("AUTH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/todo_auth"),
  /** The Todo API's origin, as the browser reaches it. */
  todoApiUrl: setting("TODO_API_URL", "http://127.0.0.1:8000"),
};

/** The one line to print when a required setting is missing, or null when none is. */
export function missingSettings(): string | null {
  if (!process.env.BETTER_AUTH_SECRET) {
    return (
      "BETTER_AUTH_SECRET is not set: set it to a random string of at least 32 characters " +
      "(e.g. `openssl rand -base64 32`); the app signs sessions and protects its keys with it."
    );
  }
  return null;
}
