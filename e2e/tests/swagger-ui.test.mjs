// Swagger UI in a real browser: every operation listed, Authorize with a real
// token, "Try it out" on createTask and listTasks.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";

import { binary, startService } from "../lib/service.mjs";

const outputDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "test-results");
const secret = "swagger-ui-test-secret";
const operations = [
  "Tasks-listTasks",
  "Tasks-createTask",
  "Tasks-getTask",
  "Tasks-updateTask",
  "Tasks-deleteTask",
  "Tasks-setTaskCompletion",
  "Me-getMe",
];

let service, context;

before(async () => {
  service = await startService({ BETTER_AUTH_SECRET: secret });
  // No internet here: nothing in the background may try to reach it.
  context = await chromium.launchPersistentContext(mkdtempSync(path.join(tmpdir(), "chromium-")), {
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
      "--no-first-run",
    ],
  });
});

after(async () => {
  await context?.close();
  await service?.stop();
});

/** Opens an operation, presses "Try it out", optionally edits the body, executes. */
async function tryItOut(page, operation, body) {
  const block = page.locator(`#operations-${operation}`);
  await block.locator(".opblock-summary").click();
  await block.locator("button.try-out__btn").click();
  if (body !== undefined) await block.locator("textarea.body-param__text").fill(body);
  await block.locator("button.execute").click();
  const status = block.locator(".live-responses-table .response .response-col_status").first();
  await status.waitFor();
  return (await status.innerText()).trim();
}

test("Swagger UI lists, authorizes and runs the API", async () => {
  const token = execFileSync(binary, ["token", "--sub", "swagger-user"], {
    env: { PATH: process.env.PATH, BETTER_AUTH_SECRET: secret },
  })
    .toString()
    .trim();
  const page = await context.newPage();
  const failed = [];
  const consoleErrors = [];
  const foreign = [];
  page.on("requestfailed", (request) => failed.push(`${request.url()}: ${request.failure()?.errorText}`));
  page.on("console", (message) => message.type() === "error" && consoleErrors.push(`${message.text()} (${message.location().url})`));
  page.on("request", (request) => {
    const url = request.url();
    if (!url.startsWith(service.address) && !url.startsWith("data:")) foreign.push(url);
  });

  await page.goto(`${service.address}/docs`);
  for (const operation of operations) {
    await page.locator(`#operations-${operation}`).waitFor();
  }

  await page.locator(".auth-wrapper button.authorize").click();
  await page.locator(".auth-container input").first().fill(token);
  await page.locator(".auth-btn-wrapper button.authorize").click();
  await page.locator(".auth-btn-wrapper button.btn-done").click();

  const created = await tryItOut(
    page,
    "Tasks-createTask",
    JSON.stringify({ title: "Made in Swagger UI", description: "via Try it out" }),
  );
  assert.equal(created, "201");
  const listed = await tryItOut(page, "Tasks-listTasks");
  assert.equal(listed, "200");
  const responseBody = await page
    .locator("#operations-Tasks-listTasks .live-responses-table .response .microlight")
    .first()
    .innerText();
  assert.match(responseBody, /Made in Swagger UI/);

  mkdirSync(outputDir, { recursive: true });
  await page.screenshot({ path: path.join(outputDir, "swagger-ui.png"), fullPage: true });

  assert.deepEqual(failed, [], "no failed network request");
  assert.deepEqual(consoleErrors, [], "no console error");
  assert.deepEqual(foreign, [], "nothing loaded from outside the service");
});
