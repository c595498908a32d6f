#!/usr/bin/env bash
# Load benchmark: throughput and latency of the main routes, and the
# service's peak memory, against a release build on this machine.
#
#   bench/run.sh                      # a temporary SQLite file
#   bench/run.sh postgres://…/bench   # an existing, empty PostgreSQL database
#
# Needs wrk (apt-get install wrk). Request logging is off (RUST_LOG=warn) so
# the numbers are the service's, not the terminal's.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v wrk >/dev/null || { echo "bench/run.sh needs wrk (apt-get install wrk)" >&2; exit 1; }
duration=${BENCH_DURATION:-10s}
connections=${BENCH_CONNECTIONS:-32}
port=${BENCH_PORT:-18080}
scratch=$(mktemp -d)

cargo build --release -q -p api
export BETTER_AUTH_SECRET=bench-secret RUST_LOG=warn HOST=127.0.0.1 PORT=$port
export DATABASE_URL=${1:-sqlite://$scratch/bench.db}
target/release/api &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$scratch"' EXIT
base=http://127.0.0.1:$port
for _ in $(seq 50); do curl -sf "$base/health/live" >/dev/null && break; sleep 0.1; done

token=$(target/release/api token --sub bench-user --minutes 30)
auth="Authorization: Bearer $token"
echo "seeding 1000 tasks…"
seq 1000 | xargs -P 8 -I{} curl -sf -o /dev/null -X POST "$base/api/tasks" \
    -H "$auth" -H 'Content-Type: application/json' -d '{"title": "task {}", "description": "seeded"}'

run() {
    local name=$1; shift
    printf '\n== %s\n' "$name"
    wrk -t2 -c"$connections" -d"$duration" --latency -H "$auth" "$@" | grep -E 'Requests/sec|Latency|50%|99%|Non-2xx|Socket errors'
}
run "GET /api/tasks?limit=20 (newest first, 1000 tasks)" "$base/api/tasks?limit=20"
run "GET /api/tasks?status=pending&sort=title&limit=50" "$base/api/tasks?status=pending&sort=title&limit=50"
run "GET /api/tasks?q=task 99 (text search)" "$base/api/tasks?q=task%2099"
run "GET /api/tasks/{id}" "$base/api/tasks/500"
run "POST /api/tasks" -s bench/create_task.lua "$base/api/tasks"

printf '\n== memory\n'
grep -E 'VmHWM|VmRSS' "/proc/$pid/status"
