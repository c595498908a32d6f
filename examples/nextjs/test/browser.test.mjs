// The example app in Chromium against `next start` and the service on
// PostgreSQL: two users side by side, every task operation, a conflict
// between two tabs, an expired token refreshed unnoticed, and account deletion.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";

import { chromiumOptions } from "../../../e2e/lib/chromium.mjs";
import { startStack } from "./app.mjs";

const outputDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "test-results");
const password = "correct horse battery staple";

let stack, browser;

before(async () => {
  stack = await startStack();
  browser = await chromium.launch(chromiumOptions);
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

/** Retries `check` until it passes or 10 s have gone by. */
async function eventually(check) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** A browser context of its own (one user), recording every error it sees. */
async function userContext(who) {
  const context = await browser.newContext();
  const seen = { console: [], failed: [], responses: [], foreign: [] };
  context.on("console", (m) => m.type() === "error" && seen.console.push(m.text()));
  context.on("requestfailed", (r) => seen.failed.push(`${who} ${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  context.on("request", (r) => {
    const url = r.url();
    if (!url.startsWith(stack.origin) && !url.startsWith(stack.service.address) && !url.startsWith("data:")) seen.foreign.push(url);
  });
  context.on("response", (r) => {
    if (r.status() >= 400) {
      const { pathname } = new URL(r.url());
      seen.responses.push({ line: `${r.status()} ${r.request().method()} ${pathname}`, authorization: r.request().headers().authorization });
    }
  });
  return { context, seen };
}

async function signUp(context, name) {
  const page = await context.newPage();
  await page.goto(`${stack.origin}/sign-up`);
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Email").fill(`${name.toLowerCase()}-${Date.now()}@example.com`);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.waitForURL(`${stack.origin}/`);
  await page.getByTestId("range").waitFor();
  return page;
}

const taskRow = (page, title) => page.getByTestId("task").filter({ has: page.getByText(title, { exact: true }) });

/** The titles on screen once the list has settled. */
async function titles(page) {
  await page.locator('ul[aria-label="Tasks"][aria-busy="false"]').waitFor();
  return page.locator('ul[aria-label="Tasks"] .title').allInnerTexts();
}

async function addTask(page, title, description = "") {
  const form = page.getByRole("form", { name: "Add a task" });
  await form.getByLabel("Title").fill(title);
  await form.getByLabel("Description").fill(description);
  await form.getByRole("button", { name: "Add" }).click();
  await taskRow(page, title).waitFor();
}

/** Opens a task's edit form: the form, found by the task's id (its title is in an input now). */
async function startEditing(page, title) {
  const row = taskRow(page, title);
  const id = await row.getAttribute("data-task-id");
  await row.getByRole("button", { name: "Edit" }).click();
  return page.locator(`[data-task-id="${id}"]`).getByRole("form", { name: "Edit task" });
}

async function showing(page, filter) {
  await page.getByRole("button", { name: filter, exact: true }).click();
}

test("two users use the app side by side in Chromium", async () => {
  mkdirSync(outputDir, { recursive: true });
  const alice = await userContext("Alice");
  const bob = await userContext("Bob");
  const a1 = await signUp(alice.context, "Alice");
  const b1 = await signUp(bob.context, "Bob");
  const aliceId = (await a1.evaluate(() => fetch("/api/auth/get-session").then((r) => r.json()))).user.id;

  // Each adds tasks; Alice has more than a page (5).
  const aliceTitles = ["Buy milk", "Write report", "Call plumber", "Book dentist", "Water plants", "Pay rent"];
  for (const title of aliceTitles) await addTask(a1, title, title === "Buy milk" ? "Oat, 2 litres" : "");
  const bobTitles = ["Bob's secret plan", "Fix bike"];
  for (const title of bobTitles) await addTask(b1, title);

  // A 422's field message appears beside the field (the one 422 this test provokes).
  const addForm = a1.getByRole("form", { name: "Add a task" });
  await addForm.getByLabel("Title").fill("   ");
  await addForm.getByRole("button", { name: "Add" }).click();
  const titleError = addForm.locator("label", { hasText: "Title" }).locator(".field-error");
  await titleError.waitFor();
  assert.match(await titleError.innerText(), /\S/);
  assert.equal(await addForm.locator("label", { hasText: "Description" }).locator(".field-error").count(), 0);

  // Paging with the total.
  assert.equal(await a1.getByTestId("range").innerText(), "1–5 of 6");
  assert.deepEqual(await titles(a1), ["Pay rent", "Water plants", "Book dentist", "Call plumber", "Write report"]);
  await a1.getByRole("button", { name: "Next" }).click();
  await eventually(async () => assert.deepEqual(await titles(a1), ["Buy milk"]));
  assert.equal(await a1.getByTestId("range").innerText(), "6–6 of 6");
  await a1.getByRole("button", { name: "Previous" }).click();
  await eventually(async () => assert.equal((await titles(a1)).length, 5));

  // Toggle, then the filters.
  await taskRow(a1, "Call plumber").getByRole("checkbox").click();
  await eventually(async () => assert.ok(await taskRow(a1, "Call plumber").getByRole("checkbox").isChecked()));
  await showing(a1, "Completed");
  await eventually(async () => assert.deepEqual(await titles(a1), ["Call plumber"]));
  await showing(a1, "Pending");
  await eventually(async () => assert.equal(await a1.getByTestId("range").innerText(), "1–5 of 5"));
  assert.ok(!(await titles(a1)).includes("Call plumber"));
  await showing(a1, "All");

  // Search and sort.
  await a1.getByRole("searchbox").fill("MILK");
  await a1.getByRole("button", { name: "Search" }).click();
  await eventually(async () => assert.deepEqual(await titles(a1), ["Buy milk"]));
  await a1.getByRole("searchbox").fill("");
  await a1.getByRole("button", { name: "Search" }).click();
  await a1.getByLabel("Sort by").selectOption("title");
  await a1.getByLabel("Order").selectOption("asc");
  await eventually(async () =>
    assert.deepEqual(await titles(a1), ["Book dentist", "Buy milk", "Call plumber", "Pay rent", "Water plants"]),
  );

  // Edit title and description; delete.
  await a1.getByRole("button", { name: "Next" }).click();
  await eventually(async () => assert.deepEqual(await titles(a1), ["Write report"]));
  const editReport = await startEditing(a1, "Write report");
  await editReport.getByLabel("Title").fill("Write the report");
  await editReport.getByLabel("Description").fill("Due Friday");
  await editReport.getByRole("button", { name: "Save" }).click();
  await taskRow(a1, "Write the report").getByText("Due Friday").waitFor();
  await a1.getByRole("button", { name: "Previous" }).click();
  await taskRow(a1, "Pay rent").getByRole("button", { name: "Delete" }).click();
  await eventually(async () => assert.equal(await a1.getByTestId("range").innerText(), "1–5 of 5"));
  assert.ok(!(await titles(a1)).includes("Pay rent"));

  // Neither sees the other's tasks.
  const bobList = await titles(b1);
  assert.deepEqual(bobList, ["Fix bike", "Bob's secret plan"]);
  assert.equal(await b1.getByTestId("range").innerText(), "1–2 of 2");
  for (const title of bobTitles) assert.equal(await a1.getByText(title).count(), 0);
  for (const title of aliceTitles) assert.equal(await b1.getByText(title, { exact: true }).count(), 0);
  await a1.screenshot({ path: path.join(outputDir, "task-list.png"), fullPage: true });

  // A second tab of Alice's edits "Buy milk"; the first tab's stale edit then
  // shows the newer version instead of overwriting it.
  const a2 = await alice.context.newPage();
  await a2.goto(`${stack.origin}/`);
  const freshEdit = await startEditing(a2, "Buy milk");
  await freshEdit.getByLabel("Title").fill("Buy oat milk");
  await freshEdit.getByRole("button", { name: "Save" }).click();
  await taskRow(a2, "Buy oat milk").waitFor();

  const staleEdit = await startEditing(a1, "Buy milk");
  await staleEdit.getByLabel("Title").fill("Buy milk and bread");
  await staleEdit.getByRole("button", { name: "Save" }).click();
  const conflict = a1.getByTestId("conflict");
  await conflict.waitFor();
  assert.equal(await conflict.getByTestId("newer-title").innerText(), "Buy oat milk");
  assert.equal(await staleEdit.getByLabel("Title").inputValue(), "Buy oat milk");
  await a1.screenshot({ path: path.join(outputDir, "conflict.png"), fullPage: true });
  await a2.reload();
  await taskRow(a2, "Buy oat milk").waitFor();
  assert.equal(await a2.getByText("Buy milk and bread").count(), 0, "the stale edit overwrote nothing");
  await a2.close();

  // An expired token (signed with the app's own key) is refreshed after the
  // service's 401 and the call retried: the list appears as if nothing happened.
  const now = Math.floor(Date.now() / 1000);
  const expired = await stack.sign({ sub: aliceId, iat: now - 3600, exp: now - 600 });
  // Better Auth hands out the expired token until the service has refused it.
  const refused = () => alice.seen.responses.some((r) => r.line.startsWith("401"));
  const tokenRoute = `${stack.origin}/api/auth/token`;
  await a1.route(tokenRoute, (route) => (refused() ? route.continue() : route.fulfill({ json: { token: expired } })));
  await a1.reload();
  await taskRow(a1, "Buy oat milk").waitFor();
  await a1.unroute(tokenRoute);
  assert.equal(await a1.locator("main").getByRole("alert").count(), 0, "no error shown");
  await eventually(() =>
    assert.deepEqual(
      alice.seen.responses.filter((r) => r.line.startsWith("401")).map((r) => [r.line, r.authorization]),
      [["401 GET /api/tasks", `Bearer ${expired}`]],
      "exactly one 401, for the expired token",
    ),
  );

  // Delete my account: Alice's tasks and Better Auth user are gone, Bob's stay.
  await a1.getByRole("button", { name: "Delete my account" }).click();
  await a1.getByRole("button", { name: "Yes, delete my account and tasks" }).click();
  await a1.waitForURL(`${stack.origin}/sign-up`);
  await a1.getByRole("button", { name: "Sign up" }).waitFor();
  assert.equal(await stack.authUsers(aliceId), 0);
  const left = await stack.service.call("GET", "/api/tasks", await stack.sign({ sub: aliceId }));
  assert.equal(left.status, 200);
  assert.deepEqual(left.body, []);
  await b1.reload();
  await eventually(async () => assert.deepEqual(await titles(b1), ["Fix bike", "Bob's secret plan"]));

  // Nothing failed but what the test provoked, and nothing loaded from outside.
  const provoked = alice.seen.responses.map((r) => r.line.replace(/\/\d+$/, "/{id}")).sort();
  assert.deepEqual(provoked, ["401 GET /api/tasks", "412 PUT /api/tasks/{id}", "422 POST /api/tasks"]);
  assert.deepEqual(bob.seen.responses, []);
  assert.deepEqual([...alice.seen.failed, ...bob.seen.failed], [], "no failed request");
  assert.deepEqual(bob.seen.console, [], "no console error for Bob");
  assert.equal(alice.seen.console.length, 3, `console errors: ${alice.seen.console.join("\n")}`);
  for (const message of alice.seen.console) assert.match(message, /status of (401|412|422)/);
  assert.deepEqual([...alice.seen.foreign, ...bob.seen.foreign], [], "nothing loaded from outside");
});
