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
