// The fan-out scenario's load client (bench/run.sh runs it; BENCHMARKS.md,
// "Fan-out"): N event streams open at once, one per user, while tasks are
// written at a steady rate spread over those users; it measures how long each
// write takes to reach its user's stream, the service's memory with the
// streams open, and every lost, duplicated or misrouted event.
//
//   node bench/fanout.mjs --base http://127.0.0.1:PORT --tokens FILE [--pid PID]
//        [--rate 200] [--duration 30] [--open-concurrency 32] [--writers 64]
//        [--settle 2] [--drain 20] [--open-timeout 30] [--clk-tck 100] [--db-name NAME]
//        [--busy-pct 25]
//
// FILE has one token per line, each of a distinct user (its `sub` is read from
// the token). --pid is the service's process, whose RSS (/proc/PID/status) and
// CPU time (/proc/PID/stat) it reads; the client runs on the same machine.
// --db-name is the PostgreSQL database, whose server processes' CPU time it
// reads too, so that what other work took of the machine during the writes
// can be told apart from what the service, its database and the client took;
// the latency of the writes sent in seconds when other work took no more than
// --busy-pct of all cores is reported apart, as the service's own figure on a
// shared machine.
// Progress goes to stderr; the figures, one JSON line, to stdout.
//
// Node rather than Python: a thousand streaming HTTP responses and a few
// hundred requests a second from one light process needs an asynchronous HTTP
// client, which Node has built in (node:http) and Python's standard library
// has not; so the client needs nothing installed. node:http rather than
// fetch: it reads each stream as plain text chunks without a web-streams layer
// per connection, and keeps the streams' connections apart from a small
// keep-alive pool for the writes.
//
// Latency is measured from the task's `updated_at` in the event to the moment
// the event's last byte is read here. The service stamps `updated_at` (its
// clock, microseconds) just before it writes the row in the write's
// transaction, so this is commit-to-event plus the write's own INSERT and
// COMMIT: an upper bound of commit to event, on the same clock as the receive
// time (both this machine's wall clock). Latency from the POST's send time is
// reported too; it adds the request's queueing, parsing and authentication.

import http from "node:http";
import { readFileSync, readdirSync } from "node:fs";
import { performance } from "node:perf_hooks";

// --- arguments ---------------------------------------------------------------
const options = {
    base: null, tokens: null, pid: null, rate: 200, duration: 30,
    "open-concurrency": 32, writers: 64, settle: 2, drain: 20, "open-timeout": 30, "clk-tck": 100,
    "db-name": null, "busy-pct": 25,
};
for (let i = 2; i < process.argv.length; i += 2) {
    const name = process.argv[i].replace(/^--/, "");
    if (!(name in options) || i + 1 >= process.argv.length) {
        console.error(`bench/fanout.mjs: unknown or incomplete argument ${process.argv[i]}`);
        process.exit(2);
    }
    options[name] = process.argv[i + 1];
}
if (!options.base || !options.tokens) {
    console.error("bench/fanout.mjs: --base and --tokens are required");
    process.exit(2);
}
const base = new URL(options.base);
const rate = Number(options.rate);
const duration = Number(options.duration);
const openConcurrency = Number(options["open-concurrency"]);
const settleMs = Number(options.settle) * 1000;
const drainMs = Number(options.drain) * 1000;
const pid = options.pid ? Number(options.pid) : null;

const log = (...args) => console.error(...args);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// --- the clock -----------------------------------------------------------------
// Wall-clock milliseconds with sub-millisecond resolution: performance.now()
// anchored to the instant Date.now() ticks over, so it compares with the
// service's microsecond timestamps (the same system clock).
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

// --- the service process ---------------------------------------------------------
function rssKb() {
    if (pid === null) return null;
    const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
    return line ? Number(line.split(/\s+/)[1]) : null;
}
function cpuTicks() { // user + system CPU of the service, in clock ticks
    if (pid === null) return null;
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
}

// The whole machine's busy and total CPU time so far (/proc/stat, clock ticks).
function machineTicks() {
    const fields = readFileSync("/proc/stat", "utf8").split("\n")[0].split(/\s+/).slice(1, 9).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    return { total, busy: total - fields[3] - fields[4] }; // less idle and iowait
}
// CPU time of the PostgreSQL processes serving the benchmark's database: a
// server process's command line names its database ("postgres: USER DB …").
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

// --- figures -------------------------------------------------------------------
const errorKinds = {};
const countError = (kind, detail) => {
    errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
    if (errorKinds[kind] <= 3 && detail) log(`  ${kind}: ${detail}`);
};
const counts = { keepalives: 0, delivered: 0, duplicates: 0, misrouted: 0, unexpected: 0 };

function percentiles(values) {
    if (!values.length) return { count: 0, p50: null, p90: null, p99: null, max: null };
    const sorted = Float64Array.from(values).sort();
    // Nearest rank: the smallest value with at least p% of the values at or below it.
    const at = (p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
    const round = (x) => Math.round(x * 100) / 100;
    return { count: sorted.length, p50: round(at(50)), p90: round(at(90)), p99: round(at(99)),
             max: round(sorted[sorted.length - 1]) };
}

// --- users and their streams -------------------------------------------------------
const tokens = readFileSync(options.tokens, "utf8").split("\n").map((l) => l.trim()).filter(Boolean);
const users = tokens.map((token, index) => {
    const payload = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8"));
    return { index, token, sub: payload.sub, stream: null };
});
if (new Set(users.map((u) => u.sub)).size !== users.length) {
    log("bench/fanout.mjs: the tokens must name distinct users (one stream per user)");
    process.exit(2);
}

// The streams' connections: one each, never reused. The writes: a keep-alive
// pool, so that they do not pay a TCP handshake each.
const streamAgent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const writeAgent = new http.Agent({ keepAlive: true, maxSockets: Number(options.writers) });

let writes = []; // by sequence number: { user, sentAt, status, deliveredAt, latency… }
let measuring = false; // after the streams are open: a stream ending is an error from then on
const titlePrefix = "fan-out ";

// Opens USER's stream; resolves once its first message (the id-only "now"
// cursor) has arrived, so the stream is subscribed; rejects on anything else.
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
                buffer += chunk;
                let newline;
                while ((newline = buffer.search(/\r\n|\r|\n/)) !== -1) {
                    const line = buffer.slice(0, newline);
                    buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1));
                    if (line === "") { // dispatch
                        if (message.fields > 0) {
                            if (!ready) {
                                ready = true;
                                clearTimeout(timer);
                                if (message.data.length || message.id === null) {
                                    countError("first_message_not_id_only", JSON.stringify(message));
                                }
                                stream.lastId = message.id;
                                resolve(stream);
                            } else {
                                onEvent(stream, message);
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

function onEvent(stream, message) {
    const receivedAt = wallMs();
    stream.events++;
    stream.lastId = message.id;
    if (message.event !== "upsert") {
        counts.unexpected++;
        countError(`event_${message.event || "message"}`, message.data.join("\n").slice(0, 200));
        return;
    }
    let task;
    try {
        task = JSON.parse(message.data.join("\n"));
    } catch {
        countError("event_not_json", message.data.join("\n").slice(0, 200));
        return;
    }
    const sequence = task.title?.startsWith(titlePrefix) ? Number(task.title.slice(titlePrefix.length)) : NaN;
    const write = writes[sequence];
    if (!write) {
        counts.unexpected++;
        countError("event_unexpected", JSON.stringify(task).slice(0, 200));
        return;
    }
    if (write.user !== stream.user || task.user_id !== stream.user.sub) {
        counts.misrouted++;
        countError("event_misrouted", `${task.title} of ${write.user.sub} on the stream of ${stream.user.sub}`);
        return;
    }
    if (write.deliveredAt !== undefined) {
        counts.duplicates++;
        countError("event_duplicate", task.title);
        return;
    }
    if (message.id === null) countError("event_without_id", task.title);
    write.deliveredAt = receivedAt;
    write.fromCommit = receivedAt - timestampMs(task.updated_at);
    write.fromSend = receivedAt - write.sentAt;
    counts.delivered++;
    // pendingDelivery counts this write only once its 201 has arrived.
    if (write.status === 201 && --pendingDelivery === 0 && pendingResponses === 0) drained?.();
}

// --- writes --------------------------------------------------------------------
let pendingDelivery = 0; // successful writes whose event has not arrived yet
let pendingResponses = 0;
let allSent = false;
let drained = null;

function write(sequence) {
    const user = users[sequence % users.length];
    const record = { user, sentAt: wallMs() };
    writes[sequence] = record;
    pendingResponses++;
    const body = JSON.stringify({ title: `${titlePrefix}${sequence}`, description: "written by the fan-out benchmark" });
    const request = http.request({
        host: base.hostname, port: base.port, path: "/api/tasks", method: "POST", agent: writeAgent,
        headers: {
            authorization: `Bearer ${user.token}`, "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
        },
    }, (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk) => { text += chunk; });
        response.on("end", () => {
            record.status = response.statusCode;
            record.respondedAt = wallMs();
            if (response.statusCode === 201) {
                if (record.deliveredAt === undefined) pendingDelivery++;
            } else {
                countError(`write_status_${response.statusCode}`, text.slice(0, 300));
            }
            responded();
        });
    });
    request.on("error", (err) => {
        countError("write_socket", err.message);
        record.status = 0;
        responded();
    });
    request.end(body);
}

function responded() {
    if (--pendingResponses === 0 && allSent) responsesDone?.();
}
let responsesDone = null;

// Per second of the writes (by send time): how many, their delivery p99 and
// max, and the share of all cores that other work took in that second.
function perSecond(samples, writeStart) {
    const buckets = [];
    for (const w of writes) {
        if (w.fromCommit === undefined) continue;
        const second = Math.floor((w.sentAt - writeStart) / 1000);
        (buckets[second] ??= []).push(w.fromCommit);
    }
    return Array.from({ length: Math.max(buckets.length, samples.length - 1) }, (_, second) => {
        const p = percentiles(buckets[second] ?? []);
        const [a, b] = [samples[second], samples[second + 1]];
        let others = null;
        if (a && b && b.machine.total > a.machine.total) {
            const ours = (b.service - a.service) + (b.database - a.database) + (b.client - a.client);
            const busy = b.machine.busy - a.machine.busy;
            others = Math.round((1000 * Math.max(0, busy - ours)) / (b.machine.total - a.machine.total)) / 10;
        }
        return { second, delivered: p.count, p99_ms: p.p99, max_ms: p.max, others_pct: others };
    });
}

// --- the run ---------------------------------------------------------------------
async function main() {
    const result = { streams: users.length, rate, duration_s: duration };

    // A few requests first, so that the baseline includes the service's warm
    // state (its pool's connections, its workers' buffers) and not only a
    // process that has never served a request.
    await Promise.all(users.slice(0, 16).map((user) => new Promise((resolve) => {
        http.get({ host: base.hostname, port: base.port, path: "/api/tasks?limit=1", agent: writeAgent,
                   headers: { authorization: `Bearer ${user.token}` } }, (response) => {
            response.resume();
            response.on("end", resolve);
        }).on("error", resolve);
    })));
    await sleep(settleMs);
    const rssBefore = rssKb();

    // Open the streams, openConcurrency at a time.
    log(`opening ${users.length} streams (${openConcurrency} at a time)…`);
    const openStart = wallMs();
    const openTimes = [];
    let next = 0, openFailed = 0;
    await Promise.all(Array.from({ length: Math.min(openConcurrency, users.length) }, async () => {
        while (next < users.length) {
            const user = users[next++];
            const started = wallMs();
            try {
                user.stream = await openStream(user);
                openTimes.push(wallMs() - started);
            } catch (err) {
                openFailed++;
                countError(err.kind ?? "open_failed", `${user.sub}: ${err.message}`);
            }
        }
    }));
    result.open_s = Math.round(wallMs() - openStart) / 1000;
    result.opened = users.length - openFailed;
    result.open_ms = percentiles(openTimes);
    measuring = true;
    log(`${result.opened} open in ${result.open_s} s; idle ${settleMs / 1000} s…`);
    await sleep(settleMs);
    const rssIdle = rssKb();

    // Writes at a steady rate: write i goes out at start + i / rate, whatever
    // the earlier ones are doing (an open loop, so a slow service shows as
    // latency, not as a lower rate of writes).
    const total = Math.round(rate * duration);
    log(`writing ${total} tasks at ${rate}/s over ${users.length} users…`);
    const cpuBefore = cpuTicks();
    const machineBefore = machineTicks();
    const databaseBefore = databaseTicks();
    const clientCpuBefore = process.cpuUsage();
    // Every second of the writes: what the machine did besides the
    // benchmark, to set against that second's delivery latency.
    const clkTickRate = Number(options["clk-tck"]);
    const sample = () => {
        const client = process.cpuUsage();
        return { machine: machineTicks(), service: cpuTicks() ?? 0, database: databaseTicks(),
                 client: ((client.user + client.system) / 1e6) * clkTickRate };
    };
    const samples = [sample()];
    const sampler = setInterval(() => samples.push(sample()), 1000);
    const writeStart = wallMs();
    await new Promise((resolve) => {
        let sequence = 0;
        const tick = () => {
            const now = wallMs();
            while (sequence < total && writeStart + (sequence * 1000) / rate <= now) write(sequence++);
            if (sequence < total) setTimeout(tick, Math.max(0, writeStart + (sequence * 1000) / rate - wallMs()));
            else resolve();
        };
        tick();
    });
    const sendSpan = (wallMs() - writeStart) / 1000;
    allSent = true;
    if (pendingResponses > 0) await new Promise((resolve) => { responsesDone = resolve; });
    const lastResponse = wallMs();
    // Every successful write's event, or the drain time after the last
    // response: longer than the service's keep-alive (15 s), at which a
    // stream reads its feed again even without a notification, so an event
    // delivered late by that path counts as late, not as lost.
    if (pendingDelivery > 0) {
        await Promise.race([new Promise((resolve) => { drained = resolve; }), sleep(drainMs)]);
    }
    clearInterval(sampler);
    const cpuAfter = cpuTicks();
    const clientCpu = process.cpuUsage(clientCpuBefore);
    const machineAfter = machineTicks();
    const databaseAfter = databaseTicks();
    const rssLoaded = rssKb();
    measuring = false;

    const ok = writes.filter((w) => w.status === 201);
    const delivered = writes.filter((w) => w.deliveredAt !== undefined);
    const lost = ok.filter((w) => w.deliveredAt === undefined).length;
    const streamsEnded = users.filter((u) => u.stream?.ended).length;
    for (const user of users) user.stream?.request.destroy();
    writeAgent.destroy();

    const clkTck = Number(options["clk-tck"]); // what /proc/PID/stat counts in (getconf CLK_TCK)
    // Shares of all cores over the writes (and the drain): the whole
    // machine, and within it the service, its database and this client;
    // "others" is the rest, work the benchmark did not ask for.
    const allTicks = machineAfter.total - machineBefore.total;
    const share = (ticks) => (allTicks > 0 ? Math.round((1000 * ticks) / allTicks) / 10 : null);
    const clientTicks = ((clientCpu.user + clientCpu.system) / 1e6) * clkTck;
    const serviceTicks = cpuBefore === null ? 0 : cpuAfter - cpuBefore;
    const cpuShares = {
        machine: share(machineAfter.busy - machineBefore.busy),
        service: share(serviceTicks),
        database: options["db-name"] ? share(databaseAfter - databaseBefore) : null,
        client: share(clientTicks),
        others: share(Math.max(0, machineAfter.busy - machineBefore.busy - serviceTicks
                               - (databaseAfter - databaseBefore) - clientTicks)),
    };
    Object.assign(result, {
        writes: total,
        writes_ok: ok.length,
        send_s: Math.round(sendSpan * 1000) / 1000,
        achieved_rate: Math.round((total / sendSpan) * 10) / 10,
        responses_done_s: Math.round(lastResponse - writeStart) / 1000,
        delivered: delivered.length,
        lost,
        duplicates: counts.duplicates,
        misrouted: counts.misrouted,
        unexpected: counts.unexpected,
        streams_ended: streamsEnded,
        keepalives: counts.keepalives,
        errors: Object.values(errorKinds).reduce((a, b) => a + b, 0),
        error_kinds: errorKinds,
        delivery_ms: percentiles(delivered.map((w) => w.fromCommit)),
        delivery_from_send_ms: percentiles(delivered.map((w) => w.fromSend)),
        write_ms: percentiles(ok.map((w) => w.respondedAt - w.sentAt)),
        // Events that reached the stream before the POST's own response did.
        before_response: delivered.filter((w) => w.respondedAt === undefined || w.deliveredAt < w.respondedAt).length,
        rss_kb: { before: rssBefore, idle: rssIdle, loaded: rssLoaded },
        extra_rss_mb: rssBefore === null ? null : Math.round(((rssIdle - rssBefore) / 1024) * 10) / 10,
        service_cpu_ms_per_write: cpuBefore === null || !total ? null
            : Math.round((((cpuAfter - cpuBefore) * 1000) / clkTck / total) * 1000) / 1000,
        client_cpu_ms: Math.round((clientCpu.user + clientCpu.system) / 1000),
        cpu_pct_during_writes: cpuShares,
        per_second: perSecond(samples, writeStart),
    });
    const quiet = new Set(result.per_second.filter((s) => s.others_pct !== null && s.others_pct <= Number(options["busy-pct"]))
        .map((s) => s.second));
    result.quiet_seconds = quiet.size;
    result.delivery_quiet_ms = percentiles(delivered.filter((w) => quiet.has(Math.floor((w.sentAt - writeStart) / 1000)))
        .map((w) => w.fromCommit));
    log(`${result.delivered}/${result.writes_ok} delivered, ${lost} lost, ${result.errors} errors; ` +
        `delivery p50 ${result.delivery_ms.p50} ms, p99 ${result.delivery_ms.p99} ms; ` +
        `RSS ${(rssBefore / 1024).toFixed(1)} -> ${(rssIdle / 1024).toFixed(1)} MB with the streams open`);
    process.stdout.write(JSON.stringify(result) + "\n");
}

main().then(() => process.exit(0), (err) => {
    console.error(err);
    process.exit(1);
});
