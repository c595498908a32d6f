-- The benchmark's data set on PostgreSQL, written into two staging tables
-- (bench_seed_users, bench_seed_tasks) that bench/run.sh copies into `users`
-- and `tasks`, column by column, for every column both sides have. Columns the
-- service's schema gains later with a default need nothing here; a NOT NULL
-- column without one must be added to both this file and seed/sqlite.sql (the
-- script stops and names it otherwise).
--
-- Reads its sizes from bench_params(users, tasks_per_user, big_tasks, word),
-- which bench/run.sh creates first. Users are bench-user-1 … bench-user-N and
-- bench-big; every 20th of bench-big's titles holds `word` (5%), in one of
-- three spellings; nothing else does.

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
       n AS seq
FROM dated;

-- The case-folded copies the service keeps for sort=title and q
-- (tasks.title_key, tasks.description_key). The titles here are ASCII, so
-- lower() folds them exactly as the service's Unicode lowercase does.
ALTER TABLE bench_seed_tasks ADD COLUMN title_key TEXT;
ALTER TABLE bench_seed_tasks ADD COLUMN description_key TEXT;
UPDATE bench_seed_tasks SET title_key = lower(title), description_key = lower(description);
