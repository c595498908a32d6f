// Starts the built app (`next start`) on a free port with a fresh Better Auth
// database on PostgreSQL, and the service (e2e/lib/service.mjs) pointed at it;
// on demand a second app and service instance beside them.
import { spawn, execFileSync } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { betterAuth } from "better-auth";
import { jwt } from "better-auth/plugins";
import pg from "pg";

import { startService } from "../../../e2e/lib/service.mjs";

const appDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const secret = "browser-test-better-auth-secret-0123456789abcdef";

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function postgresServer() {
  const server = process.env.TEST_DATABASE_URL;
  if (!server) throw new Error("set TEST_DATABASE_URL (postgres://postgres@127.0.0.1:5432/postgres): Better Auth keeps its users in PostgreSQL");
  return server;
}

/** Better Auth's own database, beside the service's. */
function freshAuthDatabase() {
  const server = postgresServer();
  const name = `todo_test_nextjs_auth_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  execFileSync("psql", [server, "-qc", `CREATE DATABASE "${name}"`]);
  const url = new URL(server);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => execFileSync("psql", [server, "-qc", `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`]) };
}

/** The environment `next start` runs with: every variable the app reads. */
function appEnvironment({ origin, authDatabaseUrl, serviceAddress }) {
  return {
    PATH: process.env.PATH,
    NODE_ENV: "production",
    NEXT_TELEMETRY_DISABLED: "1",
    BETTER_AUTH_URL: origin,
    BETTER_AUTH_SECRET: secret,
    AUTH_DATABASE_URL: authDatabaseUrl,
    TODO_API_URL: serviceAddress,
  };
}

function spawnNext(port, env) {
  return spawn(path.join(appDir, "node_modules/.bin/next"), ["start", "-H", "127.0.0.1", "-p", String(port)], {
    cwd: appDir,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/**
 * `next start` with the environment less `without`: resolves with its exit
 * code and output once it exits (within 30 s), or rejects if it serves.
 */
export async function startAppWithout(without) {
  const port = await freePort();
  const env = appEnvironment({
    origin: `http://127.0.0.1:${port}`,
    // A database that does not exist: the app must stop before it would try it.
    authDatabaseUrl: "postgres://postgres@127.0.0.1:1/never_touched",
    serviceAddress: "http://127.0.0.1:1",
  });
  delete env[without];
  const child = spawnNext(port, env);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const code = await new Promise((resolve) => child.once("exit", (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** `next start` on `port`, signing users in for `origin` and calling the service at `serviceAddress`. */
async function startApp({ port, origin, authDatabaseUrl, serviceAddress }) {
  const child = spawnNext(port, appEnvironment({ origin, authDatabaseUrl, serviceAddress }));
  let log = "";
  child.stdout.on("data", (chunk) => (log += chunk));
  child.stderr.on("data", (chunk) => (log += chunk));
  const exited = new Promise((resolve) => child.once("exit", resolve));
  // Ready once the server answers (its start runs Better Auth's migrations first).
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) throw new Error(`next start exited (${child.exitCode}):\n${log}`);
    if (attempt > 300) throw new Error(`next start did not answer:\n${log}`);
    const ok = await fetch(`${origin}/sign-in`).then((r) => r.ok, () => false);
    if (ok) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    log: () => log,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

export async function startStack() {
  postgresServer();
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const authDatabase = freshAuthDatabase();
  const service = await startService({ BETTER_AUTH_URL: origin, CORS_ORIGINS: origin });
  const app = await startApp({ port, origin, authDatabaseUrl: authDatabase.url, serviceAddress: service.address });

  // The same Better Auth (database, secret, keys) as the app, to sign tokens the test chooses.
  const pool = new pg.Pool({ connectionString: authDatabase.url });
  const auth = betterAuth({ baseURL: origin, secret, database: pool, plugins: [jwt()], logger: { disabled: true } });
  const others = [];

  return {
    origin,
    service,
    log: app.log,
    /** A token signed with the app's own key, with chosen claims. */
    async sign(payload) {
      return (await auth.api.signJWT({ body: { payload } })).token;
    },
    /** How many Better Auth users have this id. */
    async authUsers(id) {
      return (await pool.query('SELECT count(*)::int AS n FROM "user" WHERE id = $1', [id])).rows[0].n;
    },
    /**
     * A second deployment beside the first: another service instance on the
     * same database and another `next start` on its own origin, calling
     * that instance, with the same Better Auth database and secret (so a
     * session from one is a session on the other: the cookie is the
     * host's, whatever the port). `{ origin, service }`.
     */
    async secondInstance() {
      const port = await freePort();
      const origin = `http://127.0.0.1:${port}`;
      const second = await startService(
        { BETTER_AUTH_URL: origin, CORS_ORIGINS: origin },
        { databaseUrl: service.databaseUrl },
      );
      const secondApp = await startApp({ port, origin, authDatabaseUrl: authDatabase.url, serviceAddress: second.address });
      others.push(secondApp, second);
      return { origin, service: second, log: secondApp.log };
    },
    /**
     * Another app beside the first, calling a service instance of its own
     * on the same database, on a fixed port, that the test can stop and
     * start again (an outage): `{ origin, serviceAddress, stopService(), startService() }`.
     */
    async instanceWithOutage() {
      const port = await freePort();
      const origin = `http://127.0.0.1:${port}`;
      const servicePort = await freePort();
      const start = () =>
        startService(
          { BETTER_AUTH_URL: origin, CORS_ORIGINS: origin, PORT: String(servicePort) },
          { databaseUrl: service.databaseUrl },
        );
      let current = await start();
      const serviceAddress = current.address;
      const outageApp = await startApp({ port, origin, authDatabaseUrl: authDatabase.url, serviceAddress });
      others.push(outageApp, { stop: () => current?.stop() });
      return {
        origin,
        serviceAddress,
        async stopService() {
          await current.stop();
          current = null;
        },
        async startService() {
          current = await start();
        },
      };
    },
    async stop() {
      for (const other of others) await other.stop();
      await app.stop();
      await pool.end();
      await service.stop();
      authDatabase.drop();
    },
  };
}
