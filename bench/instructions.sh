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
# idle and once per scenario (`list`: GET /api/tasks?limit=50, `get`,
# `create`), REQUESTS requests each (default 200), and prints the
# instructions per request: (scenario run - idle run) / REQUESTS.
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

# Migrate and seed, outside callgrind.
"$binary" >/dev/null 2>&1 &
pid=$!
wait_ready
for n in $(seq 200); do
    curl -sf -o /dev/null -X POST "$base/api/tasks" -H "$auth" \
        -H 'Content-Type: application/json' -d "{\"title\": \"Task $n\", \"description\": \"seeded\"}"
done
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
printf '%-8s %14s\n' scenario "instr/request"
for scenario in list get create; do
    total=$(instructions "$scenario")
    printf '%-8s %14d\n' "$scenario" $(((total - idle) / requests))
done
