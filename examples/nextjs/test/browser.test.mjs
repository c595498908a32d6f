// The example app in Chromium against `next start` and the service on
// PostgreSQL: two users side by side, every task operation, a conflict
// between two tabs, an expired token refreshed unnoticed, account deletion,
// and live updates between two tabs on two instances of the service.
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
/** Where the pages may send requests: the apps and the services. */
const ours = [];

before(async () => {
  stack = await startStack();
  ours.push(stack.origin, stack.service.address, "data:");
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
  context.on("requestfailed", (r) => {
    // A page that reloads or closes cuts its open event stream: not a failure.
    if (new URL(r.url()).pathname === "/api/events" && r.failure()?.errorText === "net::ERR_ABORTED") return;
    seen.failed.push(`${who} ${r.method()} ${r.url()}: ${r.failure()?.errorText}`);
  });
  context.on("request", (r) => {
    const url = r.url();
    if (!ours.some((origin) => url.startsWith(origin))) seen.foreign.push(url);
  });
  context.on("response", (r) => {
    if (r.status() >= 400) {
      const { pathname } = new URL(r.url());
      seen.responses.push({ line: `${r.status()} ${r.request().method()} ${pathname}`, authorization: r.request().headers().authorization });
    }
  });
  return { context, seen };
}

async function signUp(context, name, origin = stack.origin) {
  const page = await context.newPage();
  await page.goto(`${origin}/sign-up`);
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Email").fill(`${name.toLowerCase()}-${Date.now()}@example.com`);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.waitForURL(`${origin}/`);
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

  // Both of Alice's tabs edit "Buy milk". The second saves first (the first
  // tab's list shows it live, the open form keeps the user's draft); the
  // first tab's save, made from the older version, then shows the newer
  // version instead of overwriting it.
  const a2 = await alice.context.newPage();
  await a2.goto(`${stack.origin}/`);
  const staleEdit = await startEditing(a1, "Buy milk");
  await staleEdit.getByLabel("Title").fill("Buy milk and bread");
  const freshEdit = await startEditing(a2, "Buy milk");
  await freshEdit.getByLabel("Title").fill("Buy oat milk");
  await freshEdit.getByRole("button", { name: "Save" }).click();
  await taskRow(a2, "Buy oat milk").waitFor();
  assert.equal(await staleEdit.getByLabel("Title").inputValue(), "Buy milk and bread", "the draft is kept");

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

/** Waits for the page's event stream to be open. */
async function live(page) {
  await page.locator('[data-testid="live"][data-state="live"]').waitFor();
}

/** Records, from each page load on, every task title the context's pages show; read with `shown(page)`. */
async function recordTitles(context) {
  await context.addInitScript(() => {
    window.shownTitles = new Set();
    const note = () => document.querySelectorAll(".title").forEach((el) => window.shownTitles.add(el.textContent));
    new MutationObserver(note).observe(document, { childList: true, subtree: true, characterData: true });
  });
  return (page) => page.evaluate(() => [...window.shownTitles]);
}

test("two tabs of one user, on two instances of the service, see each other's changes within 1 s", async () => {
  const second = await stack.secondInstance();
  ours.push(second.origin, second.service.address);
  const carol = await userContext("Carol");
  const dave = await userContext("Dave");

  // Carol's first tab on the first app and instance, her second on the
  // second: one session (the cookie is the host's), two services, one database.
  const c1 = await signUp(carol.context, "Carol");
  const c2 = await carol.context.newPage();
  const apiCalls = { c1: new Set(), c2: new Set() };
  const note = (calls) => (r) => {
    const { origin, pathname } = new URL(r.url());
    if (/^\/api\/(tasks|events)/.test(pathname) && origin !== stack.origin && origin !== second.origin) calls.add(origin);
  };
  c1.on("request", note(apiCalls.c1));
  c2.on("request", note(apiCalls.c2));
  await c2.goto(`${second.origin}/`);
  await c2.getByTestId("range").waitFor();
  // Dave, another user, signs up on the second app and watches his own list there.
  const shown = await recordTitles(dave.context);
  const d2 = await signUp(dave.context, "Dave", second.origin);
  await live(c1);
  await live(c2);
  await live(d2);

  /** `check` must pass on `page` within 1 s of the change having been made. */
  const withinASecond = async (page, check) => {
    const started = Date.now();
    for (;;) {
      try {
        return await check();
      } catch (error) {
        if (Date.now() - started > 1000) throw new Error(`not shown within 1 s on ${page.url()}: ${error.message}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }
  };

  // Created in the first tab: shown in the second.
  await addTask(c1, "Plan the trip", "Two weeks");
  await withinASecond(c2, async () => assert.equal(await taskRow(c2, "Plan the trip").getByText("Two weeks").count(), 1));
  assert.equal(await c2.getByTestId("range").innerText(), "1–1 of 1");

  // Edited in the second: shown in the first.
  const edit = await startEditing(c2, "Plan the trip");
  await edit.getByLabel("Title").fill("Plan the summer trip");
  await edit.getByLabel("Description").fill("Three weeks");
  await edit.getByRole("button", { name: "Save" }).click();
  await taskRow(c2, "Plan the summer trip").waitFor();
  await withinASecond(c1, async () => assert.equal(await taskRow(c1, "Plan the summer trip").getByText("Three weeks").count(), 1));

  // Completed in the first: ticked in the second.
  await taskRow(c1, "Plan the summer trip").getByRole("checkbox").click();
  await eventually(async () => assert.ok(await taskRow(c1, "Plan the summer trip").getByRole("checkbox").isChecked()));
  await withinASecond(c2, async () => assert.ok(await taskRow(c2, "Plan the summer trip").getByRole("checkbox").isChecked()));

  // Another task made in the second; then the first deleted there.
  await addTask(c2, "Renew passport");
  await withinASecond(c1, async () => assert.equal(await taskRow(c1, "Renew passport").count(), 1));
  await taskRow(c2, "Plan the summer trip").getByRole("button", { name: "Delete" }).click();
  await eventually(async () => assert.equal(await taskRow(c2, "Plan the summer trip").count(), 0));
  await withinASecond(c1, async () => assert.equal(await taskRow(c1, "Plan the summer trip").count(), 0));
  assert.deepEqual(await titles(c1), ["Renew passport"]);
  assert.equal(await c1.getByTestId("range").innerText(), "1–1 of 1");
  await c1.screenshot({ path: path.join(outputDir, "live.png"), fullPage: true });

  // Each tab talked to its own instance only.
  assert.deepEqual([...apiCalls.c1], [stack.service.address]);
  assert.deepEqual([...apiCalls.c2], [second.service.address]);

  // The service closes a stream when its token expires: the tab reconnects
  // with a fresh token and Last-Event-ID (a header the service must allow
  // across origins), and goes on showing changes.
  const carolId = (await c1.evaluate(() => fetch("/api/auth/get-session").then((r) => r.json()))).user.id;
  const now = Math.floor(Date.now() / 1000);
  // Good for 6 seconds: long enough to load the page, and the service ends the stream then.
  const expiring = await stack.sign({ sub: carolId, iat: now, exp: now + 6 });
  let handedOut = false;
  const tokenRoute = `${stack.origin}/api/auth/token`;
  await c1.route(tokenRoute, (route) => {
    if (handedOut) return route.continue();
    handedOut = true;
    return route.fulfill({ json: { token: expiring } });
  });
  const resumed = c1.waitForRequest(
    (r) => r.method() === "GET" && new URL(r.url()).pathname === "/api/events" && Boolean(r.headers()["last-event-id"]),
    { timeout: 20_000 },
  );
  await c1.reload();
  await taskRow(c1, "Renew passport").waitFor();
  await live(c1);
  assert.ok(handedOut);
  // Unrouted before the reconnection: while a page has routes, Playwright
  // answers its CORS preflights itself, and the service's must be tested.
  await c1.unroute(tokenRoute);
  const reconnection = await resumed;
  assert.equal((await reconnection.response())?.status(), 200, "the reconnection was accepted (CORS included)");
  assert.notEqual(reconnection.headers().authorization, `Bearer ${expiring}`, "with a fresh token");
  await addTask(c2, "Renewed by then");
  await withinASecond(c1, async () => assert.equal(await taskRow(c1, "Renewed by then").count(), 1));

  // Dave's stream works (his own change, made through the first instance,
  // shows in his tab on the second) and never carried any of Carol's.
  const daveId = (await d2.evaluate(() => fetch("/api/auth/get-session").then((r) => r.json()))).user.id;
  const daves = await stack.service.call("POST", "/api/tasks", await stack.sign({ sub: daveId }), { title: "Dave's own" });
  assert.equal(daves.status, 201);
  await withinASecond(d2, async () => assert.deepEqual(await titles(d2), ["Dave's own"]));
  assert.deepEqual(await shown(d2), ["Dave's own"], "nothing of Carol's ever shown to Dave");

  // Nothing failed, on either instance.
  assert.deepEqual([...carol.seen.failed, ...dave.seen.failed], [], "no failed request");
  assert.deepEqual([...carol.seen.responses, ...dave.seen.responses], [], "no error response");
  assert.deepEqual([...carol.seen.console, ...dave.seen.console], [], "no console error");
  assert.deepEqual([...carol.seen.foreign, ...dave.seen.foreign], [], "nothing loaded from outside");
});
