// POST /mcp driven by the official TypeScript SDK, as an AI assistant's app
// drives it, with tokens straight from a real Better Auth instance: each tool
// acts as the token's user, and the REST API sees exactly what it did.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { discoverOAuthProtectedResourceMetadata } from "@modelcontextprotocol/sdk/client/auth.js";

import { startBetterAuth } from "../lib/better-auth.mjs";
import { connectMcp, onlyText } from "../lib/mcp.mjs";
import { startService } from "../lib/service.mjs";

const TOOLS = ["add_task", "complete_task", "delete_task", "get_task", "list_tags", "list_tasks", "update_task"];

describe("POST /mcp with Better Auth's tokens", () => {
  let betterAuth, service, ada, bob, adaToken, bobToken, adaMcp, bobMcp;

  before(async () => {
    betterAuth = await startBetterAuth();
    service = await startService({ BETTER_AUTH_URL: betterAuth.origin });
    ada = await betterAuth.signUp("Ada");
    bob = await betterAuth.signUp("Bob");
    adaToken = await betterAuth.tokenFor(ada);
    bobToken = await betterAuth.tokenFor(bob);
    adaMcp = await connectMcp(service.address, adaToken);
    bobMcp = await connectMcp(service.address, bobToken);
  });
  after(async () => {
    await adaMcp?.close();
    await bobMcp?.close();
    await service?.stop();
    await betterAuth?.close();
  });

  /** Calls a tool that must succeed; its structured result. */
  async function ok(client, name, args) {
    const result = await client.callTool({ name, arguments: args });
    assert.notEqual(result.isError, true, `${name} ${JSON.stringify(args)}: ${JSON.stringify(result.content)}`);
    assert.ok(result.structuredContent, `${name}: a structured result`);
    const text = onlyText(result);
    assert.doesNotMatch(text, /\n/, `${name}: one line of text`);
    return { ...result.structuredContent, $text: text };
  }
  const structured = ({ $text, ...rest }) => rest;

  /** Calls a tool that must be refused; the text of its error result. */
  async function refused(client, name, args) {
    const result = await client.callTool({ name, arguments: args });
    assert.equal(result.isError, true, `${name} ${JSON.stringify(args)}: ${JSON.stringify(result)}`);
    assert.equal(result.structuredContent, undefined, `${name}: no structured result on a refusal`);
    return onlyText(result);
  }

  it("answers the handshake as the todo API, with tools only", () => {
    const server = adaMcp.getServerVersion();
    assert.equal(server.name, "todo-api");
    assert.ok(server.version);
    const capabilities = adaMcp.getServerCapabilities();
    assert.ok(capabilities.tools, "tools are offered");
    assert.match(adaMcp.getInstructions(), /tasks/);
  });

  it("lists the seven tools, with the routes' limits in their schemas", async () => {
    const { tools } = await adaMcp.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), TOOLS);
    const tool = (name) => tools.find((t) => t.name === name);
    for (const t of tools) {
      assert.ok(t.description, `${t.name} is described`);
      assert.equal(t.inputSchema.type, "object", `${t.name}: an object of arguments`);
      assert.equal(t.outputSchema?.type, "object", `${t.name}: an output schema`);
      assert.doesNotMatch(JSON.stringify(t.inputSchema), /\$ref/, `${t.name}: a schema that stands alone`);
    }

    const add = tool("add_task").inputSchema;
    assert.equal(add.properties.title.maxLength, 200);
    assert.equal(add.properties.title.minLength, 1);
    assert.equal(add.properties.tags.maxItems, 20);
    assert.deepEqual(add.properties.priority.enum, ["none", "low", "medium", "high"]);
    assert.deepEqual(add.properties.due_date.type, ["string", "null"]);
    assert.deepEqual(add.required, ["title"]);

    const list = tool("list_tasks").inputSchema;
    assert.equal(list.properties.limit.maximum, 500);
    assert.ok(list.properties.sort.enum.includes("due_at"));
    assert.deepEqual(list.properties.status.enum, ["all", "pending", "completed"]);

    for (const name of ["get_task", "update_task", "complete_task", "delete_task"]) {
      const input = tool(name).inputSchema;
      assert.ok(input.required.includes("id"), `${name} requires id`);
      assert.equal(input.properties.id.type, "integer", `${name}: id is an integer`);
    }
    assert.equal(tool("update_task").inputSchema.properties.title.maxLength, 200);
    assert.equal(tool("complete_task").inputSchema.properties.completed.type, "boolean");
    assert.ok(tool("get_task").outputSchema.properties.due_at, "the task as the route answers it");
  });

  it("runs each tool as the token's user, as the REST API then sees it", async () => {
    const added = await ok(adaMcp, "add_task", {
      title: "Call mum",
      description: "about Sunday",
      priority: "high",
      tags: ["family"],
      due_date: "2026-12-24",
      due_time: "18:00",
      time_zone: "Europe/Berlin",
    });
    assert.match(added.$text, /^Added task \d+: Call mum$/);
    const task = structured(added);
    assert.equal(task.user_id, ada.user.id);
    assert.equal(task.due_at, "2026-12-24T17:00:00.000000Z");
    const id = task.id;
    const stored = await service.call("GET", `/api/tasks/${id}`, adaToken);
    assert.equal(stored.status, 200);
    assert.deepEqual(stored.body, task, "the tool answers what the route answers");

    const other = structured(await ok(adaMcp, "add_task", { title: "Water the plants" }));
    assert.equal((await service.call("GET", `/api/tasks/${other.id}`, adaToken)).body.title, "Water the plants");

    // list_tasks takes GET /api/tasks' query parameters by name.
    const filtered = await ok(adaMcp, "list_tasks", { tag: ["family"], priority: "high,medium", sort: "due_at", order: "asc" });
    const rest = await service.call("GET", "/api/tasks?tag=family&priority=high,medium&sort=due_at&order=asc", adaToken);
    assert.deepEqual(filtered.tasks, rest.body);
    assert.equal(filtered.total, Number(rest.headers.get("x-total-count")));
    assert.deepEqual(filtered.tasks.map((t) => t.id), [id]);
    const paged = await ok(adaMcp, "list_tasks", { limit: 1 });
    assert.equal(paged.total, 2);
    assert.equal(paged.tasks.length, 1);
    const searched = await ok(adaMcp, "list_tasks", { q: "plants" });
    assert.deepEqual(searched.tasks.map((t) => t.id), [other.id]);

    const got = await ok(adaMcp, "get_task", { id });
    assert.deepEqual(structured(got), task);

    const updated = structured(
      await ok(adaMcp, "update_task", { id, title: "Call mum and dad", tags: ["family", "phone"], description: null }),
    );
    assert.equal(updated.version, task.version + 1);
    const afterUpdate = (await service.call("GET", `/api/tasks/${id}`, adaToken)).body;
    assert.deepEqual(afterUpdate, updated);
    assert.equal(afterUpdate.title, "Call mum and dad");
    assert.deepEqual(afterUpdate.tags, ["family", "phone"]);
    assert.equal(afterUpdate.description, null, "null clears the description");
    assert.equal(afterUpdate.priority, "high", "fields not given are kept");

    const toggled = structured(await ok(adaMcp, "complete_task", { id }));
    assert.equal(toggled.completed, true, "no `completed`: toggles");
    assert.ok(toggled.completed_at);
    assert.deepEqual((await service.call("GET", `/api/tasks/${id}`, adaToken)).body, toggled);
    const completedAgain = structured(await ok(adaMcp, "complete_task", { id, completed: true }));
    assert.equal(completedAgain.completed, true, "`completed: true` sets, not toggles");
    const reopened = await ok(adaMcp, "complete_task", { id, completed: false });
    assert.match(reopened.$text, /^Reopened task /);
    assert.equal((await service.call("GET", `/api/tasks/${id}`, adaToken)).body.completed, false);

    const tags = structured(await ok(adaMcp, "list_tags", {}));
    assert.deepEqual(tags, {
      tags: [
        { name: "family", tasks: 1, pending: 1 },
        { name: "phone", tasks: 1, pending: 1 },
      ],
    });
    assert.deepEqual(tags.tags, (await service.call("GET", "/api/tags", adaToken)).body);

    const deleted = await ok(adaMcp, "delete_task", { id });
    assert.deepEqual(structured(deleted), { id, deleted: true });
    assert.equal((await service.call("GET", `/api/tasks/${id}`, adaToken)).status, 404);
    assert.deepEqual((await service.call("GET", "/api/tasks", adaToken)).body.map((t) => t.id), [other.id]);
    assert.match(await refused(adaMcp, "get_task", { id }), /task not found/);
  });

  it("refuses bad arguments as a tool result naming the fields, and stores nothing", async () => {
    const before = await service.call("GET", "/api/tasks", adaToken);

    let text = await refused(adaMcp, "add_task", { title: "", priority: "urgent" });
    assert.match(text, /title/);
    assert.match(text, /priority/);
    text = await refused(adaMcp, "add_task", { title: "x".repeat(201) });
    assert.match(text, /title/);
    text = await refused(adaMcp, "add_task", { title: "Dentist", due_time: "09:00" });
    assert.match(text, /due_time/);
    text = await refused(adaMcp, "list_tasks", { sort: "importance", limit: 0 });
    assert.match(text, /sort/);
    assert.match(text, /limit/);
    text = await refused(adaMcp, "get_task", {});
    assert.match(text, /\bid\b/);
    text = await refused(adaMcp, "update_task", { id: "seven", title: "t" });
    assert.match(text, /\bid\b/);

    const after = await service.call("GET", "/api/tasks", adaToken);
    assert.deepEqual(after.body, before.body, "no task stored or changed");
    assert.equal(after.headers.get("x-total-count"), before.headers.get("x-total-count"));

    // A tool that does not exist is the one protocol error.
    await assert.rejects(adaMcp.callTool({ name: "drop_database", arguments: {} }), /drop_database/);
  });

  it("keeps users apart: Bob cannot read, change or delete Ada's task", async () => {
    const adas = structured(await ok(adaMcp, "add_task", { title: "Ada's secret", tags: ["private"] }));
    for (const [name, args] of [
      ["get_task", { id: adas.id }],
      ["update_task", { id: adas.id, title: "Bob was here" }],
      ["complete_task", { id: adas.id }],
      ["complete_task", { id: adas.id, completed: true }],
      ["delete_task", { id: adas.id }],
    ]) {
      assert.match(await refused(bobMcp, name, args), /task not found/, `${name} ${JSON.stringify(args)}`);
    }
    const still = await service.call("GET", `/api/tasks/${adas.id}`, adaToken);
    assert.equal(still.status, 200);
    assert.deepEqual(still.body, adas, "Ada's task unchanged");

    assert.deepEqual(structured(await ok(bobMcp, "list_tasks", {})), { tasks: [], total: 0 });
    assert.deepEqual(structured(await ok(bobMcp, "list_tags", {})), { tags: [] });
    const bobs = structured(await ok(bobMcp, "add_task", { title: "Bob's own" }));
    assert.equal(bobs.user_id, bob.user.id);
    assert.equal((await service.call("GET", `/api/tasks/${bobs.id}`, adaToken)).status, 404, "and the other way round");
  });

  it("answers 401 without a valid token, naming the resource metadata", async () => {
    const initialize = {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "e2e", version: "1" } },
    };
    const metadata = `resource_metadata="${service.address}/.well-known/oauth-protected-resource"`;
    const now = Math.floor(Date.now() / 1000);
    const expired = await betterAuth.sign({ sub: ada.user.id, iat: now - 3600, exp: now - 600 });
    for (const authorization of [undefined, "Bearer not-a-token", `Bearer ${expired}`]) {
      const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
      if (authorization) headers.authorization = authorization;
      const response = await fetch(`${service.address}/mcp`, { method: "POST", headers, body: JSON.stringify(initialize) });
      assert.equal(response.status, 401, String(authorization));
      // A token sent and refused is `invalid_token` (RFC 6750).
      const expected = authorization ? `Bearer error="invalid_token", ${metadata}` : `Bearer ${metadata}`;
      assert.equal(response.headers.get("www-authenticate"), expected);
      assert.equal(response.headers.get("content-type"), "application/problem+json");
    }

    // The SDK's client sees the same: no session without a token.
    const client = new Client({ name: "e2e", version: "1.0.0" });
    const transport = new StreamableHTTPClientTransport(new URL(`${service.address}/mcp`));
    await assert.rejects(client.connect(transport), (err) => {
      assert.match(String(err), /401|Unauthorized/i);
      return true;
    });
    await transport.close();
  });

  it("serves the protected resource metadata an MCP client reads", async () => {
    const response = await fetch(`${service.address}/.well-known/oauth-protected-resource`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type"), /^application\/json/);
    const metadata = await response.json();
    assert.equal(metadata.resource, `${service.address}/mcp`);
    assert.deepEqual(metadata.authorization_servers, [betterAuth.origin]);
    assert.deepEqual(metadata.bearer_methods_supported, ["header"]);
    // And as the SDK reads it, from the MCP endpoint's URL.
    const discovered = await discoverOAuthProtectedResourceMetadata(`${service.address}/mcp`);
    assert.equal(discovered.resource, metadata.resource);
    assert.deepEqual(discovered.authorization_servers, metadata.authorization_servers);
  });
});
