// PocketBase's side of the benchmark (bench/run.sh --sqlite; BENCHMARKS.md,
// "PocketBase beside the service"): on a PocketBase that serves a fresh data
// directory, creates a `tasks` collection shaped like the service's task,
// with owner-only rules, then the data set the service's wrk scenarios
// run on (USERS users × TASKS tasks each), all through PocketBase's own API,
// and writes the file the pb-* scenarios of bench/scenarios.lua read.
//
//   node bench/pocketbase.mjs --base URL --email SUPERUSER --password PASS \
//       --users N --tasks-per-user M --out FILE [--concurrency 16]
//
// FILE gets a line per user, "TOKEN USER-ID TASK-ID …": the user's token
// (from auth-with-password, as a client gets it), the user's record id, and
// the ids of the user's own tasks. Before writing it, the data set is read
// back through the API as a user sees it: a user lists exactly their own
// tasks, cannot read another user's, and cannot create one for another user.
// Prints one JSON line with what it created and how long it took. Node 18 or
// later, no packages; exits non-zero on any failed request.

import { writeFileSync } from "node:fs";

function options(argv) {
    const out = {};
    for (let i = 0; i < argv.length; i += 2) {
        if (!argv[i].startsWith("--")) throw new Error(`unexpected argument ${argv[i]}`);
        out[argv[i].slice(2)] = argv[i + 1];
    }
    for (const name of ["base", "email", "password", "users", "tasks-per-user", "out"]) {
        if (out[name] === undefined) throw new Error(`--${name} is required`);
    }
    return out;
}

const opts = options(process.argv.slice(2));
const base = opts.base.replace(/\/$/, "");
const userCount = Number(opts.users);
const tasksPerUser = Number(opts["tasks-per-user"]);
const concurrency = Number(opts.concurrency ?? 16);
const userPassword = "bench-user-password";

async function call(method, path, { token, body, expect = [200] } = {}) {
    const headers = {};
    if (token) headers.Authorization = token; // PocketBase takes the raw token
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!expect.includes(response.status)) {
        throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 300)}`);
    }
    return { status: response.status, json: text ? JSON.parse(text) : null };
}

// Runs make(i) for i in 0 … count-1, at most `limit` at a time.
async function pool(count, limit, make) {
    const results = new Array(count);
    let next = 0;
    async function worker() {
        while (next < count) {
            const i = next++;
            results[i] = await make(i);
        }
    }
    await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
    return results;
}

// The service's seed (bench/seed/sqlite.sql) for an ordinary user's task n:
// the same titles, descriptions (none for every third), completion (a
// quarter) and priorities (a quarter each).
const verbs = ["Buy", "call", "Email", "fix", "Plan", "review", "Write", "book", "Pay", "clean"];
const nouns = ["groceries", "Report", "dentist", "car", "Slides", "taxes", "garden", "flight", "Budget", "kitchen",
    "ticket"];
const priorities = ["none", "low", "medium", "high"];
function seededTask(n, user) {
    const h = (n * 7919) % 10007;
    return {
        user,
        title: `${verbs[n % 10]} ${nouns[(n * 7) % 11]} #${n}`,
        description: n % 3 === 0 ? "" : `Seeded task ${n} for the benchmark`,
        completed: n % 4 === 1,
        priority: priorities[h % 4],
    };
}

const started = performance.now();
const superuser = (await call("POST", "/api/collections/_superusers/auth-with-password", {
    body: { identity: opts.email, password: opts.password },
})).json.token;

// The service's task, in PocketBase's terms: the owner as a relation to the
// built-in `users` collection, rules that give each user their own tasks
// only, created and updated times, and the index the newest-first list of
// one user's tasks reads.
const usersCollection = (await call("GET", "/api/collections/users", { token: superuser })).json;
const own = "user = @request.auth.id";
await call("POST", "/api/collections", {
    token: superuser,
    body: {
        name: "tasks",
        type: "base",
        listRule: own,
        viewRule: own,
        updateRule: own,
        deleteRule: own,
        createRule: '@request.auth.id != "" && @request.body.user = @request.auth.id',
        fields: [
            { name: "user", type: "relation", required: true, collectionId: usersCollection.id, maxSelect: 1,
                cascadeDelete: true },
            { name: "title", type: "text", required: true, max: 200 },
            { name: "description", type: "text", max: 1000 },
            { name: "completed", type: "bool" },
            { name: "priority", type: "select", maxSelect: 1, values: priorities },
            { name: "created", type: "autodate", onCreate: true },
            { name: "updated", type: "autodate", onCreate: true, onUpdate: true },
        ],
        indexes: ["CREATE INDEX idx_tasks_user_created ON tasks (user, created)"],
    },
});

const users = await pool(userCount, concurrency, async (i) => {
    const email = `bench-user-${i + 1}@example.com`;
    const record = (await call("POST", "/api/collections/users/records", {
        token: superuser,
        body: { email, password: userPassword, passwordConfirm: userPassword, name: `Bench User ${i + 1}` },
    })).json;
    return { email, id: record.id, tasks: [] };
});
const usersDone = performance.now();

// Task n of every user before task n + 1 of any, as the service's seed
// interleaves its users' creation times.
const tasks = await pool(userCount * tasksPerUser, concurrency, async (k) => {
    const user = users[k % userCount];
    const n = Math.floor(k / userCount) + 1;
    const record = (await call("POST", "/api/collections/tasks/records?fields=id", {
        token: superuser,
        body: seededTask(n, user.id),
    })).json;
    return { user, id: record.id };
});
for (const { user, id } of tasks) user.tasks.push(id);
const tasksDone = performance.now();

await pool(userCount, concurrency, async (i) => {
    const user = users[i];
    const auth = (await call("POST", "/api/collections/users/auth-with-password", {
        body: { identity: user.email, password: userPassword },
    })).json;
    if (auth.record.id !== user.id) throw new Error(`${user.email} signed in as ${auth.record.id}`);
    user.token = auth.token;
});

// Read back as the users see it.
const [first, second] = [users[0], users[1] ?? users[0]];
const all = (await call("GET", "/api/collections/tasks/records?perPage=1", { token: superuser })).json;
if (all.totalItems !== userCount * tasksPerUser) {
    throw new Error(`PocketBase holds ${all.totalItems} tasks, expected ${userCount * tasksPerUser}`);
}
const listed = (await call("GET", "/api/collections/tasks/records?sort=-created&perPage=50", { token: first.token }))
    .json;
if (listed.totalItems !== tasksPerUser || listed.items.some((task) => task.user !== first.id)) {
    throw new Error(`a user lists ${listed.totalItems} tasks (or someone else's), expected their own ${tasksPerUser}`);
}
if (second !== first) {
    await call("GET", `/api/collections/tasks/records/${first.tasks[0]}`, { token: second.token, expect: [404] });
    await call("POST", "/api/collections/tasks/records", {
        token: second.token,
        body: { title: "not mine", user: first.id },
        expect: [400, 403],
    });
}

writeFileSync(opts.out, users.map((u) => [u.token, u.id, ...u.tasks].join(" ")).join("\n") + "\n");
const seconds = (a, b) => Math.round(b - a) / 1000;
console.log(JSON.stringify({
    users: userCount,
    tasks_per_user: tasksPerUser,
    tasks: tasks.length,
    concurrency,
    users_s: seconds(started, usersDone),
    tasks_s: seconds(usersDone, tasksDone),
    seed_s: seconds(started, performance.now()),
    tasks_per_s: Math.round(tasks.length / ((tasksDone - usersDone) / 1000)),
}));
