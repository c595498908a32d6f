// Starts the Rust service binary on a free port against a fresh database:
// PostgreSQL when TEST_DATABASE_URL is set, else a temporary SQLite file.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** The service binary: TODO_API_BIN, else the workspace's debug build. */
export const binary = process.env.TODO_API_BIN ?? path.join(root, "target/debug/api");

/**
 * A port free on 127.0.0.1 a moment ago, for a service whose URL must be
 * known before it starts (PORT in `env`).
 */
export async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A database of the service's own: `{ url, drop() }`. */
function freshDatabase() {
  const server = process.env.TEST_DATABASE_URL;
  if (!server) {
    if (process.env.CI && process.env.CI !== "false") {
      throw new Error("CI is set but TEST_DATABASE_URL is not: the e2e suites must run on PostgreSQL");
    }
    const dir = mkdtempSync(path.join(tmpdir(), "todo-e2e-"));
    return { url: `sqlite://${dir}/todo.db?mode=rwc`, drop: () => rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `todo_test_e2e_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  execFileSync("psql", [server, "-qc", `CREATE DATABASE "${name}"`]);
  const url = new URL(server);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => execFileSync("psql", [server, "-qc", `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`]),
  };
}

/**
 * Starts the service; `env` adds configuration (BETTER_AUTH_URL, …).
 * `databaseUrl` (another instance's `databaseUrl`) runs a second instance on
 * that instance's database, which stays its owner's to drop.
 */
export async function startService(env, { databaseUrl } = {}) {
  const database = databaseUrl ? { url: databaseUrl, drop: () => {} } : freshDatabase();
  const child = spawn(binary, [], {
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: database.url,
      HOST: "127.0.0.1",
      PORT: "0",
      RUST_LOG: "info",
      NO_COLOR: "1",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  const address = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the service did not start:\n${log}`)), 30_000);
    const onData = (chunk) => {
      log += chunk.toString().replace(/\x1b\[[0-9;]*m/g, "");
      const match = log.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => reject(new Error(`the service exited (${code}):\n${log}`)));
  });
  return {
    address,
    databaseUrl: database.url,
    log: () => log,
    /** fetch against the service with a bearer token. */
    async call(method, route, token, body) {
      const headers = { authorization: `Bearer ${token}` };
      if (body !== undefined) headers["content-type"] = "application/json";
      const response = await fetch(`${address}${route}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
    },
    async stop() {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
      database.drop();
    },
  };
}
