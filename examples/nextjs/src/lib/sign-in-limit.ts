// Sign-in attempts counted per account, beside Better Auth's own per-address
// limit. On a shared network (an office, a school, a mobile carrier's NAT)
// many people come from one address, so the per-address limit has to be
// generous; guessing one account's password is then held back by this one,
// whatever address the guesses come from.
//
// The counts live in Better Auth's `rateLimit` table (storage: "database"),
// so every instance of the app shares them, under keys of their own
// (`account:<email>|/sign-in/email`) beside Better Auth's (`<address>|<path>`).
import { randomUUID } from "node:crypto";

import type { Pool } from "pg";

export type Rule = { window: number; max: number };

/** Counts one attempt for `key`; answers how long to wait (in seconds) when over `rule`, else null. */
export async function consume(pool: Pool, key: string, rule: Rule): Promise<number | null> {
  const now = Date.now();
  const windowMs = rule.window * 1000;
  // One statement, so concurrent attempts on several instances each count.
  // "lastRequest" holds the start of the current window: a window that has
  // passed starts again at 1, and Better Auth prunes rows older than its
  // longest window.
  const { rows } = await pool.query<{ count: number; started: string }>(
    `INSERT INTO "rateLimit" ("id", "key", "count", "lastRequest") VALUES ($1, $2, 1, $3)
     ON CONFLICT ("key") DO UPDATE SET
       "count" = CASE WHEN $3 - "rateLimit"."lastRequest" >= $4 THEN 1 ELSE "rateLimit"."count" + 1 END,
       "lastRequest" = CASE WHEN $3 - "rateLimit"."lastRequest" >= $4 THEN $3 ELSE "rateLimit"."lastRequest" END
     RETURNING "count", "lastRequest" AS started`,
    [randomUUID(), key, now, windowMs],
  );
  const row = rows[0];
  if (!row || row.count <= rule.max) return null;
  return Math.max(1, Math.ceil((Number(row.started) + windowMs - now) / 1000));
}

/** The key for an account: emails compare case-insensitively. */
export function accountKey(email: string, path: string): string {
  return `account:${email.trim().toLowerCase()}|${path}`;
}
