// The server's start (Node.js only): the settings are checked before anything
// else, so that a missing secret stops it with one line naming the variable,
// before any database is touched; then Better Auth's tables are brought up
// to date.
import { missingSettings } from "./config";

export async function startServer(): Promise<void> {
  const missing = missingSettings();
  if (missing) {
    console.error(missing);
    process.exit(1);
  }
  const { migrateAuthDatabase } = await import("./auth-migrate");
  await migrateAuthDatabase();
}
