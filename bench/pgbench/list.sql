-- pgbench: the statement GET /api/tasks?limit=50 sends, for a random
-- ordinary user (bench/run.sh passes -D users=N and runs with -M prepared, so
-- values travel as bound parameters, as they do from the service).
-- Written to match the SQL the service sends for the list (one statement: the
-- count, the owner's feed position for the ETag, and the page; every part
-- reads only an account not being erased); keep it in step with
-- api/src/tasks/repository.rs.
\set u random(1, :users)
SELECT "counted"."total", "owner"."sync_epoch" AS "feed_epoch", "owner"."change_seq" AS "feed_head",
       "owner"."purged_seq" AS "feed_purged", "page".*
FROM (SELECT COUNT(*) AS "total" FROM "tasks" WHERE "tasks"."user_id" = 'bench-user-' || :u
      AND (NOT EXISTS(SELECT 1 FROM "users" WHERE "users"."id" = 'bench-user-' || :u AND "users"."erasing" = true))) AS "counted"
LEFT JOIN "users" AS "owner" ON "owner"."id" = 'bench-user-' || :u
LEFT JOIN (
    SELECT "tasks"."id", "tasks"."user_id", "tasks"."title", "tasks"."description", "tasks"."completed",
           "tasks"."created_at", "tasks"."updated_at", "tasks"."version", "tasks"."title_key",
           "tasks"."description_key", "tasks"."change_seq", "tasks"."priority", "tasks"."tags",
           "tasks"."due_date", "tasks"."due_time", "tasks"."time_zone", "tasks"."due_at", "tasks"."completed_at"
    FROM "tasks" WHERE "tasks"."user_id" = 'bench-user-' || :u
    AND (NOT EXISTS(SELECT 1 FROM "users" WHERE "users"."id" = 'bench-user-' || :u AND "users"."erasing" = true))
    ORDER BY "tasks"."created_at" DESC, "tasks"."id" DESC LIMIT 50 OFFSET 0
) AS "page" ON TRUE
ORDER BY "page"."created_at" DESC, "page"."id" DESC;
