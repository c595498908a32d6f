// An MCP client signs its user in through Better Auth's MCP plugin
// (@better-auth/mcp, its OAuth 2.1 provider) and calls POST /mcp with the
// access token it gets: the SDK finds Better Auth through the service's
// protected resource metadata, registers itself, sends the user to authorize
// (here: signed in, approving the consent page's request), and exchanges the
// code with PKCE and the `resource` indicator. The access token is a JWT
// signed with the jwt plugin's key set, for the MCP server's URL.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { after, before, describe, it } from "node:test";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

import { startBetterAuth } from "../lib/better-auth.mjs";
import { InMemoryOAuthProvider, connectMcp, decodeJwt } from "../lib/mcp.mjs";
import { freePort, startService } from "../lib/service.mjs";

describe("signing in through Better Auth's MCP plugin", () => {
  let betterAuth, service, resource, ada, bob;

  before(async () => {
    // The MCP server's URL is the tokens' audience: known before either starts.
    const port = await freePort();
    resource = `http://127.0.0.1:${port}/mcp`;
    betterAuth = await startBetterAuth({ mcpResource: resource });
    service = await startService({ PORT: String(port), BETTER_AUTH_URL: betterAuth.origin, JWT_AUDIENCE: resource });
    assert.equal(`${service.address}/mcp`, resource);
    ada = await betterAuth.signUp("Ada");
    bob = await betterAuth.signUp("Bob");
  });
  after(async () => {
    await service?.stop();
    await betterAuth?.close();
  });

  /**
   * The whole sign-in, as an assistant's app does it: connect, be refused,
   * let `user` authorize in the browser, finish, connect again. The
   * connected client and the provider holding its tokens.
   */
  async function signIn(user) {
    const provider = new InMemoryOAuthProvider();
    const first = new StreamableHTTPClientTransport(new URL(resource), { authProvider: provider });
    await assert.rejects(new Client({ name: "todo-e2e", version: "1.0.0" }).connect(first), UnauthorizedError);
    assert.ok(provider.client?.client_id, "registered with Better Auth");
    const url = provider.authorizationUrl;
    assert.ok(url, "sent the user to authorize");
    assert.equal(url.origin + url.pathname, `${betterAuth.origin}/api/auth/oauth2/authorize`);
    assert.equal(url.searchParams.get("resource"), resource, "asks for a token for the MCP server");
    assert.equal(url.searchParams.get("code_challenge_method"), "S256");

    const back = await betterAuth.approve(user, url);
    assert.equal(back.origin + back.pathname, provider.redirectUrl);
    const code = back.searchParams.get("code");
    assert.ok(code, `a code: ${back}`);
    await first.finishAuth(code);
    await first.close();

    const client = new Client({ name: "todo-e2e", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(resource), { authProvider: provider }));
    await client.listTools();
    return { client, provider };
  }

  it("finds Better Auth through the service's metadata", async () => {
    const metadata = await (await fetch(`${service.address}/.well-known/oauth-protected-resource`)).json();
    assert.deepEqual(metadata.authorization_servers, [betterAuth.origin]);
    const server = await (await fetch(`${betterAuth.origin}/.well-known/oauth-authorization-server`)).json();
    assert.equal(server.issuer, betterAuth.origin);
    assert.equal(server.jwks_uri, `${betterAuth.origin}/api/auth/jwks`, "the key set the service trusts");
    assert.ok(server.registration_endpoint, "dynamic client registration");
    assert.ok(server.code_challenge_methods_supported.includes("S256"));
  });

  it("hands the client a JWT for the MCP server, which the service accepts", async () => {
    const { client, provider } = await signIn(ada);
    const token = provider.saved.access_token;
    const { header, payload } = decodeJwt(token);
    assert.equal(header.typ, "at+jwt");
    assert.equal(header.alg, "EdDSA");
    assert.ok(header.kid, "signed with a key of the jwt plugin's key set");
    const jwks = await (await fetch(`${betterAuth.origin}/api/auth/jwks`)).json();
    assert.ok(jwks.keys.some((key) => key.kid === header.kid));
    assert.equal(payload.sub, ada.user.id);
    assert.equal(payload.iss, betterAuth.origin);
    assert.ok([payload.aud].flat().includes(resource), `aud ${JSON.stringify(payload.aud)}`);
    assert.equal(payload.azp, provider.client.client_id);

    const added = await client.callTool({ name: "add_task", arguments: { title: "Book the flights", tags: ["travel"] } });
    assert.notEqual(added.isError, true, JSON.stringify(added.content));
    assert.equal(added.structuredContent.user_id, ada.user.id);
    // The same token on the REST API, and the user's own from /api/auth/token.
    const stored = await service.call("GET", `/api/tasks/${added.structuredContent.id}`, token);
    assert.deepEqual(stored.body, added.structuredContent);
    const frontend = await betterAuth.tokenFor(ada);
    const listed = await service.call("GET", "/api/tasks", frontend);
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body, [added.structuredContent]);
    const mine = await connectMcp(service.address, frontend);
    const tags = await mine.callTool({ name: "list_tags", arguments: {} });
    assert.deepEqual(tags.structuredContent, { tags: [{ name: "travel", tasks: 1, pending: 1 }] });
    await mine.close();
    await client.close();
  });

  it("keeps a second user's assistant to that user's tasks", async () => {
    const adaToken = await betterAuth.tokenFor(ada);
    const adas = await service.call("POST", "/api/tasks", adaToken, { title: "Ada's surprise party" });
    const { client, provider } = await signIn(bob);
    assert.equal(decodeJwt(provider.saved.access_token).payload.sub, bob.user.id);
    for (const [name, args] of [
      ["get_task", { id: adas.body.id }],
      ["update_task", { id: adas.body.id, title: "Bob knows" }],
      ["delete_task", { id: adas.body.id }],
    ]) {
      const result = await client.callTool({ name, arguments: args });
      assert.equal(result.isError, true, name);
      assert.match(result.content[0].text, /task not found/);
    }
    assert.deepEqual((await client.callTool({ name: "list_tasks", arguments: {} })).structuredContent, { tasks: [], total: 0 });
    assert.deepEqual((await service.call("GET", `/api/tasks/${adas.body.id}`, adaToken)).body, adas.body);
    await client.close();
  });

  it("issues an opaque token, which the service refuses, when no resource is asked for", async () => {
    // A client that leaves out the `resource` indicator (the MCP SDK always
    // sends it) gets a token only Better Auth can read.
    const provider = new InMemoryOAuthProvider();
    const registered = await fetch(`${betterAuth.origin}/api/auth/oauth2/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(provider.clientMetadata),
    });
    assert.equal(registered.status, 201);
    const { client_id } = await registered.json();
    const verifier = crypto.randomBytes(32).toString("base64url");
    const url = new URL(`${betterAuth.origin}/api/auth/oauth2/authorize`);
    url.search = new URLSearchParams({
      response_type: "code",
      client_id,
      redirect_uri: provider.redirectUrl,
      code_challenge: crypto.createHash("sha256").update(verifier).digest("base64url"),
      code_challenge_method: "S256",
      state: "e2e",
    });
    const code = (await betterAuth.approve(ada, url)).searchParams.get("code");
    const response = await fetch(`${betterAuth.origin}/api/auth/oauth2/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code,
        redirect_uri: provider.redirectUrl,
        client_id,
        code_verifier: verifier,
      }),
    });
    assert.equal(response.status, 200);
    const { access_token } = await response.json();
    assert.equal(access_token.split(".").length, 1, "not a JWT");
    const refused = await fetch(resource, {
      method: "POST",
      headers: {
        authorization: `Bearer ${access_token}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
    });
    assert.equal(refused.status, 401);
  });
});
