-- The benchmark's data set on SQLite: the same rows as seed/postgres.sql (read
-- that file's header), in SQLite's dialect. Times are written the way the
-- service writes them (RFC 3339 with +00:00), so they sort with its own rows;
-- due dates as YYYY-MM-DD and times of day as HH:MM:SS, as it writes those.

CREATE TABLE bench_seed_users AS
WITH RECURSIVE seq(n) AS (
    SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < (SELECT users FROM bench_params)
)
SELECT 'bench-user-' || n AS id,
       'bench-user-' || n || '@example.com' AS email,
       'Bench User ' || n AS name,
       strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now', '-60 days') AS created_at
FROM seq
UNION ALL
SELECT 'bench-big', 'bench-big@example.com', 'Bench Big',
       strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now', '-60 days');

CREATE TABLE bench_seed_tasks AS
WITH RECURSIVE seq(n) AS (
    SELECT 1 UNION ALL SELECT n + 1 FROM seq
    WHERE n < (SELECT max(users, tasks_per_user, big_tasks) FROM bench_params)
), owned AS (
    SELECT 'bench-user-' || u.n AS user_id, t.n AS n, 0 AS big, word
    FROM bench_params, seq AS u, seq AS t
    WHERE u.n <= users AND t.n <= tasks_per_user
    UNION ALL
    SELECT 'bench-big', n, 1, word FROM bench_params, seq WHERE n <= big_tasks
), dated AS (
    SELECT *, julianday('now', '-1 day')
              - ((n * 7919) % 43200) / 1440.0 - (n % 60) / 86400.0 - (n % 1000) / 86400000.0 AS created,
           n * 7919 % 10007 AS h
    FROM owned
), organized AS (
    SELECT *,
           CASE WHEN h / 80 % 10 < 6 THEN date('now', ((n * 37) % 60 - 20) || ' days') END AS due_date,
           CASE WHEN h / 80 % 10 < 6 AND h / 800 % 2 = 0
                THEN time('00:00', '+' || ((n * 53) % 96 * 15) || ' minutes') END AS due_time
    FROM dated
)
SELECT user_id,
       CASE WHEN big AND n % 20 = 0 THEN
                json_extract('["Send the ", "Pay ", "check ", "File "]', '$[' || (n / 20 % 4) || ']')
                || CASE n / 80 % 3 WHEN 0 THEN word
                                   WHEN 1 THEN upper(substr(word, 1, 1)) || substr(word, 2)
                                   ELSE upper(word) END
                || ' #' || n
            ELSE
                json_extract('["Buy", "call", "Email", "fix", "Plan", "review", "Write", "book", "Pay", "clean"]',
                             '$[' || (n % 10) || ']')
                || ' ' || json_extract('["groceries", "Report", "dentist", "car", "Slides", "taxes", "garden",
                                         "flight", "Budget", "kitchen", "ticket"]', '$[' || (n * 7 % 11) || ']')
                || ' #' || n
       END AS title,
       CASE WHEN n % 3 = 0 THEN NULL ELSE 'Seeded task ' || n || ' for the benchmark' END AS description,
       n % 4 = 1 AS completed,
       strftime('%Y-%m-%dT%H:%M:%f+00:00', created) AS created_at,
       strftime('%Y-%m-%dT%H:%M:%f+00:00', created + (n % 5) / 24.0) AS updated_at,
       CASE WHEN n % 4 = 1 THEN strftime('%Y-%m-%dT%H:%M:%f+00:00', created + (n % 5) / 24.0) END AS completed_at,
       h % 4 AS priority,
       rtrim(CASE WHEN (5 + 0 - h / 16 % 5) % 5 < h / 4 % 4 THEN 't0,' ELSE '' END
             || CASE WHEN (5 + 1 - h / 16 % 5) % 5 < h / 4 % 4 THEN 't1,' ELSE '' END
             || CASE WHEN (5 + 2 - h / 16 % 5) % 5 < h / 4 % 4 THEN 't2,' ELSE '' END
             || CASE WHEN (5 + 3 - h / 16 % 5) % 5 < h / 4 % 4 THEN 't3,' ELSE '' END
             || CASE WHEN (5 + 4 - h / 16 % 5) % 5 < h / 4 % 4 THEN 't4,' ELSE '' END, ',') AS tags,
       due_date,
       due_time,
       'UTC' AS time_zone,
       CASE WHEN due_time IS NOT NULL THEN strftime('%Y-%m-%dT%H:%M:%S+00:00', due_date || ' ' || due_time)
            WHEN due_date IS NOT NULL THEN strftime('%Y-%m-%dT%H:%M:%S+00:00', due_date, '+1 day') END AS due_at,
       h,
       n AS seq
FROM organized;

-- The case-folded copies the service keeps for sort=title and q
-- (tasks.title_key, tasks.description_key). The titles here are ASCII, so
-- lower() folds them exactly as the service's Unicode lowercase does.
ALTER TABLE bench_seed_tasks ADD COLUMN title_key TEXT;
ALTER TABLE bench_seed_tasks ADD COLUMN description_key TEXT;
UPDATE bench_seed_tasks SET title_key = lower(title), description_key = lower(description);

-- Each user's tags, t0 … t4 as their tasks use them, and which task carries
-- which (bench/run.sh links task_tags from these once ids exist).
CREATE TABLE bench_seed_task_tags AS
WITH tag(i) AS (VALUES (0), (1), (2), (3), (4))
SELECT user_id, title_key, 't' || i AS name_key
FROM bench_seed_tasks, tag
WHERE (5 + i - h / 16 % 5) % 5 < h / 4 % 4;

CREATE TABLE bench_seed_tags AS
SELECT DISTINCT user_id, name_key AS name, name_key FROM bench_seed_task_tags;
