// The example app in Chromium against `next start` and the service on
// PostgreSQL: two users side by side (one on a phone-sized screen), every
// task operation, deletes with undo, a conflict between two tabs, an expired
// token refreshed unnoticed, account deletion behind a typed confirmation,
// live updates between two tabs on two instances of the service, the states
// a user sees (loading, the service down and back, a session that ended,
// the contract's limits), the sign-in limits, the start-up check, working
// offline (writes queued and marked, sent once when back online even when
// an answer is lost, conflicts shown with both versions), reminders (a
// system notification where allowed, a toast where not) and repeating
// tasks (the picker, the row's label, completing one moves it on).
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";

import { chromiumOptions } from "../../../e2e/lib/chromium.mjs";
import { startAppWithout, startStack } from "./app.mjs";

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

/** A phone-sized screen (an iPhone 14's CSS pixels). */
const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

/** A browser context of its own (one user), recording every error it sees. */
async function userContext(who, options = {}) {
  const context = await browser.newContext(options);
  const seen = { console: [], failed: [], responses: [], foreign: [] };
  context.on("console", (m) => m.type() === "error" && seen.console.push(m.text()));
  context.on("requestfailed", (r) => {
    // A page that reloads, closes or navigates away cuts what it was still
    // reading (its event stream, a list being refetched): the browser
    // aborted it, the service did not fail it.
    if (r.method() === "GET" && r.failure()?.errorText === "net::ERR_ABORTED") return;
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

const emailOf = (name) => `${name.toLowerCase()}-${process.pid}@example.com`;

/** Signs up on the sign-up page; resolves once the list has loaded, unless `wait` is false. */
async function signUp(context, name, origin = stack.origin, { wait = true } = {}) {
  const page = await context.newPage();
  await page.goto(`${origin}/sign-up`);
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Email").fill(emailOf(name));
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.waitForURL(`${origin}/`);
  if (wait) await page.getByTestId("range").waitFor();
  return page;
}

/** The signed-in user's id, from Better Auth. */
async function userId(page) {
  return (await page.evaluate(() => fetch("/api/auth/get-session").then((r) => r.json()))).user.id;
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

/** The tags a task's row shows, in order. */
const shownTags = (row) => row.getByTestId("tag").evaluateAll((chips) => chips.map((chip) => chip.dataset.tag));

/** The error message shown beside a form's field (named by its aria-describedby), or null. */
async function fieldMessage(field) {
  if ((await field.getAttribute("aria-invalid")) !== "true") return null;
  const ids = ((await field.getAttribute("aria-describedby")) ?? "").split(" ").filter(Boolean);
  for (const id of ids) {
    const message = field.page().locator(`[id="${id}"].field-error`);
    if ((await message.count()) > 0) return message.innerText();
  }
  return null;
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
  const bob = await userContext("Bob", phone); // on a phone-sized screen
  const a1 = await signUp(alice.context, "Alice");
  const b1 = await signUp(bob.context, "Bob");
  const aliceId = await userId(a1);
  const asAlice = await stack.sign({ sub: aliceId });

  // Each adds tasks.
  const aliceTitles = ["Buy milk", "Write report", "Call plumber", "Book dentist", "Water plants", "Pay rent"];
  for (const title of aliceTitles) await addTask(a1, title, title === "Buy milk" ? "Oat, 2 litres" : "");
  const bobTitles = ["Bob's secret plan", "Fix bike"];
  for (const title of bobTitles) await addTask(b1, title);

  // Nothing is flagged at rest; a blank title is refused in the browser,
  // after the user tried to add it, beside the field, and never sent.
  const addForm = a1.getByRole("form", { name: "Add a task" });
  const addTitle = addForm.getByLabel("Title");
  assert.equal(await fieldMessage(addTitle), null, "no error at rest");
  assert.equal(await a1.locator(".field-error").count(), 0);
  const posts = [];
  const notePost = (r) => r.method() === "POST" && new URL(r.url()).pathname === "/api/tasks" && posts.push(r.url());
  a1.on("request", notePost);
  await addTitle.fill("   ");
  await addForm.getByRole("button", { name: "Add" }).click();
  assert.equal(await fieldMessage(addTitle), "Give the task a title");
  assert.equal(await fieldMessage(addForm.getByLabel("Description")), null);
  await addTitle.fill("Pick up parcel");
  assert.equal(await fieldMessage(addTitle), null, "the message goes once the title is fine");
  await addTitle.fill("");
  a1.off("request", notePost);
  assert.deepEqual(posts, [], "nothing was sent");

  // Paging, 20 to a page, with the total: 15 more tasks made elsewhere
  // (through the service) arrive live.
  await live(a1);
  const fillers = [];
  for (let i = 1; i <= 15; i++) {
    const made = await stack.service.call("POST", "/api/tasks", asAlice, { title: `Filler ${String(i).padStart(2, "0")}` });
    assert.equal(made.status, 201);
    fillers.push(made.body.id);
  }
  await eventually(async () => assert.equal(await a1.getByTestId("range").innerText(), "1–20 of 21"));
  assert.equal((await titles(a1)).length, 20);
  await a1.getByRole("button", { name: "Next" }).click();
  await eventually(async () => assert.deepEqual(await titles(a1), ["Buy milk"]));
  assert.equal(await a1.getByTestId("range").innerText(), "21–21 of 21");
  await a1.getByRole("button", { name: "Previous" }).click();
  for (const id of fillers) assert.equal((await stack.service.call("DELETE", `/api/tasks/${id}`, asAlice)).status, 204);
  await eventually(async () => assert.equal(await a1.getByTestId("range").innerText(), "1–6 of 6"));
  assert.deepEqual(await titles(a1), ["Pay rent", "Water plants", "Book dentist", "Call plumber", "Write report", "Buy milk"]);

  // Toggle, then the filters; the one in force is shown in words.
  await taskRow(a1, "Call plumber").getByRole("checkbox").click();
  await eventually(async () => assert.ok(await taskRow(a1, "Call plumber").getByRole("checkbox").isChecked()));
  await showing(a1, "Completed");
  await eventually(async () => assert.deepEqual(await titles(a1), ["Call plumber"]));
  assert.equal(await a1.getByRole("button", { name: "Completed", exact: true }).getAttribute("aria-pressed"), "true");
  assert.equal(await a1.getByTestId("summary").innerText(), "Completed tasks · sorted by created, newest first");
  await showing(a1, "Pending");
  await eventually(async () => assert.equal(await a1.getByTestId("range").innerText(), "1–5 of 5"));
  assert.ok(!(await titles(a1)).includes("Call plumber"));
  await a1.getByRole("button", { name: "Clear filters" }).click();
  await eventually(async () => assert.equal(await a1.getByTestId("range").innerText(), "1–6 of 6"));
  assert.equal(await a1.getByRole("button", { name: "All", exact: true }).getAttribute("aria-pressed"), "true");

  // Search and sort.
  await a1.getByRole("searchbox").fill("MILK");
  await a1.getByRole("button", { name: "Search", exact: true }).click();
  await eventually(async () => assert.deepEqual(await titles(a1), ["Buy milk"]));
  assert.equal(await a1.getByTestId("summary").innerText(), "All tasks matching “MILK” · sorted by created, newest first");
  await a1.getByRole("searchbox").fill("");
  await a1.getByRole("button", { name: "Search", exact: true }).click();
  await a1.getByLabel("Sort by").selectOption("title");
  await a1.getByLabel("Order").selectOption("asc");
  await eventually(async () =>
    assert.deepEqual(await titles(a1), ["Book dentist", "Buy milk", "Call plumber", "Pay rent", "Water plants", "Write report"]),
  );
  assert.equal(await a1.getByTestId("summary").innerText(), "All tasks · sorted by title, a to z");

  // Edit title and description, on the row itself.
  const editReport = await startEditing(a1, "Write report");
  await editReport.getByLabel("Title").fill("Write the report");
  await editReport.getByLabel("Description").fill("Due Friday");
  await editReport.getByRole("button", { name: "Save" }).click();
  await taskRow(a1, "Write the report").getByText("Due Friday").waitFor();

  // The row's actions sit on its own line, beside the title.
  const row = taskRow(a1, "Buy milk");
  const [titleBox, editBox, deleteBox] = await Promise.all([
    row.locator(".title").boundingBox(),
    row.getByRole("button", { name: "Edit" }).boundingBox(),
    row.getByRole("button", { name: "Delete" }).boundingBox(),
  ]);
  assert.ok(Math.abs(editBox.y - titleBox.y) < 12 && Math.abs(deleteBox.y - titleBox.y) < 12, "Edit and Delete are inline");
  assert.ok(editBox.x > titleBox.x + titleBox.width, "to the right of the title");

  // Delete, then undo: the task leaves the list at once, nothing is sent,
  // and Undo brings it back, still there after a reload.
  const deletes = [];
  a1.on("request", (r) => r.method() === "DELETE" && deletes.push({ url: r.url(), at: Date.now() }));
  await taskRow(a1, "Pay rent").getByRole("button", { name: "Delete" }).click();
  assert.equal(await taskRow(a1, "Pay rent").count(), 0, "hidden at once");
  assert.equal(await a1.getByTestId("range").innerText(), "1–5 of 5");
  const toast = a1.getByTestId("undo-toast");
  await toast.waitFor();
  assert.match(await toast.innerText(), /Deleted “Pay rent”/);
  await a1.screenshot({ path: path.join(outputDir, "undo-toast.png") });
  await toast.getByRole("button", { name: "Undo" }).click();
  await taskRow(a1, "Pay rent").waitFor();
  assert.equal(await a1.getByTestId("range").innerText(), "1–6 of 6");
  await new Promise((resolve) => setTimeout(resolve, 5_500)); // past the undo window
  assert.deepEqual(deletes, [], "no DELETE was ever sent");
  await a1.reload();
  await taskRow(a1, "Pay rent").waitFor();
  const payRentId = Number(await taskRow(a1, "Pay rent").getAttribute("data-task-id"));

  // Delete and let the toast run out: only then is the DELETE sent, and
  // after a reload the task is gone.
  await live(a1);
  const clicked = Date.now();
  await taskRow(a1, "Pay rent").getByRole("button", { name: "Delete" }).click();
  await eventually(() => assert.equal(deletes.length, 1));
  assert.ok(deletes[0].at - clicked >= 4_500, `the DELETE waited for the undo window (${deletes[0].at - clicked} ms)`);
  assert.ok(deletes[0].url.endsWith(`/api/tasks/${payRentId}`));
  await eventually(async () => assert.equal(await toast.count(), 0));
  await titles(a1); // the refetch after the delete has finished: the reload cuts nothing
  await a1.reload();
  await a1.getByTestId("range").waitFor();
  await eventually(async () => assert.equal(await a1.getByTestId("range").innerText(), "1–5 of 5"));
  assert.ok(!(await titles(a1)).includes("Pay rent"));
  assert.equal((await stack.service.call("GET", `/api/tasks/${payRentId}`, asAlice)).status, 404);

  // Neither sees the other's tasks.
  const bobList = await titles(b1);
  assert.deepEqual(bobList, ["Fix bike", "Bob's secret plan"]);
  assert.equal(await b1.getByTestId("range").innerText(), "1–2 of 2");
  for (const title of bobTitles) assert.equal(await a1.getByText(title).count(), 0);
  for (const title of aliceTitles) assert.equal(await b1.getByText(title, { exact: true }).count(), 0);
  await a1.screenshot({ path: path.join(outputDir, "task-list.png"), fullPage: true });

  // On the phone: nothing is wider than the screen, the row's actions
  // still sit inline (icons named for screen readers), and editing works.
  assert.equal(await b1.evaluate(() => document.documentElement.scrollWidth), 390, "no sideways scrolling");
  const bike = taskRow(b1, "Fix bike");
  const [bikeTitle, bikeEdit] = await Promise.all([bike.locator(".title").boundingBox(), bike.getByRole("button", { name: "Edit" }).boundingBox()]);
  assert.ok(Math.abs(bikeEdit.y - bikeTitle.y) < 12, "inline on the phone too");
  assert.ok(bikeEdit.x + bikeEdit.width <= 390);
  await b1.screenshot({ path: path.join(outputDir, "phone-task-list.png"), fullPage: true });
  const editBike = await startEditing(b1, "Fix bike");
  await editBike.getByLabel("Title").fill("Fix the bike");
  await editBike.getByRole("button", { name: "Save" }).click();
  await taskRow(b1, "Fix the bike").waitFor();

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
  // The page's two first calls (the list and the tags) each got one 401,
  // for the expired token, and were retried with one fresh token.
  await eventually(() =>
    assert.deepEqual(
      alice.seen.responses
        .filter((r) => r.line.startsWith("401"))
        .map((r) => [r.line, r.authorization])
        .sort(),
      [
        ["401 GET /api/tags", `Bearer ${expired}`],
        ["401 GET /api/tasks", `Bearer ${expired}`],
      ],
      "one 401 per call, for the expired token only",
    ),
  );

  // Delete my account: away from "Sign out", behind a typed confirmation.
  // Alice's tasks and Better Auth user are gone, Bob's stay.
  const danger = a1.getByRole("region", { name: "Danger zone" });
  assert.equal(await a1.locator("header").getByRole("button", { name: /Delete/ }).count(), 0, "not beside Sign out");
  await danger.getByRole("button", { name: "Delete my account…" }).click();
  const confirmDelete = danger.getByRole("button", { name: "Delete my account and tasks" });
  assert.ok(await confirmDelete.isDisabled(), "nothing typed yet");
  const confirmation = danger.getByLabel("Type your email to confirm");
  await confirmation.fill("alice@example.org");
  assert.ok(await confirmDelete.isDisabled(), "not the account's email");
  await confirmation.fill(emailOf("Alice"));
  assert.ok(await confirmDelete.isEnabled());
  await danger.screenshot({ path: path.join(outputDir, "delete-account.png") });
  await confirmDelete.click();
  await a1.waitForURL(`${stack.origin}/sign-up`);
  await a1.getByRole("button", { name: "Sign up" }).waitFor();
  assert.equal(await stack.authUsers(aliceId), 0);
  const left = await stack.service.call("GET", "/api/tasks", await stack.sign({ sub: aliceId }));
  assert.equal(left.status, 200);
  assert.deepEqual(left.body, []);
  await b1.reload();
  await eventually(async () => assert.deepEqual(await titles(b1), ["Fix the bike", "Bob's secret plan"]));

  // Nothing failed but what the test provoked, and nothing loaded from outside.
  const provoked = alice.seen.responses.map((r) => r.line.replace(/\/\d+$/, "/{id}")).sort();
  assert.deepEqual(provoked, ["401 GET /api/tags", "401 GET /api/tasks", "412 PUT /api/tasks/{id}"]);
  assert.deepEqual(bob.seen.responses, []);
  assert.deepEqual([...alice.seen.failed, ...bob.seen.failed], [], "no failed request");
  assert.deepEqual(bob.seen.console, [], "no console error for Bob");
  assert.equal(alice.seen.console.length, 3, `console errors: ${alice.seen.console.join("\n")}`);
  for (const message of alice.seen.console) assert.match(message, /status of (401|412)/);
  assert.deepEqual([...alice.seen.foreign, ...bob.seen.foreign], [], "nothing loaded from outside");
  await alice.context.close();
  await bob.context.close();
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
  // A delete is sent when its undo window closes: from then on, 1 s.
  const deleteSent = c2.waitForRequest((r) => r.method() === "DELETE", { timeout: 10_000 });
  await taskRow(c2, "Plan the summer trip").getByRole("button", { name: "Delete" }).click();
  await eventually(async () => assert.equal(await taskRow(c2, "Plan the summer trip").count(), 0));
  await (await deleteSent).response();
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

test("what a user sees: loading, the contract's limits, the service down and back, a session that ended", async () => {
  const outage = await stack.instanceWithOutage();
  ours.push(outage.origin, outage.serviceAddress);
  const erin = await userContext("Erin");

  // The first page of tasks is slow: a skeleton shows meanwhile, never "0 of 0".
  const tasksRoute = `${outage.serviceAddress}/api/tasks*`;
  await erin.context.route(tasksRoute, async (route) => {
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await route.continue().catch(() => undefined); // unrouted meanwhile: already sent on
  });
  const e1 = await signUp(erin.context, "Erin", outage.origin, { wait: false });
  await e1.getByTestId("skeleton").waitFor();
  assert.equal(await e1.getByTestId("range").count(), 0);
  assert.equal(await e1.getByText(/\b0 of 0\b/).count(), 0, "no count before the list has loaded");
  assert.equal(await e1.getByRole("status", { name: "Loading tasks" }).count(), 1, "said to screen readers");
  await e1.screenshot({ path: path.join(outputDir, "loading.png") });
  await e1.getByTestId("range").waitFor();
  assert.equal(await e1.getByTestId("skeleton").count(), 0);
  assert.equal(await e1.getByTestId("range").innerText(), "0 of 0");
  assert.match(await e1.getByTestId("empty").innerText(), /^No tasks yet\s+Add your first task above\.$/);
  await erin.context.unroute(tasksRoute);

  // The fields stop at the contract's limits (200, 1000; 200 for a search),
  // with a count near them.
  const addForm = e1.getByRole("form", { name: "Add a task" });
  await addForm.getByLabel("Title").fill("t".repeat(250));
  assert.equal((await addForm.getByLabel("Title").inputValue()).length, 200);
  await addForm.getByText("200/200").waitFor();
  await addForm.getByLabel("Description").fill("d".repeat(1100));
  assert.equal((await addForm.getByLabel("Description").inputValue()).length, 1000);
  await e1.getByRole("searchbox").fill("s".repeat(250));
  assert.equal((await e1.getByRole("searchbox").inputValue()).length, 200);
  await e1.getByRole("searchbox").fill("");
  await addForm.getByLabel("Title").fill("");
  await addForm.getByLabel("Description").fill("");
  assert.equal(await e1.locator(".field-error").count(), 0, "no error at rest");
  await addTask(e1, "Water the ferns");
  await addTask(e1, "Renew library card");

  // The service goes down: the live badge says it is reconnecting, and the
  // list says in words that the service cannot be reached and that it is
  // retrying; when the service is back, both recover by themselves.
  await live(e1);
  await outage.stopService();
  await e1.locator('[data-testid="live"][data-state="reconnecting"]').waitFor({ timeout: 15_000 });
  assert.equal(await e1.getByTestId("live").innerText(), "Reconnecting…");
  await showing(e1, "Pending");
  const trouble = e1.getByTestId("trouble");
  await trouble.waitFor({ timeout: 15_000 });
  assert.equal(await trouble.getAttribute("data-kind"), "unreachable");
  assert.match(await trouble.innerText(), /Can't reach the task service — retrying…/);
  assert.equal(await trouble.getAttribute("role"), "alert");
  await e1.screenshot({ path: path.join(outputDir, "service-down.png") });
  await outage.startService();
  await trouble.waitFor({ state: "detached", timeout: 20_000 });
  await eventually(async () => assert.deepEqual(await titles(e1), ["Renew library card", "Water the ferns"]));
  await e1.locator('[data-testid="live"][data-state="live"]').waitFor({ timeout: 20_000 });
  // Live again: a change made elsewhere shows.
  const asErin = await stack.sign({ sub: await userId(e1) });
  assert.equal((await stack.service.call("POST", "/api/tasks", asErin, { title: "Back online" })).status, 201);
  await eventually(async () => assert.equal(await taskRow(e1, "Back online").count(), 1));

  // The session ended (signed out elsewhere): the token cannot be renewed,
  // and the page says so, with the way back.
  const now = Math.floor(Date.now() / 1000);
  const expired = await stack.sign({ sub: await userId(e1), iat: now - 3600, exp: now - 600 });
  let tokens = 0;
  const tokenRoute = `${outage.origin}/api/auth/token`;
  await e1.route(tokenRoute, (route) =>
    tokens++ === 0 ? route.fulfill({ json: { token: expired } }) : route.fulfill({ status: 401, json: { message: "Unauthorized" } }),
  );
  await e1.reload();
  await trouble.waitFor();
  assert.equal(await trouble.getAttribute("data-kind"), "session");
  assert.match(await trouble.innerText(), /Your session ended — sign in again\./);
  assert.equal(await trouble.getByRole("link", { name: "Sign in again" }).getAttribute("href"), "/sign-in");
  await e1.screenshot({ path: path.join(outputDir, "session-ended.png") });
  await e1.unroute(tokenRoute);
  await trouble.getByRole("link", { name: "Sign in again" }).click();
  await e1.waitForURL(`${outage.origin}/`); // still signed in here: straight back to the list
  await taskRow(e1, "Back online").waitFor();

  assert.deepEqual(erin.seen.foreign, [], "nothing loaded from outside");
  await erin.context.close();
});

test("sign-in limits fit a shared network: per account as well as per address", async () => {
  // Two accounts, signing in from one address (as in an office).
  const origin = stack.origin;
  const post = (route, body) =>
    fetch(`${origin}/api/auth${route}`, {
      method: "POST",
      headers: { "content-type": "application/json", origin },
      body: JSON.stringify(body),
    });
  for (const name of ["Frank", "Grace"]) {
    assert.equal((await post("/sign-up/email", { name, email: emailOf(name), password })).status, 200);
  }
  // Someone guesses Frank's password: five tries, then Frank's account is
  // held back for a minute, even with the right password...
  for (let i = 0; i < 5; i++) {
    assert.equal((await post("/sign-in/email", { email: emailOf("Frank"), password: `wrong-${i}-password` })).status, 401);
  }
  const held = await post("/sign-in/email", { email: emailOf("FRANK"), password });
  assert.equal(held.status, 429, "counted per account, whatever the case of the email");
  assert.ok(Number(held.headers.get("x-retry-after")) > 0);
  // ...while Grace, on the same network, signs in as usual.
  assert.equal((await post("/sign-in/email", { email: emailOf("Grace"), password })).status, 200);

  // The sign-in page says what happened, in words.
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${origin}/sign-in`);
  await page.getByLabel("Email").fill(emailOf("Frank"));
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  const alert = page.locator("form").getByRole("alert");
  await alert.waitFor();
  assert.match(await alert.innerText(), /^Too many sign-in attempts for this account\. Try again in \d+ seconds\.$/);
  await page.screenshot({ path: path.join(outputDir, "sign-in-limited.png") });
  await context.close();

  const phoneContext = await browser.newContext(phone);
  const phonePage = await phoneContext.newPage();
  await phonePage.goto(`${origin}/sign-in`);
  await phonePage.screenshot({ path: path.join(outputDir, "phone-sign-in.png") });
  await phoneContext.close();
});

test("the app refuses to start without BETTER_AUTH_SECRET, naming it, before touching a database", async () => {
  const { code, stderr } = await startAppWithout("BETTER_AUTH_SECRET");
  assert.notEqual(code, 0);
  const lines = stderr.split("\n").filter((line) => line.trim() !== "");
  assert.equal(lines.length, 1, `one line: ${stderr}`);
  assert.match(lines[0], /^BETTER_AUTH_SECRET is not set: /);
  // Its database (port 1) was never tried: no connection error was printed.
  assert.doesNotMatch(stderr, /ECONNREFUSED|connect/);
});

test("organize like a task app: priority, tags, due dates in the browser's zone, overdue, sorts and filters", async () => {
  const zone = "America/New_York";
  const heidi = await userContext("Heidi", { timezoneId: zone });
  const h1 = await signUp(heidi.context, "Heidi");
  const asHeidi = await stack.sign({ sub: await userId(h1) });
  // Days as the browser (in New York) counts them.
  const day = (offset) =>
    h1.evaluate((offset) => {
      const d = new Date();
      d.setDate(d.getDate() + offset);
      return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
    }, offset);
  const [yesterday, tomorrow] = [await day(-1), await day(1)];

  const form = h1.getByRole("form", { name: "Add a task" });
  const tagField = form.getByLabel("Tags", { exact: true });
  /** Fills the add form's organizing fields and adds the task. */
  async function add(title, { priority = "none", due = "", time = "", tags = [] } = {}) {
    await form.getByLabel("Title").fill(title);
    await form.getByLabel("Priority").selectOption(priority);
    await form.getByLabel("Due date").fill(due);
    if (time) await form.getByLabel("Time (optional)").fill(time);
    for (const tag of tags) {
      await tagField.fill(tag);
      await tagField.press("Enter");
    }
    await form.getByRole("button", { name: "Add" }).click();
    await taskRow(h1, title).waitFor();
  }

  // The time field waits for a day; a tag is limited to 40 characters and
  // can be removed before saving.
  assert.ok(await form.getByLabel("Time (optional)").isDisabled());
  await tagField.fill("x".repeat(50));
  assert.equal((await tagField.inputValue()).length, 40);
  await tagField.fill("urgent");
  await tagField.press("Enter");
  assert.deepEqual(await form.getByTestId("tag-chip").allInnerTexts(), ["urgent"]);
  await form.getByRole("button", { name: "Remove tag urgent" }).click();
  assert.equal(await form.getByTestId("tag-chip").count(), 0);
  await tagField.fill("bad,tag");
  await tagField.press("Enter");
  assert.equal(await fieldMessage(tagField), "A tag cannot contain a comma");
  await tagField.fill("");

  await add("File taxes", { priority: "high", due: yesterday, tags: ["finance", "home"] });
  await add("Book flights", { priority: "medium", due: tomorrow, time: "09:30", tags: ["travel"] });
  // A tag typed but not added with Enter is added on save.
  await form.getByLabel("Title").fill("Buy stamps");
  await form.getByLabel("Priority").selectOption("low");
  await tagField.fill("errands");
  await tagField.press("Enter");
  await tagField.fill("Home");
  await form.getByRole("button", { name: "Add" }).click();
  await taskRow(h1, "Buy stamps").waitFor();
  await add("Read a book");

  // Stored as the contract has it, the due date and time meant in the
  // browser's zone (New York's, not the machine's).
  const flights = (await stack.service.call("GET", "/api/tasks?q=flights", asHeidi)).body[0];
  assert.deepEqual(
    [flights.priority, flights.tags, flights.due_date, flights.due_time, flights.time_zone],
    ["medium", ["travel"], tomorrow, "09:30", zone],
  );
  const stampsTags = (await stack.service.call("GET", "/api/tasks?q=stamps", asHeidi)).body[0].tags;
  assert.deepEqual(stampsTags, ["errands", "home"], "the typed tag was added on save, spelled as first used");
  assert.equal(new Date(flights.due_at).getTime(), new Date(`${tomorrow}T09:30:00${await h1.evaluate(() => {
    const m = -new Date(Date.now() + 86400000).getTimezoneOffset();
    return `${m < 0 ? "-" : "+"}${String(Math.floor(Math.abs(m) / 60)).padStart(2, "0")}:${String(Math.abs(m) % 60).padStart(2, "0")}`;
  })}`).getTime(), "09:30 in New York");

  // Each row shows its priority, its due date (overdue marked) and its tags.
  const taxes = taskRow(h1, "File taxes");
  assert.equal(await taxes.getAttribute("data-overdue"), "true");
  assert.match(await taxes.getByTestId("due").innerText(), /^Overdue · Yesterday$/);
  assert.match(await taxes.getByTestId("priority").innerText(), /^High\s+priority$/, "“High priority” to a screen reader");
  assert.deepEqual(await shownTags(taxes), ["finance", "home"]);
  const flightsRow = taskRow(h1, "Book flights");
  assert.equal(await flightsRow.getAttribute("data-overdue"), "false");
  assert.match(await flightsRow.getByTestId("due").innerText(), /^Due Tomorrow, 09:30 AM$/);
  assert.deepEqual(await shownTags(taskRow(h1, "Buy stamps")), ["errands", "home"], "one spelling per tag");
  assert.equal(await taskRow(h1, "Read a book").getByTestId("due").count(), 0);
  assert.equal(await taskRow(h1, "Read a book").getByTestId("priority").count(), 0);

  // The sort menu: due date (soonest first, none last), then priority.
  await h1.getByLabel("Sort by").selectOption("due_at");
  await eventually(async () => assert.deepEqual(await titles(h1), ["File taxes", "Book flights", "Buy stamps", "Read a book"]));
  assert.equal(await h1.getByLabel("Order").inputValue(), "asc");
  assert.equal(await h1.getByTestId("summary").innerText(), "All tasks · sorted by due date, soonest first");
  await h1.getByLabel("Sort by").selectOption("priority");
  await eventually(async () => assert.deepEqual(await titles(h1), ["File taxes", "Book flights", "Buy stamps", "Read a book"]));
  assert.equal(await h1.getByTestId("summary").innerText(), "All tasks · sorted by priority, highest first");
  // The order menu names each direction for the sort in force.
  assert.deepEqual(await h1.getByLabel("Order").locator("option").allInnerTexts(), ["Highest first", "Lowest first"]);
  await h1.getByLabel("Order").selectOption("asc");
  await eventually(async () => assert.deepEqual(await titles(h1), ["Read a book", "Buy stamps", "Book flights", "File taxes"]));
  assert.equal(await h1.getByTestId("summary").innerText(), "All tasks · sorted by priority, lowest first");
  await h1.getByLabel("Order").selectOption("desc");

  // Filters: by priority, by a tag chip (click one, then another), overdue.
  await h1.getByRole("region", { name: "Filters and sort" }).getByLabel("Priority").selectOption("high,medium");
  await eventually(async () => assert.deepEqual(await titles(h1), ["File taxes", "Book flights"]));
  assert.equal(await h1.getByTestId("summary").innerText(), "All tasks of high and medium priority · sorted by priority, highest first");
  await h1.getByRole("region", { name: "Filters and sort" }).getByLabel("Priority").selectOption("any");
  await taskRow(h1, "Buy stamps").getByRole("button", { name: "Filter by tag home" }).click();
  await eventually(async () => assert.deepEqual(await titles(h1), ["File taxes", "Buy stamps"]));
  assert.equal(await taskRow(h1, "Buy stamps").getByRole("button", { name: "Filter by tag home" }).getAttribute("aria-pressed"), "true");
  assert.equal(await h1.getByTestId("summary").innerText(), "All tasks tagged “home” · sorted by priority, highest first");
  await taskRow(h1, "File taxes").getByRole("button", { name: "Filter by tag finance" }).click();
  await eventually(async () => assert.deepEqual(await titles(h1), ["File taxes"]));
  await h1.screenshot({ path: path.join(outputDir, "tag-filter.png") });
  await h1.getByRole("button", { name: "Remove the tag filter home" }).click();
  await h1.getByRole("button", { name: "Remove the tag filter finance" }).click();
  await eventually(async () => assert.equal((await titles(h1)).length, 4));
  await h1.getByRole("region", { name: "Filters and sort" }).getByLabel("Tag", { exact: true }).selectOption("travel");
  await eventually(async () => assert.deepEqual(await titles(h1), ["Book flights"]));
  await h1.getByRole("button", { name: "Clear filters" }).click();
  await h1.getByRole("button", { name: "Overdue only" }).click();
  await eventually(async () => assert.deepEqual(await titles(h1), ["File taxes"]));
  assert.equal(await h1.getByTestId("summary").innerText(), "Overdue tasks · sorted by priority, highest first");
  await h1.getByRole("button", { name: "Overdue only" }).click();
  await eventually(async () => assert.equal((await titles(h1)).length, 4));

  // Editing: another priority, a tag removed, the due date cleared.
  const stamps = await startEditing(h1, "Buy stamps");
  await stamps.getByLabel("Priority").selectOption("high");
  await stamps.getByRole("button", { name: "Remove tag errands" }).click();
  await stamps.getByLabel("Due date").fill(tomorrow);
  await stamps.getByRole("button", { name: "Save" }).click();
  await stamps.waitFor({ state: "detached" });
  await eventually(async () => assert.match(await taskRow(h1, "Buy stamps").getByTestId("priority").innerText(), /^High\s+priority$/));
  assert.deepEqual(await shownTags(taskRow(h1, "Buy stamps")), ["home"]);
  assert.match(await taskRow(h1, "Buy stamps").getByTestId("due").innerText(), /^Due Tomorrow$/);
  const flightsEdit = await startEditing(h1, "Book flights");
  await flightsEdit.getByRole("button", { name: "Clear the due date" }).click();
  assert.equal(await flightsEdit.getByLabel("Due date").inputValue(), "");
  assert.ok(await flightsEdit.getByLabel("Time (optional)").isDisabled(), "the time goes with the day");
  await flightsEdit.getByRole("button", { name: "Save" }).click();
  await flightsEdit.waitFor({ state: "detached" });
  await eventually(async () => assert.equal(await taskRow(h1, "Book flights").getByTestId("due").count(), 0));
  const stored = (await stack.service.call("GET", "/api/tasks?sort=title&order=asc", asHeidi)).body;
  assert.deepEqual(
    stored.map((t) => [t.title, t.priority, t.tags, t.due_date, t.due_time]),
    [
      ["Book flights", "medium", ["travel"], null, null],
      ["Buy stamps", "high", ["home"], tomorrow, null],
      ["File taxes", "high", ["finance", "home"], yesterday, null],
      ["Read a book", "none", [], null, null],
    ],
  );
  await h1.getByLabel("Sort by").selectOption("due_at");
  await eventually(async () => assert.deepEqual(await titles(h1), ["File taxes", "Buy stamps", "Book flights", "Read a book"]));
  await h1.screenshot({ path: path.join(outputDir, "organized.png"), fullPage: true });

  // The same list on a phone.
  const onPhone = await browser.newContext({ ...phone, timezoneId: zone });
  const p1 = await onPhone.newPage();
  await p1.goto(`${stack.origin}/sign-in`);
  await p1.getByLabel("Email").fill(emailOf("Heidi"));
  await p1.getByLabel("Password").fill(password);
  await p1.getByRole("button", { name: "Sign in" }).click();
  await p1.waitForURL(`${stack.origin}/`);
  await p1.getByLabel("Sort by").selectOption("due_at");
  await eventually(async () => assert.deepEqual(await titles(p1), ["File taxes", "Buy stamps", "Book flights", "Read a book"]));
  assert.equal(await p1.evaluate(() => document.documentElement.scrollWidth), 390, "no sideways scrolling");
  await p1.screenshot({ path: path.join(outputDir, "phone-organized.png"), fullPage: true });
  await onPhone.close();

  assert.deepEqual(heidi.seen.responses, [], "no error response");
  assert.deepEqual(heidi.seen.failed, [], "no failed request");
  assert.deepEqual(heidi.seen.console, [], "no console error");
  assert.deepEqual(heidi.seen.foreign, [], "nothing loaded from outside");
  await heidi.context.close();
});

test("offline: writes wait on the device, marked, reach the service once when back online, and a conflict is shown, not overwritten", async () => {
  const ivan = await userContext("Ivan");
  const i1 = await signUp(ivan.context, "Ivan");
  const asIvan = await stack.sign({ sub: await userId(i1) });
  const originals = ["Drop me offline", "Edit me offline", "Edited on two devices", "Mine wins", "Tick me offline"];
  for (const title of originals) await addTask(i1, title);
  await live(i1);
  const stored = async () => (await stack.service.call("GET", "/api/tasks?limit=500&sort=title&order=asc", asIvan)).body;
  const idOf = async (title) => (await stored()).find((task) => task.title === title).id;

  // The network goes: the banner says so.
  await ivan.context.setOffline(true);
  const banner = i1.getByTestId("sync-banner");
  await eventually(async () => assert.equal(await banner.getAttribute("data-state"), "offline"));

  // One write of each kind, each shown at once and marked as waiting.
  await addTask(i1, "Made offline", "on the train");
  const edit = await startEditing(i1, "Edit me offline");
  await edit.getByLabel("Title").fill("Edited offline");
  await edit.getByRole("button", { name: "Save" }).click();
  await taskRow(i1, "Edited offline").waitFor();
  await taskRow(i1, "Tick me offline").getByRole("checkbox").click();
  await taskRow(i1, "Drop me offline").getByRole("button", { name: "Delete" }).click();
  // The delete joins the queue when its undo window closes.
  await eventually(async () => assert.equal(await i1.getByTestId("waiting-count").innerText(), "4 changes"));
  assert.match(await banner.innerText(), /offline: 4 changes waiting/);
  for (const title of ["Made offline", "Edited offline", "Tick me offline"]) {
    assert.equal(await taskRow(i1, title).getByTestId("waiting").count(), 1, `${title} is marked waiting`);
  }
  assert.equal(await taskRow(i1, "Mine wins").getByTestId("waiting").count(), 0, "untouched tasks are not marked");
  assert.ok(await taskRow(i1, "Tick me offline").getByRole("checkbox").isChecked());
  assert.equal(await taskRow(i1, "Drop me offline").count(), 0);
  await i1.screenshot({ path: path.join(outputDir, "offline-waiting.png"), fullPage: true });
  assert.deepEqual((await stored()).map((task) => task.title), originals, "nothing reached the service yet");

  // Back online. The first batch reaches the service but its answer is
  // lost on the way back; the retry (same key, same body) gets the first
  // answer again.
  const batchRoute = `${stack.service.address}/api/batch`;
  const batches = [];
  await i1.route(batchRoute, async (route) => {
    const request = route.request();
    const sent = { key: request.headers()["idempotency-key"], body: request.postData() };
    batches.push(sent);
    if (batches.length > 1) return route.continue();
    sent.status = (await route.fetch()).status();
    await route.abort("connectionreset");
  });
  await ivan.context.setOffline(false);
  await banner.waitFor({ state: "detached", timeout: 20_000 });
  await i1.unroute(batchRoute);
  assert.equal(batches.length, 2, "one lost answer, one retry");
  assert.equal(batches[0].status, 200, "the first try was applied");
  assert.match(batches[0].key, /^offline-[0-9a-f]{32}$/);
  assert.deepEqual([batches[1].key, batches[1].body], [batches[0].key, batches[0].body], "the same key and body");
  assert.deepEqual(
    JSON.parse(batches[0].body).operations.map((op) => op.op),
    ["create", "update", "complete", "delete"],
  );

  // The service holds exactly those changes, once.
  const after = await stored();
  assert.deepEqual(
    after.map((task) => [task.title, task.completed, task.version]),
    [
      ["Edited offline", false, 2],
      ["Edited on two devices", false, 1],
      ["Made offline", false, 1],
      ["Mine wins", false, 1],
      ["Tick me offline", true, 2],
    ],
  );
  assert.equal(after.find((task) => task.title === "Made offline").description, "on the train");
  await eventually(async () => assert.equal(await i1.getByTestId("waiting").count(), 0));
  await eventually(async () =>
    assert.deepEqual(await titles(i1), ["Made offline", "Tick me offline", "Mine wins", "Edited on two devices", "Edited offline"]),
  );

  // Offline again, two tasks are edited here while another device changes
  // them too.
  await ivan.context.setOffline(true);
  await eventually(async () => assert.equal(await banner.getAttribute("data-state"), "offline"));
  const twice = await startEditing(i1, "Edited on two devices");
  await twice.getByLabel("Title").fill("My offline title");
  await twice.getByRole("button", { name: "Save" }).click();
  await taskRow(i1, "My offline title").waitFor();
  const mine = await startEditing(i1, "Mine wins");
  await mine.getByLabel("Description").fill("from the laptop");
  await mine.getByRole("button", { name: "Save" }).click();
  await taskRow(i1, "Mine wins").getByText("from the laptop").waitFor();
  const [twiceId, mineId] = [await idOf("Edited on two devices"), await idOf("Mine wins")];
  assert.equal((await stack.service.call("PUT", `/api/tasks/${twiceId}`, asIvan, { title: "Their title" })).status, 200);
  assert.equal((await stack.service.call("PUT", `/api/tasks/${mineId}`, asIvan, { description: "from the phone" })).status, 200);

  // Back online: both come back as conflicts with both versions; the
  // service's versions stand.
  await ivan.context.setOffline(false);
  const conflictOf = (id) => i1.locator(`[data-testid="sync-conflict"][data-task-id="${id}"]`);
  await conflictOf(twiceId).getByTestId("theirs").getByText("Their title").waitFor({ timeout: 20_000 });
  assert.equal(await conflictOf(twiceId).getByTestId("mine").locator(".version-title").innerText(), "My offline title");
  assert.equal(await conflictOf(twiceId).getByTestId("theirs").locator(".version-title").innerText(), "Their title");
  await conflictOf(mineId).getByTestId("theirs").getByText("from the phone").waitFor();
  assert.match(await conflictOf(mineId).getByTestId("mine").innerText(), /from the laptop/);
  await i1.screenshot({ path: path.join(outputDir, "offline-conflict.png"), fullPage: true });
  const untouched = await stored();
  assert.deepEqual(
    untouched.filter((task) => [twiceId, mineId].includes(task.id)).map((task) => [task.title, task.description, task.version]),
    [
      ["Mine wins", "from the phone", 2],
      ["Their title", null, 2],
    ],
    "nothing overwritten",
  );
  await eventually(async () => assert.equal(await taskRow(i1, "Their title").count(), 1));

  // Keep theirs: nothing is sent. Keep mine: sent over their version.
  await conflictOf(twiceId).getByRole("button", { name: "Keep theirs" }).click();
  await conflictOf(twiceId).waitFor({ state: "detached" });
  await conflictOf(mineId).getByRole("button", { name: "Keep mine" }).click();
  await conflictOf(mineId).waitFor({ state: "detached" });
  await eventually(async () => {
    const now = (await stored()).filter((task) => [twiceId, mineId].includes(task.id));
    assert.deepEqual(
      now.map((task) => [task.title, task.description, task.version]),
      [
        ["Mine wins", "from the laptop", 3],
        ["Their title", null, 2],
      ],
    );
  });
  await eventually(async () => assert.equal(await taskRow(i1, "Mine wins").getByText("from the laptop").count(), 1));
  assert.equal(await banner.count(), 0);

  // The batch's answers carried any refusal inside them: no error response.
  assert.deepEqual(ivan.seen.responses, [], "no error response");
  assert.deepEqual(ivan.seen.foreign, [], "nothing loaded from outside");
  await ivan.context.close();
});

/** Signs in on the sign-in page as a user who signed up earlier; resolves once the list has loaded. */
async function signIn(context, name, origin = stack.origin) {
  const page = await context.newPage();
  await page.goto(`${origin}/sign-in`);
  await page.getByLabel("Email").fill(emailOf(name));
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${origin}/`);
  await page.getByTestId("range").waitFor();
  return page;
}

/**
 * Wraps the pages' `Notification` so that each notification the app shows
 * (and each time it asks for permission) is recorded, the real one still
 * made: read with `notifications(page)`.
 */
async function recordNotifications(context) {
  await context.addInitScript(() => {
    const Real = window.Notification;
    const seen = { shown: [], asked: 0 };
    window.recordedNotifications = seen;
    class Recorded extends Real {
      constructor(title, options = {}) {
        super(title, options);
        seen.shown.push({ title, body: options.body, tag: options.tag, permission: Real.permission });
      }
      static requestPermission(...args) {
        seen.asked++;
        return Real.requestPermission(...args);
      }
    }
    window.Notification = Recorded;
  });
  return (page) => page.evaluate(() => window.recordedNotifications);
}

const sameInstant = (a, b) => new Date(a).getTime() === new Date(b).getTime();

/** The next whole minute (UTC) at least `leadMs` away: `{ at, date, time }` as the form takes them in UTC. */
function nextWholeMinute(leadMs) {
  const at = new Date(Math.ceil((Date.now() + leadMs) / 60_000) * 60_000);
  return { at, date: at.toISOString().slice(0, 10), time: at.toISOString().slice(11, 16) };
}

test("a reminder due during the test: a system notification where the browser allows it, a toast where it does not", async () => {
  // Two windows of Quinn's, both in UTC: in the first, notifications are
  // allowed (Playwright's grantPermissions, CDP's Browser.grantPermissions);
  // in the second they never were, and headless Chromium answers "denied"
  // when asked, as a user saying no would.
  const allowed = await userContext("Quinn", { timezoneId: "UTC" });
  await allowed.context.grantPermissions(["notifications"], { origin: stack.origin });
  const notificationsIn = await recordNotifications(allowed.context);
  const q1 = await signUp(allowed.context, "Quinn");
  const asQuinn = await stack.sign({ sub: await userId(q1) });
  const other = await userContext("Quinn, elsewhere", { timezoneId: "UTC" });
  const notificationsElsewhere = await recordNotifications(other.context);
  const q2 = await signIn(other.context, "Quinn");
  assert.equal(await q1.evaluate(() => Notification.permission), "granted");
  assert.equal(await q2.evaluate(() => Notification.permission), "default");
  await live(q1);
  await live(q2);

  // Reminders wait for a due time.
  const form = q2.getByRole("form", { name: "Add a task" });
  const atDueTime = form.getByRole("button", { name: "At due time" });
  assert.ok(await atDueTime.isDisabled());
  await form.getByText("Set a time to add reminders.").waitFor();
  assert.equal(await form.getByRole("button", { name: "Enable notifications" }).count(), 0);
  const due = nextWholeMinute(12_000);
  await form.getByLabel("Title").fill("Stretch");
  await form.getByLabel("Due date").fill(due.date);
  await form.getByLabel("Time (optional)").fill(due.time);
  assert.ok(await atDueTime.isEnabled());
  assert.deepEqual(
    await form.getByTestId("reminder-choice").allInnerTexts(),
    ["At due time", "5 min before", "15 min before", "30 min before", "1 hour before", "1 day before"],
  );
  await form.getByRole("button", { name: "Enable notifications" }).waitFor();

  // Setting the first reminder asks for permission; refused, the form says
  // where reminders will show instead.
  await atDueTime.click();
  assert.equal(await atDueTime.getAttribute("aria-pressed"), "true");
  await form.getByTestId("notifications-off").getByText(/Notifications are blocked in this browser/).waitFor();
  assert.equal((await notificationsElsewhere(q2)).asked, 1, "asked once, on the first reminder");
  assert.equal(await form.getByRole("button", { name: "Enable notifications" }).count(), 0);
  await q2.screenshot({ path: path.join(outputDir, "reminder-form.png") });
  await form.getByRole("button", { name: "Add" }).click();
  await taskRow(q2, "Stretch").waitFor();
  assert.match(await taskRow(q2, "Stretch").getByTestId("reminders").innerText(), /At due time$/);
  const [stored] = (await stack.service.call("GET", "/api/tasks?q=Stretch", asQuinn)).body;
  assert.deepEqual([stored.due_date, stored.due_time, stored.time_zone, stored.reminders], [due.date, due.time, "UTC", [0]]);
  assert.equal(new Date(stored.due_at).getTime(), due.at.getTime());
  assert.ok(Date.now() < due.at.getTime(), "saved before its time");
  await taskRow(q1, "Stretch").waitFor();

  // When its time comes: a system notification in the first window, a
  // toast in the second.
  const deadline = due.at.getTime() - Date.now() + 8_000;
  await q1.waitForFunction(() => window.recordedNotifications.shown.length > 0, null, { timeout: deadline });
  const { shown } = await notificationsIn(q1);
  assert.deepEqual(shown.map(({ title, body, permission }) => ({ title, body, permission })), [
    { title: "Stretch", body: "Due now", permission: "granted" },
  ]);
  // One tag per task and reminder time: the system shows it once however many tabs are open.
  const prefix = `reminder-${stored.id}-`;
  assert.ok(shown[0].tag.startsWith(prefix) && sameInstant(shown[0].tag.slice(prefix.length), due.at), shown[0].tag);
  const toast = q2.locator('[data-testid="notice"][data-tone="reminder"]');
  await toast.waitFor({ timeout: 5_000 });
  assert.equal(await toast.locator("p").innerText(), "Reminder: “Stretch” is due now.");
  assert.deepEqual((await notificationsElsewhere(q2)).shown, [], "no system notification where it is not allowed");
  assert.equal(await q1.locator('[data-testid="notice"][data-tone="reminder"]').count(), 0, "no toast where it is");
  await q2.screenshot({ path: path.join(outputDir, "reminder-toast.png") });
  await q1.screenshot({ path: path.join(outputDir, "reminder-notified.png") });

  // The toast stays until dismissed.
  await new Promise((resolve) => setTimeout(resolve, 4_500));
  assert.equal(await toast.count(), 1);
  await toast.getByRole("button", { name: "Dismiss" }).click();
  await toast.waitFor({ state: "detached" });

  for (const who of [allowed, other]) {
    assert.deepEqual(who.seen.responses, [], "no error response");
    assert.deepEqual(who.seen.failed, [], "no failed request");
    assert.deepEqual(who.seen.console, [], "no console error");
    assert.deepEqual(who.seen.foreign, [], "nothing loaded from outside");
  }
  await allowed.context.close();
  await other.context.close();
});

test("repeating tasks: picked in the form, labelled on the row, and completing a daily one moves it to tomorrow", async () => {
  const zone = "Europe/Berlin";
  const rosa = await userContext("Rosa", { timezoneId: zone });
  const r1 = await signUp(rosa.context, "Rosa");
  const asRosa = await stack.sign({ sub: await userId(r1) });
  const day = (offset) =>
    r1.evaluate((offset) => {
      const d = new Date();
      d.setDate(d.getDate() + offset);
      return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
    }, offset);
  const [today, tomorrow, nextYear] = [await day(0), await day(1), await day(365)];
  const stored = async (title) => (await stack.service.call("GET", `/api/tasks?q=${encodeURIComponent(title)}`, asRosa)).body[0];

  // The repeat picker waits for a due date; daily needs nothing more.
  const form = r1.getByRole("form", { name: "Add a task" });
  const repeat = form.getByLabel("Repeat", { exact: true });
  assert.ok(await repeat.isDisabled());
  await form.getByLabel("Title").fill("Water the plants");
  await form.getByLabel("Due date").fill(today);
  assert.ok(await repeat.isEnabled());
  assert.deepEqual(await repeat.locator("option").allInnerTexts(), ["Does not repeat", "Daily", "Weekly", "Monthly", "Yearly"]);
  await repeat.selectOption("daily");
  assert.equal(await form.getByLabel("Repeat every").inputValue(), "1");
  assert.equal(await form.getByLabel("Ends").inputValue(), "never");
  await r1.screenshot({ path: path.join(outputDir, "repeat-form.png") });
  await form.getByRole("button", { name: "Add" }).click();
  const row = taskRow(r1, "Water the plants");
  await row.waitFor();
  assert.equal(await row.getByTestId("repeats").innerText(), "Repeats daily");
  assert.equal(await row.getByTestId("due").innerText(), "Due Today");
  const made = await stored("Water the plants");
  assert.deepEqual([made.recurrence, made.due_date, made.time_zone, made.reminders], ["FREQ=DAILY", today, zone, []]);

  // Ticked: the service moves it to tomorrow and it stays pending.
  await row.getByRole("checkbox").click();
  await eventually(async () => assert.equal(await row.getByTestId("due").innerText(), "Due Tomorrow"));
  assert.equal(await row.getByRole("checkbox").isChecked(), false);
  assert.equal(await row.getAttribute("data-completed"), "false");
  const advanced = await stored("Water the plants");
  assert.deepEqual([advanced.completed, advanced.due_date, advanced.recurrence, advanced.version], [false, tomorrow, "FREQ=DAILY", 2]);
  assert.ok(advanced.completed_at, "the completion is recorded");
  await showing(r1, "Pending");
  await eventually(async () => assert.deepEqual(await titles(r1), ["Water the plants"]));
  await showing(r1, "All");
  await r1.screenshot({ path: path.join(outputDir, "repeat-completed.png"), fullPage: true });

  // Edited: every 2 weeks on Monday and Wednesday, 10 times.
  let edit = await startEditing(r1, "Water the plants");
  assert.equal(await edit.getByLabel("Repeat", { exact: true }).inputValue(), "daily");
  await edit.getByLabel("Repeat", { exact: true }).selectOption("weekly");
  const days = edit.getByRole("group", { name: "Repeat on" });
  for (const name of ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]) {
    const button = days.getByRole("button", { name, exact: true });
    const want = name === "Monday" || name === "Wednesday";
    if (((await button.getAttribute("aria-pressed")) === "true") !== want) await button.click();
  }
  await edit.getByLabel("Repeat every").fill("2");
  await edit.getByLabel("Ends").selectOption("count");
  await edit.getByLabel("Number of times").fill("10");
  await r1.screenshot({ path: path.join(outputDir, "repeat-weekly.png") });
  await edit.getByRole("button", { name: "Save" }).click();
  await edit.waitFor({ state: "detached" });
  await eventually(async () => assert.equal(await row.getByTestId("repeats").innerText(), "Repeats every 2 weeks on Mon, Wed, 10 times"));
  assert.equal((await stored("Water the plants")).recurrence, "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;COUNT=10");

  // Monthly until a day a year ahead; an interval of 0 is refused first, in the browser.
  edit = await startEditing(r1, "Water the plants");
  assert.equal(await edit.getByLabel("Repeat every").inputValue(), "2");
  await edit.getByLabel("Repeat", { exact: true }).selectOption("monthly");
  await edit.getByLabel("Repeat every").fill("0");
  await edit.getByLabel("Ends").selectOption("until");
  await edit.getByLabel("Last day").fill(nextYear);
  await edit.getByRole("button", { name: "Save" }).click();
  assert.equal(await fieldMessage(edit.getByLabel("Repeat", { exact: true })), "Repeat every 1 to 999 months");
  await edit.getByLabel("Repeat every").fill("1");
  await edit.getByRole("button", { name: "Save" }).click();
  await edit.waitFor({ state: "detached" });
  const until = nextYear.replaceAll("-", "");
  await eventually(async () => assert.match(await row.getByTestId("repeats").innerText(), /^Repeats monthly, until \d{1,2} \w{3} \d{4}$/));
  assert.equal((await stored("Water the plants")).recurrence, `FREQ=MONTHLY;UNTIL=${until}`);

  // A rule set elsewhere that the picker cannot show is labelled, and kept by an edit.
  const custom = await stack.service.call("POST", "/api/tasks", asRosa, {
    title: "Pay the rent",
    due_date: tomorrow,
    recurrence: "FREQ=MONTHLY;BYMONTHDAY=-1",
    time_zone: zone,
  });
  assert.equal(custom.status, 201);
  const rent = taskRow(r1, "Pay the rent");
  await eventually(async () => assert.equal(await rent.getByTestId("repeats").innerText(), "Repeats monthly on the last day"));
  edit = await startEditing(r1, "Pay the rent");
  assert.equal(await edit.getByLabel("Repeat", { exact: true }).inputValue(), "custom");
  await edit.getByLabel("Description").fill("by transfer");
  await edit.getByRole("button", { name: "Save" }).click();
  await edit.waitFor({ state: "detached" });
  await eventually(async () => assert.equal((await stored("Pay the rent")).description, "by transfer"));
  assert.equal((await stored("Pay the rent")).recurrence, "FREQ=MONTHLY;BYMONTHDAY=-1");

  // Clearing the due date clears the repeat with it.
  edit = await startEditing(r1, "Water the plants");
  await edit.getByRole("button", { name: "Clear the due date" }).click();
  assert.ok(await edit.getByLabel("Repeat", { exact: true }).isDisabled());
  assert.equal(await edit.getByLabel("Repeat", { exact: true }).inputValue(), "none");
  await edit.getByRole("button", { name: "Save" }).click();
  await edit.waitFor({ state: "detached" });
  await eventually(async () => assert.equal(await row.getByTestId("repeats").count(), 0));
  const cleared = await stored("Water the plants");
  assert.deepEqual([cleared.recurrence, cleared.due_date, cleared.due_time], [null, null, null]);

  // On a phone: the weekly picker fits the screen.
  const onPhone = await browser.newContext({ ...phone, timezoneId: zone });
  const p1 = await signIn(onPhone, "Rosa");
  const phoneForm = p1.getByRole("form", { name: "Add a task" });
  await phoneForm.getByLabel("Due date").fill(tomorrow);
  await phoneForm.getByLabel("Time (optional)").fill("08:00");
  await phoneForm.getByLabel("Repeat", { exact: true }).selectOption("weekly");
  await phoneForm.getByLabel("Ends").selectOption("until");
  await phoneForm.getByRole("button", { name: "15 min before" }).click();
  assert.equal(await p1.evaluate(() => document.documentElement.scrollWidth), 390, "no sideways scrolling");
  await phoneForm.screenshot({ path: path.join(outputDir, "phone-repeat-form.png") });
  await onPhone.close();

  assert.deepEqual(rosa.seen.responses, [], "no error response");
  assert.deepEqual(rosa.seen.failed, [], "no failed request");
  assert.deepEqual(rosa.seen.console, [], "no console error");
  assert.deepEqual(rosa.seen.foreign, [], "nothing loaded from outside");
  await rosa.context.close();
});
