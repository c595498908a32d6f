// The organizing fields and the tag helpers against the live service: typed
// priority, tags and due dates on create and update, the list's filters and
// sorts by them, and listing, renaming and deleting tags, with names that
// need percent-encoding in the path.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, test } from "node:test";

import { startService } from "../../../e2e/lib/service.mjs";
import { createTodoClient, TodoApiError } from "../dist/src/client.js";
import { deleteTag, listTags, renameTag, tagPath } from "../dist/src/tags.js";

const secret = "typescript-client-tags-test-secret";
let service;

before(async () => {
  service = await startService({ BETTER_AUTH_SECRET: secret });
});
after(async () => await service?.stop());

function clientFor(sub) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${part({ alg: "HS256", typ: "JWT" })}.${part({ sub, iat: now, exp: now + 600 })}`;
  const token = `${unsigned}.${createHmac("sha256", secret).update(unsigned).digest("base64url")}`;
  return createTodoClient(service.address, () => token);
}

async function create(api, body) {
  const { data, error } = await api.POST("/api/tasks", { body });
  assert.ok(data, `create failed: ${error?.detail}`);
  return data;
}

async function list(api, query) {
  const { data, error, response } = await api.GET("/api/tasks", { params: { query } });
  assert.ok(data, `list failed: ${error?.detail}`);
  return { titles: data.map((t) => t.title), total: Number(response.headers.get("X-Total-Count")) };
}

test("the organizing fields are typed on create, update and the list's filters and sorts", async () => {
  const api = clientFor("ts-organize");
  const report = await create(api, {
    title: "Quarterly report",
    priority: "high",
    tags: [" work ", "Writing", "WORK"],
    due_date: "2030-03-31",
    due_time: "17:00",
    time_zone: "Europe/Berlin",
  });
  assert.equal(report.priority, "high");
  assert.deepEqual(report.tags, ["work", "Writing"], "trimmed, duplicates collapsed, sorted ignoring case");
  assert.equal(report.due_date, "2030-03-31");
  assert.equal(report.due_time, "17:00");
  assert.equal(report.time_zone, "Europe/Berlin");
  assert.equal(new Date(report.due_at).toISOString(), "2030-03-31T15:00:00.000Z", "17:00 in Berlin (CEST) is 15:00 UTC");
  assert.equal(report.completed_at, null);

  const groceries = await create(api, { title: "Groceries", priority: "low", tags: ["errands"], due_date: "2030-03-01" });
  assert.equal(groceries.time_zone, "UTC", "the default zone");
  assert.equal(groceries.due_time, null);
  assert.equal(new Date(groceries.due_at).toISOString(), "2030-03-02T00:00:00.000Z", "all day: the next midnight");
  const overdue = await create(api, { title: "Renew passport", priority: "medium", tags: ["errands", "work"], due_date: "2020-01-01" });
  await create(api, { title: "Someday", tags: [] });

  // Completing sets completed_at; an update replaces the tags and clears the due date.
  const done = await api.PATCH("/api/tasks/{id}/complete", { params: { path: { id: groceries.id } }, body: { completed: true } });
  assert.ok(done.data?.completed_at, "completed_at is set");
  const moved = await api.PUT("/api/tasks/{id}", {
    params: { path: { id: groceries.id } },
    body: { tags: ["shopping"], due_date: null, due_time: null, priority: "none" },
  });
  assert.deepEqual([moved.data?.tags, moved.data?.due_date, moved.data?.priority], [["shopping"], null, "none"]);

  assert.deepEqual((await list(api, { sort: "priority", order: "desc" })).titles, ["Quarterly report", "Renew passport", "Someday", "Groceries"]);
  assert.deepEqual((await list(api, { sort: "due_at", order: "asc" })).titles, ["Renew passport", "Quarterly report", "Groceries", "Someday"]);
  assert.deepEqual((await list(api, { priority: "high,medium", sort: "title", order: "asc" })).titles, ["Quarterly report", "Renew passport"]);
  assert.deepEqual((await list(api, { tag: ["WORK"], sort: "title", order: "asc" })).titles, ["Quarterly report", "Renew passport"]);
  assert.deepEqual((await list(api, { tag: ["work", "errands"] })).titles, ["Renew passport"], "a repeated tag: every one");
  assert.deepEqual((await list(api, { overdue: true })).titles, ["Renew passport"]);
  assert.deepEqual((await list(api, { has_due: false, sort: "title", order: "asc" })).titles, ["Groceries", "Someday"]);
  assert.deepEqual((await list(api, { due_before: "2030-01-01T00:00:00+01:00" })).titles, ["Renew passport"]);
  assert.deepEqual((await list(api, { due_after: "2030-01-01T00:00:00Z" })).titles, ["Quarterly report"]);
  assert.equal(new Date(overdue.due_at).toISOString(), "2020-01-02T00:00:00.000Z");
});

test("tags: listed with their counts, renamed and deleted by name, percent-encoded in the path", async () => {
  const api = clientFor("ts-tags");
  const odd = "a/b ?#%&é";
  assert.equal(tagPath(odd), "/api/tags/a%2Fb%20%3F%23%25%26%C3%A9");
  await create(api, { title: "One", tags: ["Home", odd] });
  await create(api, { title: "Two", tags: ["home", "garden"] });
  const three = await create(api, { title: "Three", tags: ["Garden"], completed: true });
  assert.deepEqual(three.tags, ["garden"], "spelled as first used");

  assert.deepEqual(await listTags(api), [
    { name: odd, tasks: 1, pending: 1 },
    { name: "garden", tasks: 2, pending: 1 },
    { name: "Home", tasks: 2, pending: 2 },
  ]);

  // The odd name reaches the service whole, matched ignoring case.
  const renamed = await renameTag(api, odd.toUpperCase(), "Odd one");
  assert.deepEqual(renamed, { name: "Odd one", tasks: 1, pending: 1 });
  // Renaming onto an existing tag merges the two.
  const merged = await renameTag(api, "garden", "home");
  assert.deepEqual({ ...merged, name: merged.name.toLowerCase() }, { name: "home", tasks: 3, pending: 2 });
  assert.deepEqual((await list(api, { tag: ["home"] })).total, 3);

  await deleteTag(api, "Odd one");
  assert.deepEqual(await listTags(api), [merged], "one tag left, as the rename answered it");

  const missing = await deleteTag(api, "no such tag").catch((error) => error);
  assert.ok(missing instanceof TodoApiError);
  assert.equal(missing.status, 404);
  assert.equal(missing.problem?.status, 404);
  const invalid = await renameTag(api, "home", "a,b").catch((error) => error);
  assert.ok(invalid instanceof TodoApiError);
  assert.equal(invalid.status, 422);
  assert.equal(invalid.problem?.errors?.[0]?.field, "name");

  // Another user's tags are their own.
  assert.deepEqual(await listTags(clientFor("ts-tags-other")), []);
  assert.equal((await deleteTag(clientFor("ts-tags-other"), "home").catch((error) => error)).status, 404);
});
