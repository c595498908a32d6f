// Better Auth on the server: email and password, the `jwt` plugin that signs
// the tokens the Todo API verifies against /api/auth/jwks, and users kept in
// PostgreSQL through `pg`, in a database of their own.
import { betterAuth } from "better-auth";
import { APIError } from "better-auth/api";
import { nextCookies } from "better-auth/next-js";
import { jwt } from "better-auth/plugins";
import { Pool } from "pg";

import { serverConfig } from "./config";

export const auth = betterAuth({
  baseURL: serverConfig.betterAuthUrl, // the tokens' `iss` and `aud`
  secret: serverConfig.betterAuthSecret,
  database: new Pool({ connectionString: serverConfig.authDatabaseUrl }),
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
