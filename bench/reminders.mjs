// The reminder scenario's load client (bench/run.sh runs it; BENCHMARKS.md,
// "Reminders"): N users, each holding an event stream open, whose tasks'
// reminders all come due at one instant; it measures how long after its time
// each reminder reaches its owner's stream, and counts every reminder lost,
// repeated, misrouted, early or wrong.
//
//   node bench/reminders.mjs --base http://127.0.0.1:PORT --tokens FILE [--pid PID]
//        [--per-user 10] [--offsets 5] [--lead 30] [--margin 1] [--drain 20] [--linger 5]
//        [--open-concurrency 32] [--writers 8] [--open-timeout 30] [--settle 2]
//        [--clk-tck 100] [--db-name NAME]
//
// FILE has one token per line, each of a distinct user (its `sub` is read from
// the token); one stream per user. --pid is the service's process (its RSS and
// CPU time are read from /proc); --db-name the PostgreSQL database, whose
// server processes' CPU time is read too (as bench/fanout.mjs does).
// Progress goes to stderr; the figures, one JSON line, to stdout. Exit status:
// 0 when every reminder arrived exactly once, on its owner's stream, with the
// data it should have; 3 (after printing the figures) when any was lost,
// repeated, misrouted, early or wrong, or any request failed; 1 when the run
// itself could not be made (the set-up outran the due time, say); 2 for bad
// arguments.
//
// What it does:
//
// 1. Opens one `GET /api/events` stream per user, --open-concurrency at a
//    time; a stream counts as open at its first message, the id-only "now"
//    cursor, which is also where the change-feed check (6.) starts.
// 2. Picks the instant T: the first whole UTC minute at least --lead seconds
//    ahead. `due_time` is HH:MM and `reminders` are whole minutes, so every
//    reminder falls on a minute boundary; all of them fall on this one.
// 3. Creates --per-user tasks for each user through `POST /api/batch` (up to
//    100 creates a request, --writers requests at a time). Task k of a user
//    is due at T + (k mod --offsets) minutes with `reminders` [k mod
//    --offsets], so every reminder is due at T while the service computes
//    several due times and minute offsets. Every create must answer 201 with
//    the `due_at` and `reminders` asked for. The set-up must end --margin
//    seconds before T, or the run stops (a reminder whose time has passed
//    when it is created is not scheduled: that would measure the set-up).
// 4. Waits. Each `reminder` event (data {"task_id", "title", "due_at",
//    "remind_at", "late"}) is matched to the task it names: **lag** is its
//    arrival here less its `remind_at`, both this machine's wall clock (the
//    client and the service run on the same machine). It must come on the
//    stream of the task's owner (else **misrouted**), once per task and
//    `remind_at` (else **duplicate**), not before its time (**early**), with
//    its task's title, `due_at` and `remind_at` and `late` false while the lag
//    is under 60 s (else **wrong data**), and with an `id:` cursor.
// 5. Until every reminder has arrived or --drain seconds after T (longer
//    than the streams' 15 s keep-alive, at which a stream reads its feed
//    again without a notification, so a reminder delivered that late counts
//    as late, not lost); then --linger seconds more, for repeats.
// 6. Reads each user's change feed from the stream's first cursor
//    (`GET /api/tasks/changes?since=…`): the service records a reminder
//    exactly once, so each must be listed there once, with the event's data.
//
// Node, node:http, no packages, as bench/fanout.mjs (which says why).

import http from "node:http";
import { readFileSync, readdirSync } from "node:fs";
import { performance } from "node:perf_hooks";

// --- arguments ---------------------------------------------------------------
const options = {
    base: null, tokens: null, pid: null, "per-user": 10, offsets: 5, lead: 30, margin: 1,
    drain: 20, linger: 5, "open-concurrency": 32, writers: 8, "open-timeout": 30, settle: 2,
    "clk-tck": 100, "db-name": null,
};
for (let i = 2; i < process.argv.length; i += 2) {
    const name = process.argv[i].replace(/^--/, "");
    if (!(name in options) || i + 1 >= process.argv.length) {
        console.error(`bench/reminders.mjs: unknown or incomplete argument ${process.argv[i]}`);
        process.exit(2);
    }
    options[name] = process.argv[i + 1];
}
if (!options.base || !options.tokens) {
    console.error("bench/reminders.mjs: --base and --tokens are required");
    process.exit(2);
}
const base = new URL(options.base);
const perUser = Number(options["per-user"]);
const offsets = Number(options.offsets);
const leadMs = Number(options.lead) * 1000;
const marginMs = Number(options.margin) * 1000;
const drainMs = Number(options.drain) * 1000;
const lingerMs = Number(options.linger) * 1000;
const settleMs = Number(options.settle) * 1000;
const openConcurrency = Number(options["open-concurrency"]);
const writers = Number(options.writers);
const clkTck = Number(options["clk-tck"]);
const pid = options.pid ? Number(options.pid) : null;
for (const [name, value, min, max] of [["per-user", perUser, 1, 10000], ["offsets", offsets, 1, 60]]) {
    if (!Number.isInteger(value) || value < min || value > max) {
        console.error(`bench/reminders.mjs: --${name} must be an integer from ${min} to ${max}`);
        process.exit(2);
    }
}

const log = (...args) => console.error(...args);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const round2 = (x) => (x === null || x === undefined ? null : Math.round(x * 100) / 100);

// --- the clock (as bench/fanout.mjs) -------------------------------------------
const clockOffset = (() => {
    const start = Date.now();
    let tick;
    while ((tick = Date.now()) === start) { /* spin until the next millisecond */ }
    return tick - performance.now();
})();
const wallMs = () => clockOffset + performance.now();

// "2026-11-21T09:30:00.123456Z" -> milliseconds since the epoch, with the micros.
function timestampMs(text) {
    const match = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?Z$/.exec(text ?? "");
    if (!match) return NaN;
    return Date.parse(`${match[1]}Z`) + (match[2] ? Number(`0${match[2]}`) * 1000 : 0);
}

// --- the service process, the database, the machine (as bench/fanout.mjs) -------
function rssKb() {
    if (pid === null) return null;
    const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
    return line ? Number(line.split(/\s+/)[1]) : null;
}
function cpuTicks() {
    if (pid === null) return 0;
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
}
function machineTicks() {
    const fields = readFileSync("/proc/stat", "utf8").split("\n")[0].split(/\s+/).slice(1, 9).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    return { total, busy: total - fields[3] - fields[4] };
}
function databaseTicks() {
    if (!options["db-name"]) return 0;
    const needle = ` ${options["db-name"]} `;
    let ticks = 0;
    for (const entry of readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            if (!readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(needle)) continue;
            const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
            const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
            ticks += Number(fields[11]) + Number(fields[12]);
        } catch { /* the process ended meanwhile */ }
    }
    return ticks;
}
function sample() {
    const client = process.cpuUsage();
    return { machine: machineTicks(), service: cpuTicks(), database: databaseTicks(),
             client: ((client.user + client.system) / 1e6) * clkTck };
}
// Shares of all cores between two samples: the machine, the service, its
// database, this client, and the rest ("others").
function shares(a, b) {
    const all = b.machine.total - a.machine.total;
    const share = (ticks) => (all > 0 ? Math.round((1000 * ticks) / all) / 10 : null);
    const service = b.service - a.service, database = b.database - a.database, client = b.client - a.client;
    const busy = b.machine.busy - a.machine.busy;
    return {
        machine: share(busy), service: share(service),
        database: options["db-name"] ? share(database) : null, client: share(client),
        others: share(Math.max(0, busy - service - database - client)),
    };
}

// --- figures -------------------------------------------------------------------
const errorKinds = {};
const countError = (kind, detail) => {
    errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
    if (errorKinds[kind] <= 3 && detail) log(`  ${kind}: ${detail}`);
};
const counts = {
    keepalives: 0, upserts: 0, other_events: 0, received: 0, duplicates: 0, misrouted: 0,
    unexpected: 0, early: 0, wrong_data: 0, late_flagged: 0, without_id: 0,
};

function percentiles(values) {
    if (!values.length) return { count: 0, min: null, p50: null, p90: null, p99: null, max: null };
    const sorted = Float64Array.from(values).sort();
    const at = (p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
    return { count: sorted.length, min: round2(sorted[0]), p50: round2(at(50)), p90: round2(at(90)),
             p99: round2(at(99)), max: round2(sorted[sorted.length - 1]) };
}

// --- users, their streams, their tasks ---------------------------------------------
const tokens = readFileSync(options.tokens, "utf8").split("\n").map((l) => l.trim()).filter(Boolean);
const users = tokens.map((token, index) => {
    const payload = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8"));
    return { index, token, sub: payload.sub, stream: null, cursor: null };
});
if (new Set(users.map((u) => u.sub)).size !== users.length) {
    log("bench/reminders.mjs: the tokens must name distinct users (one stream per user)");
    process.exit(2);
}

const streamAgent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const requestAgent = new http.Agent({ keepAlive: true, maxSockets: writers });

// Every reminder expected: "TASK-ID@REMIND-AT-MS" -> { user, taskId, title,
// dueMs, remindMs, receivedAt, lag, event }.
const expected = new Map();
const tasksById = new Map(); // task id -> its expectation
let measuring = false;
let dueMs = null; // T
let pending = 0; // expected reminders not yet received
let allReceived = null;

function openStream(user) {
    return new Promise((resolve, reject) => {
        const stream = { user, request: null, lastId: null, ended: false, events: 0 };
        let ready = false;
        const timer = setTimeout(() => {
            if (!ready) request.destroy(new Error(`no first message within ${options["open-timeout"]} s`));
        }, Number(options["open-timeout"]) * 1000);
        const request = http.get({
            host: base.hostname, port: base.port, path: "/api/events", agent: streamAgent,
            headers: { authorization: `Bearer ${user.token}`, accept: "text/event-stream" },
        }, (response) => {
            if (response.statusCode !== 200) {
                let body = "";
                response.setEncoding("utf8");
                response.on("data", (chunk) => { body += chunk; });
                response.on("end", () => reject(Object.assign(new Error(body.slice(0, 300)),
                    { kind: `open_status_${response.statusCode}` })));
                return;
            }
            response.setEncoding("utf8");
            let buffer = "";
            let message = { event: "", data: [], id: null, fields: 0 };
            response.on("data", (chunk) => {
                // One arrival time for the whole chunk: the moment it was read.
                const receivedAt = wallMs();
                buffer += chunk;
                let newline;
                while ((newline = buffer.search(/\r\n|\r|\n/)) !== -1) {
                    const line = buffer.slice(0, newline);
                    buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1));
                    if (line === "") {
                        if (message.fields > 0) {
                            if (!ready) {
                                ready = true;
                                clearTimeout(timer);
                                if (message.data.length || message.id === null) {
                                    countError("first_message_not_id_only", JSON.stringify(message));
                                }
                                stream.lastId = message.id;
                                user.cursor = message.id;
                                resolve(stream);
                            } else {
                                onEvent(stream, message, receivedAt);
                            }
                        }
                        message = { event: "", data: [], id: null, fields: 0 };
                        continue;
                    }
                    if (line.startsWith(":")) { counts.keepalives++; continue; }
                    const colon = line.indexOf(":");
                    const field = colon === -1 ? line : line.slice(0, colon);
                    let value = colon === -1 ? "" : line.slice(colon + 1);
                    if (value.startsWith(" ")) value = value.slice(1);
                    message.fields++;
                    if (field === "event") message.event = value;
                    else if (field === "data") message.data.push(value);
                    else if (field === "id") message.id = value;
                }
            });
            response.on("end", () => streamEnded(stream, ready, reject, "the server ended the stream"));
            response.on("error", (err) => streamEnded(stream, ready, reject, err.message));
        });
        stream.request = request;
        request.on("error", (err) => streamEnded(stream, ready, reject, err.message));
    });
}

function streamEnded(stream, ready, reject, why) {
    if (stream.ended) return;
    stream.ended = true;
    if (!ready) reject(Object.assign(new Error(why), { kind: "open_failed" }));
    else if (measuring) countError("stream_ended", `${stream.user.sub}: ${why}`);
}

// What a reminder's data must say, given what was asked for.
function wrongFields(data, want, lag) {
    const wrong = [];
    if (data.title !== want.title) wrong.push("title");
    if (timestampMs(data.due_at) !== want.dueMs) wrong.push("due_at");
    if (timestampMs(data.remind_at) !== want.remindMs) wrong.push("remind_at");
    if (typeof data.late !== "boolean") wrong.push("late");
    else if (data.late !== (lag > 60_000)) {
        // `late` is true when recorded more than 60 s after its time; a lag
        // near 60 s may differ from the recording time by the delivery, so only
        // a clear contradiction counts.
        if (Math.abs(lag - 60_000) > 5_000) wrong.push("late");
    }
    return wrong;
}

function onEvent(stream, message, receivedAt) {
    stream.events++;
    stream.lastId = message.id;
    if (message.event === "upsert") { counts.upserts++; return; }
    if (message.event !== "reminder") {
        counts.other_events++;
        countError(`event_${message.event || "message"}`, message.data.join("\n").slice(0, 200));
        return;
    }
    let data;
    try {
        data = JSON.parse(message.data.join("\n"));
    } catch {
        countError("event_not_json", message.data.join("\n").slice(0, 200));
        return;
    }
    const remindMs = timestampMs(data.remind_at);
    const want = expected.get(`${data.task_id}@${remindMs}`);
    if (!want) {
        counts.unexpected++;
        const task = tasksById.get(data.task_id);
        countError("reminder_unexpected", task
            ? `task ${data.task_id} (${task.user.sub}) reminded at ${data.remind_at}, expected only at ${new Date(task.remindMs).toISOString()}`
            : JSON.stringify(data).slice(0, 200));
        return;
    }
    if (want.user !== stream.user) {
        counts.misrouted++;
        countError("reminder_misrouted", `task ${data.task_id} of ${want.user.sub} on the stream of ${stream.user.sub}`);
        return;
    }
    if (want.receivedAt !== undefined) {
        counts.duplicates++;
        countError("reminder_duplicate",
            `task ${data.task_id} at ${data.remind_at}, again ${Math.round(receivedAt - want.receivedAt)} ms after the first`);
        return;
    }
    const lag = receivedAt - remindMs;
    want.receivedAt = receivedAt;
    want.lag = lag;
    want.event = data;
    counts.received++;
    if (message.id === null) { counts.without_id++; countError("reminder_without_id", `task ${data.task_id}`); }
    if (lag < 0) { counts.early++; countError("reminder_early", `task ${data.task_id}: ${Math.round(-lag)} ms before ${data.remind_at}`); }
    if (data.late === true) counts.late_flagged++;
    const wrong = wrongFields(data, want, lag);
    if (wrong.length) {
        counts.wrong_data++;
        countError("reminder_wrong_data", `task ${data.task_id}: ${wrong.join(", ")} in ${JSON.stringify(data).slice(0, 300)}`);
    }
    if (--pending === 0) allReceived?.();
}

// --- requests --------------------------------------------------------------------
function request(method, path, token, body) {
    return new Promise((resolve) => {
        const text = body === undefined ? undefined : JSON.stringify(body);
        const headers = { authorization: `Bearer ${token}` };
        if (text !== undefined) {
            headers["content-type"] = "application/json";
            headers["content-length"] = Buffer.byteLength(text);
        }
        const started = wallMs();
        const req = http.request({ host: base.hostname, port: base.port, path, method, agent: requestAgent, headers },
            (response) => {
                let answer = "";
                response.setEncoding("utf8");
                response.on("data", (chunk) => { answer += chunk; });
                response.on("end", () => resolve({ status: response.statusCode, body: answer, ms: wallMs() - started }));
            });
        req.on("error", (err) => resolve({ status: 0, body: err.message, ms: wallMs() - started }));
        req.end(text);
    });
}

// Runs WORK(item) for every item, LIMIT at a time.
async function pooled(items, limit, work) {
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
        while (next < items.length) await work(items[next++]);
    }));
}

const pad = (n) => String(n).padStart(2, "0");
// The create body of task K of USER, due at T + (K mod offsets) minutes, UTC.
function taskBody(user, k) {
    const minutes = k % offsets;
    const due = new Date(dueMs + minutes * 60_000);
    return {
        minutes,
        dueMs: due.getTime(),
        body: {
            title: `reminder ${user.index + 1}-${k + 1}`,
            due_date: `${due.getUTCFullYear()}-${pad(due.getUTCMonth() + 1)}-${pad(due.getUTCDate())}`,
            due_time: `${pad(due.getUTCHours())}:${pad(due.getUTCMinutes())}`,
            time_zone: "UTC",
            reminders: [minutes],
        },
    };
}

// One batch of USER's tasks FROM … FROM+COUNT-1; every create must answer
// 201 with the due instant and reminders asked for.
const createTimes = [];
async function createBatch({ user, from, count }) {
    const asked = Array.from({ length: count }, (_, i) => taskBody(user, from + i));
    const operations = asked.map((a) => ({ op: "create", task: a.body }));
    const { status, body, ms } = await request("POST", "/api/batch", user.token, { operations });
    createTimes.push(ms);
    let results = [];
    try { results = status === 200 ? JSON.parse(body).results : []; } catch { /* counted below */ }
    if (status !== 200 || results.length !== count) {
        countError(`batch_status_${status}`, body.slice(0, 300));
        return;
    }
    results.forEach((result, i) => {
        const a = asked[i];
        if (result.status !== 201 || !result.task) {
            countError(`create_status_${result.status}`, JSON.stringify(result).slice(0, 300));
            return;
        }
        const task = result.task;
        const wrong = [];
        if (timestampMs(task.due_at) !== a.dueMs) wrong.push(`due_at ${task.due_at}`);
        if (JSON.stringify(task.reminders) !== JSON.stringify([a.minutes])) wrong.push(`reminders ${JSON.stringify(task.reminders)}`);
        if (task.user_id !== user.sub) wrong.push(`user_id ${task.user_id}`);
        if (wrong.length) countError("create_answer_wrong", `${a.body.title}: ${wrong.join(", ")}`);
        const want = { user, taskId: task.id, title: a.body.title, dueMs: a.dueMs, remindMs: dueMs };
        expected.set(`${task.id}@${dueMs}`, want);
        tasksById.set(task.id, want);
        pending++;
    });
}

function sameReminder(a, b) {
    return a.task_id === b.task_id && a.title === b.title && a.late === b.late &&
        timestampMs(a.due_at) === timestampMs(b.due_at) && timestampMs(a.remind_at) === timestampMs(b.remind_at);
}

// Each user's change feed from the stream's first cursor: every reminder
// recorded once, with the event's data.
const feed = { users: 0, listed: 0, missing: 0, duplicates: 0, unexpected: 0, differs: 0, errors: 0 };
async function checkFeed(user) {
    if (!user.cursor) return;
    feed.users++;
    const seen = new Map();
    let since = user.cursor;
    for (let page = 0; page < 1000; page++) {
        const { status, body } = await request("GET",
            `/api/tasks/changes?since=${encodeURIComponent(since)}&limit=500`, user.token);
        let answer;
        try { answer = status === 200 ? JSON.parse(body) : null; } catch { answer = null; }
        if (!answer || !Array.isArray(answer.reminders)) {
            feed.errors++;
            countError(`feed_status_${status}`, `${user.sub}: ${body.slice(0, 300)}`);
            return;
        }
        for (const r of answer.reminders) {
            feed.listed++;
            const key = `${r.task_id}@${timestampMs(r.remind_at)}`;
            const want = expected.get(key);
            if (!want || want.user !== user) {
                feed.unexpected++;
                countError("feed_reminder_unexpected", `${user.sub}: ${JSON.stringify(r).slice(0, 200)}`);
                continue;
            }
            if (seen.has(key)) {
                feed.duplicates++;
                countError("feed_reminder_duplicate", `${user.sub}: ${JSON.stringify(r).slice(0, 200)}`);
                continue;
            }
            seen.set(key, r);
            if (want.event && !sameReminder(r, want.event)) {
                feed.differs++;
                countError("feed_reminder_differs", `${JSON.stringify(r)} in the feed, ${JSON.stringify(want.event)} on the stream`);
            }
        }
        if (!answer.has_more) break;
        since = answer.cursor;
    }
    for (const want of expected.values()) {
        if (want.user === user && !seen.has(`${want.taskId}@${want.remindMs}`)) {
            feed.missing++;
            countError("feed_reminder_missing", `task ${want.taskId} of ${user.sub} at ${new Date(want.remindMs).toISOString()}`);
        }
    }
}

// --- the run ---------------------------------------------------------------------
async function main() {
    const result = { users: users.length, per_user: perUser, offsets, reminders: users.length * perUser };

    // A few requests first, so the service's pool and buffers are warm.
    await pooled(users.slice(0, 16), 16, (user) => request("GET", "/api/tasks?limit=1", user.token));
    await sleep(settleMs);
    const rssBefore = rssKb();

    log(`opening ${users.length} streams (${openConcurrency} at a time)…`);
    const openStart = wallMs();
    let openFailed = 0;
    await pooled(users, openConcurrency, async (user) => {
        try {
            user.stream = await openStream(user);
        } catch (err) {
            openFailed++;
            countError(err.kind ?? "open_failed", `${user.sub}: ${err.message}`);
        }
    });
    result.open_s = Math.round(wallMs() - openStart) / 1000;
    result.opened = users.length - openFailed;
    measuring = true;
    const rssIdle = rssKb();

    // T: the first whole minute at least --lead seconds ahead.
    dueMs = Math.ceil((Date.now() + leadMs) / 60_000) * 60_000;
    result.due_at = new Date(dueMs).toISOString();
    result.lead_s = Math.round((dueMs - Date.now()) / 100) / 10;
    log(`creating ${result.reminders} tasks (${perUser} a user, batches of up to 100, ${writers} at a time), ` +
        `every reminder due at ${result.due_at} (in ${result.lead_s} s)…`);
    const jobs = [];
    for (const user of users) {
        if (!user.stream) continue;
        for (let from = 0; from < perUser; from += 100) jobs.push({ user, from, count: Math.min(100, perUser - from) });
    }
    const createStart = wallMs();
    await pooled(jobs, writers, createBatch);
    const createEnd = wallMs();
    result.created = expected.size;
    result.create_s = Math.round(createEnd - createStart) / 1000;
    result.create_batch_ms = percentiles(createTimes);
    result.setup_margin_s = Math.round(dueMs - createEnd) / 1000;
    if (createEnd > dueMs - marginMs) {
        log(`bench/reminders.mjs: the set-up ended ${(-result.setup_margin_s).toFixed(1)} s past ` +
            `${options.margin} s before the due time: raise --lead (BENCH_REMINDERS_LEAD)`);
        for (const user of users) user.stream?.request.destroy();
        process.exit(1);
    }
    log(`${result.created} created in ${result.create_s} s; ${result.setup_margin_s} s to wait…`);

    // The machine from 100 ms before T to the last reminder (or the drain):
    // the burst, and not the idle wait before it.
    await sleep(Math.max(0, dueMs - 100 - Date.now()));
    const before = sample();
    const serviceBefore = before.service;
    const rssAtDue = rssKb();
    // `pending` can reach zero only once T has passed; the race ends at T +
    // --drain seconds at the latest.
    if (pending > 0) {
        await Promise.race([new Promise((resolve) => { allReceived = resolve; }),
                            sleep(Math.max(0, dueMs + drainMs - Date.now()))]);
    }
    const lastAt = wallMs();
    const after = sample();
    const rssAfter = rssKb();
    log(`${counts.received} of ${expected.size} received ${Math.round(lastAt - dueMs)} ms after the due time; ` +
        `listening ${options.linger} s more for repeats…`);
    await sleep(lingerMs);
    measuring = false;

    log(`reading ${users.length} change feeds…`);
    await pooled(users, writers, checkFeed);
    const streamsEnded = users.filter((u) => u.stream?.ended).length;
    for (const user of users) user.stream?.request.destroy();
    requestAgent.destroy();

    const arrived = [...expected.values()].filter((w) => w.receivedAt !== undefined);
    const lost = expected.size - arrived.length;
    // Arrivals per second after T (second 0: T to T + 1 s).
    const bySecond = [];
    // And per 100 ms, over the first 10 s: the shape of the burst.
    const byTenth = [];
    for (const w of arrived) {
        const second = Math.max(0, Math.floor((w.receivedAt - dueMs) / 1000));
        bySecond[second] = (bySecond[second] ?? 0) + 1;
        const tenth = Math.max(0, Math.floor((w.receivedAt - dueMs) / 100));
        if (tenth < 100) byTenth[tenth] = (byTenth[tenth] ?? 0) + 1;
    }
    // Every failure but a lost reminder is counted as an error of its kind.
    const errors = Object.values(errorKinds).reduce((a, b) => a + b, 0);
    Object.assign(result, {
        received: counts.received,
        lost,
        duplicates: counts.duplicates,
        misrouted: counts.misrouted,
        unexpected: counts.unexpected,
        early: counts.early,
        wrong_data: counts.wrong_data,
        without_id: counts.without_id,
        late_flagged: counts.late_flagged,
        upserts: counts.upserts,
        keepalives: counts.keepalives,
        streams_ended: streamsEnded,
        feed,
        errors,
        error_kinds: errorKinds,
        failures: lost + errors,
        lag_ms: percentiles(arrived.map((w) => w.lag)),
        // The first and the last arrival, from T.
        first_ms: arrived.length ? round2(Math.min(...arrived.map((w) => w.receivedAt)) - dueMs) : null,
        last_ms: arrived.length ? round2(Math.max(...arrived.map((w) => w.receivedAt)) - dueMs) : null,
        per_second: Array.from({ length: bySecond.length }, (_, s) => bySecond[s] ?? 0),
        per_100ms: Array.from({ length: byTenth.length }, (_, s) => byTenth[s] ?? 0),
        rss_kb: { before: rssBefore, idle: rssIdle, due: rssAtDue, after: rssAfter },
        // From 100 ms before T to the last arrival (or the drain's end).
        window_s: Math.round(lastAt - (dueMs - 100)) / 1000,
        cpu_pct: shares(before, after),
        service_cpu_ms: pid === null ? null : Math.round(((after.service - serviceBefore) * 1000) / clkTck),
    });
    log(`${result.received}/${result.reminders} received, ${lost} lost, ${counts.duplicates} repeated, ` +
        `${counts.misrouted} misrouted, ${result.errors} errors; lag p50 ${result.lag_ms.p50} ms, ` +
        `p99 ${result.lag_ms.p99} ms, max ${result.lag_ms.max} ms`);
    process.stdout.write(JSON.stringify(result) + "\n");
    return result.failures > 0 ? 3 : 0;
}

main().then((code) => process.exit(code), (err) => {
    console.error(err);
    process.exit(1);
});
