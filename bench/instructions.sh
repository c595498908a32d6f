#!/usr/bin/env bash
# Instructions the service executes per request, counted by valgrind's
# callgrind: unlike timings, the count repeats on a busy machine, so it can
# compare two builds (say, before and after a change) fairly.
#
#   bench/instructions.sh BINARY [REQUESTS]
#
# Starts BINARY (an `api` release build) on a fresh PostgreSQL database from
# BENCH_DATABASE_URL / TEST_DATABASE_URL (default: the local server), seeds
# 200 tasks for one user through the API, then runs it under callgrind once
# idle and once per scenario (`list`: GET /api/tasks?limit=50,
# `list-filtered`: GET /api/tasks?tag=t1&priority=high,medium&sort=due_at&order=asc&limit=50,
# `get`, `create`), REQUESTS requests each (default 200), and prints the
# instructions per request: (scenario run - idle run) / REQUESTS.
#
# The seeded tasks are organized as bench/seed/postgres.sql organizes the load
# benchmark's: a priority each, 0 to 3 of the tags t0 … t4, a due date on 60%
# (half of those at a time of day). A BINARY built before tasks had these
# fields gets the same tasks without them (same titles, descriptions and ids,
# so `list` answers the same tasks) and no `list-filtered` run.
set -euo pipefail
cd "$(dirname "$0")/.."

binary=$(realpath "${1:?usage: bench/instructions.sh BINARY [REQUESTS]}")
requests=${2:-200}
server=${BENCH_DATABASE_URL:-${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}}
database=todo_bench_instructions
port=${BENCH_PORT:-18090}
scratch=$(mktemp -d)
pid=

stop() {
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        pid=
    fi
}
cleanup() {
    stop
    psql "$server" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$scratch"
}
trap cleanup EXIT

export PGOPTIONS="--client-min-messages=warning"
psql "$server" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" -c "CREATE DATABASE $database"
export DATABASE_URL="${server%/*}/$database?sslmode=disable"
export BETTER_AUTH_SECRET=bench-instructions-secret-0123456789 HOST=127.0.0.1 PORT=$port
base=http://127.0.0.1:$port

wait_ready() {
    for _ in $(seq 600); do
        curl -sf -o /dev/null "$base/health/ready" && return 0
        sleep 0.1
    done
    echo "the service did not become ready" >&2
    exit 1
}

token=$("$binary" token --sub bench-user --minutes 60)
auth="Authorization: Bearer $token"

# Task N's organized fields, as JSON members after its title and description
# (the formulas of bench/seed/postgres.sql, with h = N * 7919 % 10007).
organized() {
    local n=$1 h=$(($1 * 7919 % 10007)) fields tags='' i
    local priorities=(none low medium high)
    fields=", \"priority\": \"${priorities[h % 4]}\""
    for i in 0 1 2 3 4; do
        if (((5 + i - h / 16 % 5) % 5 < h / 4 % 4)); then tags+="${tags:+, }\"t$i\""; fi
    done
    fields+=", \"tags\": [$tags]"
    if ((h / 80 % 10 < 6)); then
        fields+=", \"due_date\": \"$(date -u -d "$((n * 37 % 60 - 20)) days" +%F)\""
        if ((h / 800 % 2 == 0)); then
            local minutes=$((n * 53 % 96 * 15))
            fields+=", \"due_time\": \"$(printf '%02d:%02d' $((minutes / 60)) $((minutes % 60)))\""
        fi
    fi
    echo "$fields"
}

# Migrate and seed, outside callgrind. The first task tells whether BINARY
# knows the organized fields (it answers a priority) or ignores them.
"$binary" >/dev/null 2>&1 &
pid=$!
wait_ready
organizes=false
for n in $(seq 200); do
    body="{\"title\": \"Task $n\", \"description\": \"seeded\""
    if ((n == 1)) || $organizes; then body+=$(organized "$n"); fi
    answer=$(curl -sf -X POST "$base/api/tasks" -H "$auth" -H 'Content-Type: application/json' -d "$body}")
    if ((n == 1)) && [[ $answer == *'"priority":'* ]]; then organizes=true; fi
done
$organizes || echo "$binary predates priorities, tags and due dates: seeded without them, no list-filtered run" >&2
stop

# Instructions of one callgrind run of the service: started, SCENARIO sent
# REQUESTS times (or nothing for `idle`), stopped.
instructions() {
    local scenario=$1 out="$scratch/callgrind.$1"
    valgrind --tool=callgrind --callgrind-out-file="$out" "$binary" >/dev/null 2>&1 &
    pid=$!
    wait_ready
    local n
    case $scenario in
    idle) ;;
    list) for n in $(seq "$requests"); do curl -sf -o /dev/null -H "$auth" "$base/api/tasks?limit=50"; done ;;
    list-filtered) for n in $(seq "$requests"); do
        curl -sf -o /dev/null -H "$auth" "$base/api/tasks?tag=t1&priority=high,medium&sort=due_at&order=asc&limit=50"
    done ;;
    get) for n in $(seq "$requests"); do curl -sf -o /dev/null -H "$auth" "$base/api/tasks/$((n % 200 + 1))"; done ;;
    create) for n in $(seq "$requests"); do
        curl -sf -o /dev/null -X POST "$base/api/tasks" -H "$auth" \
            -H 'Content-Type: application/json' -d '{"title": "created", "description": "bench"}'
    done ;;
    esac
    stop
    awk '/^(summary|totals):/ { print $2; exit }' "$out"
}

idle=$(instructions idle)
printf '%-13s %14s\n' scenario "instr/request"
for scenario in list list-filtered get create; do
    if [[ $scenario == list-filtered ]] && ! $organizes; then
        printf '%-13s %14s\n' "$scenario" -
        continue
    fi
    total=$(instructions "$scenario")
    printf '%-13s %14d\n' "$scenario" $(((total - idle) / requests))
done
