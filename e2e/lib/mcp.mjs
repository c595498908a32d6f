// The official MCP TypeScript SDK's client on the service's POST /mcp, with
// a bearer token in the Authorization header, as an assistant's app sends it.
import assert from "node:assert/strict";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

/** A connected client (handshake done, tools listed) acting with `token`. */
export async function connectMcp(address, token) {
  const client = new Client({ name: "todo-e2e", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${address}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  // Listing the tools first lets the client check every structured result
  // against the tool's output schema.
  await client.listTools();
  return client;
}

/** The single text block of a tool result. */
export function onlyText(result) {
  assert.equal(result.content.length, 1, `one content block: ${JSON.stringify(result.content)}`);
  assert.equal(result.content[0].type, "text");
  return result.content[0].text;
}

/**
 * The SDK's OAuth client side, kept in memory: an app that registers itself
 * with the authorization server the service's metadata names, and sends the
 * user to sign in. Where a desktop app would open a browser, this keeps the
 * authorization URL for the test to act as the user.
 */
export class InMemoryOAuthProvider {
  redirectUrl = "http://127.0.0.1/callback";

  get clientMetadata() {
    return {
      client_name: "todo-e2e",
      redirect_uris: [this.redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      // A desktop app: a loopback redirect over http (web apps need https).
      application_type: "native",
    };
  }

  clientInformation() {
    return this.client;
  }
  saveClientInformation(client) {
    this.client = client;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens) {
    this.saved = tokens;
  }
  saveCodeVerifier(verifier) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
  redirectToAuthorization(url) {
    this.authorizationUrl = url;
  }
}

/** A token's JOSE header and claims, decoded (not verified). */
export function decodeJwt(token) {
  const [header, payload] = token.split(".").slice(0, 2).map((part) => JSON.parse(Buffer.from(part, "base64url")));
  return { header, payload };
}
