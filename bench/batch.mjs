// The batch scenario of bench/run.sh: what a device reconnecting with 50
// tasks written offline waits for, sent as 50 single creates one after the
// other (each its own request, transaction and commit) or as one
// `POST /api/batch` of 50 creates (one request, one transaction, one
// commit). Each round times both, on one keep-alive connection, as one
// user; the figure is the median round of each and their ratio (target:
// the batch takes at most a tenth of the time). Every create must answer
// 201, inside the batch too, and the user must end with exactly the tasks
// sent: any other answer counts as an error.
//
//   node bench/batch.mjs --base URL --token JWT [--rounds 20] [--size 50]
//
// Prints one JSON line: {"rounds", "size", "singles_ms": {median, min, max},
// "batch_ms": {…}, "ratio", "errors", "created"}. Node 20+, no packages.

import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    base: { type: "string" },
    token: { type: "string" },
    rounds: { type: "string", default: "20" },
    size: { type: "string", default: "50" },
  },
});
if (!values.base || !values.token) {
  console.error("usage: node bench/batch.mjs --base URL --token JWT [--rounds N] [--size N]");
  process.exit(2);
}
const rounds = Number(values.rounds);
const size = Number(values.size);
const headers = { authorization: `Bearer ${values.token}`, "content-type": "application/json" };
let errors = 0;

async function post(path, body) {
  const response = await fetch(`${values.base}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text };
}

function task(round, kind, n) {
  return { title: `bench batch ${round} ${kind} ${n}`, priority: "low", tags: ["bench"] };
}

async function singles(round) {
  const started = performance.now();
  for (let n = 0; n < size; n += 1) {
    const { status, body } = await post("/api/tasks", task(round, "single", n));
    if (status !== 201) {
      errors += 1;
      console.error(`single create answered ${status}: ${body.slice(0, 200)}`);
    }
  }
  return performance.now() - started;
}

async function batch(round) {
  const operations = Array.from({ length: size }, (_, n) => ({ op: "create", task: task(round, "batch", n) }));
  const started = performance.now();
  const { status, body } = await post("/api/batch", { operations });
  const elapsed = performance.now() - started;
  const results = status === 200 ? JSON.parse(body).results : [];
  const created = results.filter((result) => result.status === 201).length;
  if (status !== 200 || created !== size) {
    errors += 1;
    console.error(`batch answered ${status} with ${created} creates: ${body.slice(0, 200)}`);
  }
  return elapsed;
}

async function count() {
  const response = await fetch(`${values.base}/api/tasks?limit=1&tag=bench`, { headers });
  await response.arrayBuffer();
  return Number(response.headers.get("x-total-count"));
}

function spread(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (ms) => Math.round(ms * 100) / 100;
  return { median: round(sorted[Math.floor(sorted.length / 2)]), min: round(sorted[0]), max: round(sorted.at(-1)) };
}

const before = await count();
// One warm-up round of each, not counted: the first requests open the
// connection and fill the service's caches.
await singles("warm-up");
await batch("warm-up");
const singleTimes = [];
const batchTimes = [];
for (let round = 0; round < rounds; round += 1) {
  singleTimes.push(await singles(round));
  batchTimes.push(await batch(round));
}
const created = (await count()) - before;
const expected = 2 * size * (rounds + 1);
if (created !== expected) {
  errors += 1;
  console.error(`the user holds ${created} new tasks, not ${expected}`);
}
const singlesMs = spread(singleTimes);
const batchMs = spread(batchTimes);
console.log(
  JSON.stringify({
    rounds,
    size,
    singles_ms: singlesMs,
    batch_ms: batchMs,
    ratio: Math.round((batchMs.median / singlesMs.median) * 1000) / 1000,
    errors,
    created,
  }),
);
