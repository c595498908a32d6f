-- pgbench: the two statements GET /api/tasks?limit=50 sends, for a random
-- ordinary user (bench/run.sh passes -D users=N and runs with -M prepared, so
-- values travel as bound parameters, as they do from the service).
-- Written to match the SQL sea-orm generates for the list (the page, and the
-- count over a subquery of the same filter, as sea-orm's `count` writes it);
-- keep it in step with api/src/tasks/repository.rs.
\set u random(1, :users)
SELECT "tasks"."id", "tasks"."user_id", "tasks"."title", "tasks"."description", "tasks"."completed",
       "tasks"."created_at", "tasks"."updated_at", "tasks"."version"
FROM "tasks" WHERE "tasks"."user_id" = 'bench-user-' || :u
ORDER BY "tasks"."created_at" DESC, "tasks"."id" DESC LIMIT 50 OFFSET 0;
SELECT COUNT(*) AS num_items FROM (
    SELECT "tasks"."id", "tasks"."user_id", "tasks"."title", "tasks"."description", "tasks"."completed",
           "tasks"."created_at", "tasks"."updated_at", "tasks"."version"
    FROM "tasks" WHERE "tasks"."user_id" = 'bench-user-' || :u
) AS "sub_query";
