// Creates Better Auth's database when it is missing and brings its tables up
// to date, when the server starts. A deployment may run this as a separate
// step instead and set AUTH_AUTO_MIGRATE=false.
import { getMigrations } from "better-auth/db/migration";
import { Client } from "pg";

import { auth } from "./auth";
import { serverConfig } from "./config";

async function createDatabaseIfMissing(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const server = new URL(url);
  server.pathname = "/postgres";
  const client = new Client({ connectionString: server.toString() });
  await client.connect();
  try {
    const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
  } finally {
    await client.end();
  }
}

export async function migrateAuthDatabase(): Promise<void> {
  if (process.env.AUTH_AUTO_MIGRATE === "false") return;
  await createDatabaseIfMissing(serverConfig.authDatabaseUrl);
  const { runMigrations } = await getMigrations(auth.options);
  await runMigrations();
}
