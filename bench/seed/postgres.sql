-- The benchmark's data set on PostgreSQL, written into staging tables
-- (bench_seed_users, bench_seed_tasks, bench_seed_tags) that bench/run.sh
-- copies into `users`, `tasks` and `tags`, column by column, for every column
-- both sides have; then it links `task_tags` from bench_seed_task_tags (a
-- task named by its owner and title_key, a tag by its owner and name_key),
-- since task and tag ids exist only once copied. Columns the service's schema
-- gains later with a default need nothing here; a NOT NULL column without one
-- must be added to both this file and seed/sqlite.sql (the script stops and
-- names it otherwise).
--
-- Reads its sizes from bench_params(users, tasks_per_user, big_tasks, word),
-- which bench/run.sh creates first. Users are bench-user-1 … bench-user-N and
-- bench-big; every 20th of bench-big's titles holds `word` (5%), in one of
-- three spellings; nothing else does.
--
-- Every task is organized as in use, from a scramble of its number n,
-- h = n * 7919 % 10007 (the same in seed/sqlite.sql, so both databases hold
-- the same rows):
--   priority  h % 4 (0 none … 3 high): a quarter each;
--   tags      (h / 4) % 4 tags (0 to 3), consecutive among t0 … t4 from
--             t((h / 16) % 5), wrapping: each tag on about 30% of tasks;
--             tasks.tags is their names sorted and joined by commas, as the
--             service writes it ("" for none), and task_tags says the same;
--   due date  on 60% ((h / 80) % 10 < 6), from 20 days ago to 39 days ahead
--             ((n * 37) % 60 - 20 days from today, UTC), in UTC; half of
--             those at a time of day (a quarter hour), the rest all day,
--             due_at being that date at that time, or the next midnight.
-- Completed tasks were completed when last changed (completed_at).

CREATE TABLE bench_seed_users AS
SELECT 'bench-user-' || u AS id,
       'bench-user-' || u || '@example.com' AS email,
       'Bench User ' || u AS name,
       now() - interval '60 days' AS created_at
FROM bench_params, generate_series(1, users) AS u
UNION ALL
SELECT 'bench-big', 'bench-big@example.com', 'Bench Big', now() - interval '60 days';

CREATE TABLE bench_seed_tasks AS
WITH owned AS (
    SELECT 'bench-user-' || u AS user_id, n, false AS big, word
    FROM bench_params, generate_series(1, users) AS u, generate_series(1, tasks_per_user) AS n
    UNION ALL
    SELECT 'bench-big', n, true, word
    FROM bench_params, generate_series(1, big_tasks) AS n
), dated AS (
    SELECT *, now() - interval '1 day' - ((n * 7919) % 43200) * interval '1 minute'
                  - (n % 60) * interval '1 second' - (n % 1000) * interval '1 millisecond' AS created
    FROM owned
)
SELECT user_id,
       CASE WHEN big AND n % 20 = 0 THEN
                (ARRAY['Send the ', 'Pay ', 'check ', 'File '])[1 + n / 20 % 4]
                || (ARRAY[word, initcap(word), upper(word)])[1 + n / 80 % 3] || ' #' || n
            ELSE
                (ARRAY['Buy', 'call', 'Email', 'fix', 'Plan', 'review', 'Write', 'book', 'Pay', 'clean'])[1 + n % 10]
                || ' ' || (ARRAY['groceries', 'Report', 'dentist', 'car', 'Slides', 'taxes', 'garden',
                                 'flight', 'Budget', 'kitchen', 'ticket'])[1 + n * 7 % 11] || ' #' || n
       END AS title,
       CASE WHEN n % 3 = 0 THEN NULL ELSE 'Seeded task ' || n || ' for the benchmark' END AS description,
       n % 4 = 1 AS completed,
       created AS created_at,
       created + (n % 5) * interval '1 hour' AS updated_at,
       CASE WHEN n % 4 = 1 THEN created + (n % 5) * interval '1 hour' END AS completed_at,
       h % 4 AS priority,
       rtrim(CASE WHEN (5 + 0 - h / 16 % 5) % 5 < h / 4 % 4 THEN 't0,' ELSE '' END
             || CASE WHEN (5 + 1 - h / 16 % 5) % 5 < h / 4 % 4 THEN 't1,' ELSE '' END
             || CASE WHEN (5 + 2 - h / 16 % 5) % 5 < h / 4 % 4 THEN 't2,' ELSE '' END
             || CASE WHEN (5 + 3 - h / 16 % 5) % 5 < h / 4 % 4 THEN 't3,' ELSE '' END
             || CASE WHEN (5 + 4 - h / 16 % 5) % 5 < h / 4 % 4 THEN 't4,' ELSE '' END, ',') AS tags,
       due_date,
       due_time,
       CAST('UTC' AS TEXT) AS time_zone,
       CASE WHEN due_time IS NOT NULL THEN (due_date + due_time) AT TIME ZONE 'UTC'
            WHEN due_date IS NOT NULL THEN (due_date + 1)::timestamp AT TIME ZONE 'UTC' END AS due_at,
       h,
       n AS seq
FROM (
    SELECT dated.*, h,
           CASE WHEN h / 80 % 10 < 6 THEN (now() AT TIME ZONE 'UTC')::date + ((n * 37) % 60 - 20) END AS due_date,
           CASE WHEN h / 80 % 10 < 6 AND h / 800 % 2 = 0
                THEN time '00:00' + ((n * 53) % 96) * interval '15 minutes' END AS due_time
    FROM dated, LATERAL (SELECT n * 7919 % 10007 AS h) AS scrambled
) AS organized;

-- The case-folded copies the service keeps for sort=title and q
-- (tasks.title_key, tasks.description_key). The titles here are ASCII, so
-- lower() folds them exactly as the service's Unicode lowercase does.
ALTER TABLE bench_seed_tasks ADD COLUMN title_key TEXT;
ALTER TABLE bench_seed_tasks ADD COLUMN description_key TEXT;
UPDATE bench_seed_tasks SET title_key = lower(title), description_key = lower(description);

-- Each user's tags, t0 … t4 as their tasks use them, and which task carries
-- which (bench/run.sh links task_tags from these once ids exist).
CREATE TABLE bench_seed_task_tags AS
SELECT user_id, title_key, 't' || i AS name_key
FROM bench_seed_tasks, generate_series(0, 4) AS i
WHERE (5 + i - h / 16 % 5) % 5 < h / 4 % 4;

CREATE TABLE bench_seed_tags AS
SELECT DISTINCT user_id, name_key AS name, name_key FROM bench_seed_task_tags;
