// A real Better Auth instance (memory adapter, email and password, jwt plugin)
// on 127.0.0.1, driven the way a Next.js frontend drives it; with its MCP
// plugin too where asked, as the authorization server of MCP clients.
import http from "node:http";
import { mcp } from "@better-auth/mcp";
import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { toNodeHandler } from "better-auth/node";
import { createJwk, jwt } from "better-auth/plugins/jwt";

/** The tables the MCP plugin (Better Auth's OAuth provider) keeps. */
const OAUTH_TABLES = [
  "oauthClient",
  "oauthResource",
  "oauthClientResource",
  "oauthAccessToken",
  "oauthRefreshToken",
  "oauthConsent",
  "oauthClientAssertion",
];

/**
 * `mcpResource` (the MCP server's URL) turns on the MCP plugin for it, with
 * open dynamic client registration as MCP clients expect. The plugin's access
 * tokens are then issued by the origin (as /api/auth/token's are; its default
 * would be `{origin}/api/auth`), and /api/auth/token's tokens are for the MCP
 * server's URL (as the plugin's are): a service checking one issuer and one
 * audience accepts both.
 */
export async function startBetterAuth({ alg = "EdDSA", mcpResource } = {}) {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  const jwtOptions = { jwks: { keyPairConfig: { alg } } };
  if (mcpResource) jwtOptions.jwt = { issuer: origin, audience: mcpResource };
  const tables = { user: [], session: [], account: [], verification: [], jwks: [] };
  const plugins = [jwt(jwtOptions)];
  if (mcpResource) {
    for (const table of OAUTH_TABLES) tables[table] = [];
    plugins.push(
      mcp({
        resource: mcpResource,
        // The app's own pages, where a browser would land: the tests do what
        // they do through Better Auth's endpoints.
        loginPage: "/sign-in",
        consentPage: "/consent",
        allowDynamicClientRegistration: true,
        allowUnauthenticatedClientRegistration: true,
      }),
    );
  }
  const auth = betterAuth({
    baseURL: origin,
    secret: "e2e-better-auth-secret-that-is-long-enough-0123456789",
    database: memoryAdapter(tables),
    emailAndPassword: { enabled: true },
    plugins,
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
    /**
     * What the user's browser does with an MCP client's authorization URL:
     * opens it signed in, lands on the consent page, approves (the call the
     * page makes), and is sent back to the client's redirect URI: that URL,
     * with the code.
     */
    async approve(session, authorizationUrl) {
      const headers = { cookie: session.cookie, origin, accept: "application/json" };
      const authorize = await fetch(authorizationUrl, { headers, redirect: "manual" });
      const landing = new URL(await redirectOf(authorize), origin);
      if (landing.pathname !== "/consent") throw new Error(`not sent to the consent page: ${landing}`);
      const consent = await fetch(`${origin}/api/auth/oauth2/consent`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify({ accept: true, oauth_query: landing.search.slice(1) }),
      });
      return new URL(await redirectOf(consent));
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** Where a Better Auth answer sends the browser: a 302, or the JSON form. */
async function redirectOf(response) {
  if (response.status >= 300 && response.status < 400) return response.headers.get("location");
  const body = await response.json();
  if (!response.ok || !body.url) throw new Error(`no redirect: ${response.status} ${JSON.stringify(body)}`);
  return body.url;
}

/** The JOSE header of a token. */
export function tokenHeader(token) {
  return JSON.parse(Buffer.from(token.split(".")[0], "base64url").toString());
}
