-- pgbench: the two statements GET /api/tasks?limit=50 sends, for a random
-- ordinary user (bench/run.sh passes -D users=N and runs with -M prepared, so
-- values travel as bound parameters, as they do from the service).
-- Written to match the SQL the service sends for the list (the page, and a
-- plain count of the same filter); keep it in step with
-- api/src/tasks/repository.rs.
\set u random(1, :users)
SELECT "tasks"."id", "tasks"."user_id", "tasks"."title", "tasks"."description", "tasks"."completed",
       "tasks"."created_at", "tasks"."updated_at", "tasks"."version", "tasks"."title_key",
       "tasks"."description_key"
FROM "tasks" WHERE "tasks"."user_id" = 'bench-user-' || :u
ORDER BY "tasks"."created_at" DESC, "tasks"."id" DESC LIMIT 50 OFFSET 0;
SELECT COUNT(*) AS "total" FROM "tasks" WHERE "tasks"."user_id" = 'bench-user-' || :u;
