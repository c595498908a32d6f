-- pgbench: the statement of the heavy list,
-- GET /api/tasks?status=pending&sort=title&order=asc&limit=50&offset=1000 as
-- bench-big (10,000 tasks). Same conventions as list.sql; keep it in step with
-- api/src/tasks/repository.rs (sort=title orders by the case-folded title_key).
SELECT "counted"."total", "owner"."sync_epoch" AS "feed_epoch", "owner"."change_seq" AS "feed_head",
       "owner"."purged_seq" AS "feed_purged", "page".*
FROM (SELECT COUNT(*) AS "total" FROM "tasks" WHERE "tasks"."user_id" = 'bench-big'
      AND (NOT EXISTS(SELECT 1 FROM "users" WHERE "users"."id" = 'bench-big' AND "users"."erasing" = true))
      AND "tasks"."completed" = false) AS "counted"
LEFT JOIN "users" AS "owner" ON "owner"."id" = 'bench-big'
LEFT JOIN (
    SELECT "tasks"."id", "tasks"."user_id", "tasks"."title", "tasks"."description", "tasks"."completed",
           "tasks"."created_at", "tasks"."updated_at", "tasks"."version", "tasks"."title_key",
           "tasks"."description_key", "tasks"."change_seq", "tasks"."priority", "tasks"."tags",
           "tasks"."due_date", "tasks"."due_time", "tasks"."time_zone", "tasks"."due_at", "tasks"."completed_at"
    FROM "tasks" WHERE "tasks"."user_id" = 'bench-big'
    AND (NOT EXISTS(SELECT 1 FROM "users" WHERE "users"."id" = 'bench-big' AND "users"."erasing" = true))
    AND "tasks"."completed" = false
    ORDER BY "tasks"."title_key" ASC, "tasks"."id" ASC LIMIT 50 OFFSET 1000
) AS "page" ON TRUE
ORDER BY "page"."title_key" ASC, "page"."id" ASC;
