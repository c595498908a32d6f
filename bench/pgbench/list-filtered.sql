-- pgbench: the statement of the organized list,
-- GET /api/tasks?tag=t1&priority=high,medium&sort=due_at&order=asc&limit=50
-- for a random ordinary user. Same conventions as list.sql; keep it in step
-- with api/src/tasks/repository.rs: `tag=` is a subquery on task_tags and
-- tags by the folded name, and sort=due_at cuts the page from two
-- index-ordered runs, the tasks with a due date by due_at and those without
-- by id, so that tasks without one come last.
\set u random(1, :users)
SELECT "counted"."total", "owner"."sync_epoch" AS "feed_epoch", "owner"."change_seq" AS "feed_head",
       "owner"."purged_seq" AS "feed_purged", "page".*
FROM (SELECT COUNT(*) AS "total" FROM "tasks" WHERE "tasks"."user_id" = 'bench-user-' || :u
      AND (NOT EXISTS(SELECT 1 FROM "users" WHERE "users"."id" = 'bench-user-' || :u AND "users"."erasing" = true))
      AND "tasks"."priority" IN (2, 3)
      AND "tasks"."id" IN (SELECT "task_tags"."task_id" FROM "task_tags"
                           INNER JOIN "tags" ON "tags"."id" = "task_tags"."tag_id"
                           WHERE "tags"."user_id" = 'bench-user-' || :u AND "tags"."name_key" = 't1')) AS "counted"
LEFT JOIN "users" AS "owner" ON "owner"."id" = 'bench-user-' || :u
LEFT JOIN (
    SELECT * FROM (
        SELECT * FROM (
            SELECT "tasks"."id", "tasks"."user_id", "tasks"."title", "tasks"."description", "tasks"."completed",
                   "tasks"."created_at", "tasks"."updated_at", "tasks"."version", "tasks"."title_key",
                   "tasks"."description_key", "tasks"."change_seq", "tasks"."priority", "tasks"."tags",
                   "tasks"."due_date", "tasks"."due_time", "tasks"."time_zone", "tasks"."due_at", "tasks"."completed_at"
            FROM "tasks" WHERE "tasks"."user_id" = 'bench-user-' || :u
            AND (NOT EXISTS(SELECT 1 FROM "users" WHERE "users"."id" = 'bench-user-' || :u AND "users"."erasing" = true))
            AND "tasks"."priority" IN (2, 3)
            AND "tasks"."id" IN (SELECT "task_tags"."task_id" FROM "task_tags"
                                 INNER JOIN "tags" ON "tags"."id" = "task_tags"."tag_id"
                                 WHERE "tags"."user_id" = 'bench-user-' || :u AND "tags"."name_key" = 't1')
            AND "tasks"."due_at" IS NOT NULL
            ORDER BY "tasks"."due_at" ASC, "tasks"."id" ASC LIMIT 50
        ) AS "dated"
        UNION ALL (
            SELECT * FROM (
                SELECT "tasks"."id", "tasks"."user_id", "tasks"."title", "tasks"."description", "tasks"."completed",
                       "tasks"."created_at", "tasks"."updated_at", "tasks"."version", "tasks"."title_key",
                       "tasks"."description_key", "tasks"."change_seq", "tasks"."priority", "tasks"."tags",
                       "tasks"."due_date", "tasks"."due_time", "tasks"."time_zone", "tasks"."due_at", "tasks"."completed_at"
                FROM "tasks" WHERE "tasks"."user_id" = 'bench-user-' || :u
                AND (NOT EXISTS(SELECT 1 FROM "users" WHERE "users"."id" = 'bench-user-' || :u AND "users"."erasing" = true))
                AND "tasks"."priority" IN (2, 3)
                AND "tasks"."id" IN (SELECT "task_tags"."task_id" FROM "task_tags"
                                     INNER JOIN "tags" ON "tags"."id" = "task_tags"."tag_id"
                                     WHERE "tags"."user_id" = 'bench-user-' || :u AND "tags"."name_key" = 't1')
                AND "tasks"."due_at" IS NULL
                ORDER BY "tasks"."id" ASC LIMIT 50
            ) AS "undated"
        )
    ) AS "either"
    ORDER BY "due_at" IS NULL ASC, "due_at" ASC, "id" ASC LIMIT 50 OFFSET 0
) AS "page" ON TRUE
ORDER BY "page"."due_at" IS NULL ASC, "page"."due_at" ASC, "page"."id" ASC;
