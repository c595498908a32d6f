// A real Better Auth instance (memory adapter, email and password, jwt plugin)
// on 127.0.0.1, driven the way a Next.js frontend drives it.
import http from "node:http";
import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { toNodeHandler } from "better-auth/node";
import { createJwk, jwt } from "better-auth/plugins/jwt";

export async function startBetterAuth({ alg = "EdDSA" } = {}) {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  const jwtOptions = { jwks: { keyPairConfig: { alg } } };
  const auth = betterAuth({
    baseURL: origin,
    secret: "e2e-better-auth-secret-that-is-long-enough-0123456789",
    database: memoryAdapter({ user: [], session: [], account: [], verification: [], jwks: [] }),
    emailAndPassword: { enabled: true },
    plugins: [jwt(jwtOptions)],
    logger: { disabled: true },
  });
  server.on("request", toNodeHandler(auth));

  return {
    origin,
    auth,
    /** Signs a user up and returns the session cookie, as the browser keeps it. */
    async signUp(name) {
      const email = `${name.toLowerCase()}-${Date.now()}@example.com`;
      const response = await fetch(`${origin}/api/auth/sign-up/email`, {
        method: "POST",
        headers: { "content-type": "application/json", origin },
        body: JSON.stringify({ email, password: "correct horse battery staple", name }),
      });
      if (!response.ok) throw new Error(`sign-up failed: ${response.status} ${await response.text()}`);
      const body = await response.json();
      const cookie = response.headers
        .getSetCookie()
        .map((c) => c.split(";")[0])
        .join("; ");
      return { user: body.user, cookie };
    },
    /** The JWT for a signed-in user, from /api/auth/token, exactly as the frontend gets it. */
    async tokenFor(session) {
      const response = await fetch(`${origin}/api/auth/token`, { headers: { cookie: session.cookie, origin } });
      if (!response.ok) throw new Error(`token failed: ${response.status}`);
      return (await response.json()).token;
    },
    /** Publishes a new signing key: tokens minted from now on carry its kid. */
    async rotateKey() {
      await createJwk({ context: await auth.$context }, jwtOptions);
    },
    /** A token Better Auth signs with its own key, with chosen claims. */
    async sign(payload) {
      const { token } = await auth.api.signJWT({ body: { payload } });
      return token;
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** The JOSE header of a token. */
export function tokenHeader(token) {
  return JSON.parse(Buffer.from(token.split(".")[0], "base64url").toString());
}
