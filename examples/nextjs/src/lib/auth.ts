// Better Auth on the server: email and password, the `jwt` plugin that signs
// the tokens the Todo API verifies against /api/auth/jwks, and users kept in
// PostgreSQL through `pg`, in a database of their own.
import { betterAuth } from "better-auth";
import { APIError, createAuthMiddleware } from "better-auth/api";
import { nextCookies } from "better-auth/next-js";
import { jwt } from "better-auth/plugins";
import { Pool } from "pg";

import { serverConfig } from "./config";
import { accountKey, consume, type Rule } from "./sign-in-limit";

const pool = new Pool({ connectionString: serverConfig.authDatabaseUrl });

/**
 * Sign-in limits that fit a shared network. Better Auth counts requests per
 * client address and path; its default for sign-in (3 in 10 s) would lock a
 * whole office out after three typos. Per address the limits here are
 * generous, and each account gets its own, counted whatever address the
 * attempts come from.
 */
export const signInLimits = {
  /** Every auth route, per address: token refreshes and session reads of many people behind one address. */
  perAddress: { window: 60, max: 300 },
  /** Sign-in and sign-up, per address. */
  signInPerAddress: { window: 60, max: 30 },
  /** Sign-in, per account (the email), from any address. */
  signInPerAccount: { window: 60, max: 5 },
} satisfies Record<string, Rule>;

export const auth = betterAuth({
  baseURL: serverConfig.betterAuthUrl, // the tokens' `iss` and `aud`
  secret: serverConfig.betterAuthSecret,
  database: pool,
  rateLimit: {
    // On in production (Better Auth's default), kept in the auth database so
    // every instance of the app shares the counts.
    storage: "database",
    ...signInLimits.perAddress,
    customRules: {
      "/sign-in/email": signInLimits.signInPerAddress,
      "/sign-up/email": signInLimits.signInPerAddress,
    },
  },
  hooks: {
    before: createAuthMiddleware(async (ctx) => {
      if (ctx.path !== "/sign-in/email" || !ctx.request) return; // HTTP requests only, not auth.api calls
      const email: unknown = ctx.body?.email;
      if (typeof email !== "string" || email === "") return;
      const wait = await consume(pool, accountKey(email, ctx.path), signInLimits.signInPerAccount);
      if (wait !== null) {
        throw new APIError(
          "TOO_MANY_REQUESTS",
          { message: `Too many sign-in attempts for this account. Try again in ${wait} seconds.` },
          { "X-Retry-After": String(wait) },
        );
      }
    }),
  },
  emailAndPassword: { enabled: true },
  plugins: [jwt(), nextCookies()], // EdDSA keys, 15-minute tokens
  // The tables are brought up to date as the server starts (instrumentation.ts);
  // a check at load would race with that, and `next build` has no database.
  advanced: { database: { validateSchema: false } },
  user: {
    deleteUser: {
      enabled: true,
      // Erase the user's tasks first, with their own token, while their
      // session still exists: a failure keeps the whole account to retry with.
      beforeDelete: async (_user, request) => {
        if (!request) throw new APIError("BAD_REQUEST", { message: "deleting needs the user's session" });
        const { token } = await auth.api.getToken({ headers: request.headers });
        const erased = await fetch(`${serverConfig.todoApiUrl}/api/me`, {
          method: "DELETE",
          headers: { Authorization: `Bearer ${token}` },
        });
        if (erased.status !== 204) {
          throw new APIError("INTERNAL_SERVER_ERROR", { message: "could not erase the user's tasks" });
        }
      },
    },
  },
});
