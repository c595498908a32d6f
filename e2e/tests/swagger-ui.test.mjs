// Swagger UI in a real browser: every operation listed, Authorize with the
// demo token the service prints in local-development mode, "Try it out" on
// createTask and listTasks.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";

import { chromiumOptions } from "../lib/chromium.mjs";
import { startService } from "../lib/service.mjs";

const outputDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "test-results");
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
  // No auth configured: local-development mode, with a demo token in the log.
  service = await startService({});
  context = await chromium.launchPersistentContext(
    mkdtempSync(path.join(tmpdir(), "chromium-")),
    chromiumOptions,
  );
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
  let token;
  for (let attempt = 0; attempt < 50 && !token; attempt++) {
    token = service.log().match(/curl -H 'Authorization: Bearer ([\w.-]+)'/)?.[1];
    if (!token) await sleep(100);
  }
  assert.ok(token, "the service printed a demo token and a curl line");
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
