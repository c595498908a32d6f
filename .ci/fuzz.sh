#!/usr/bin/env bash
# Fuzzes the live service with Schemathesis: the debug binary on a fresh
# PostgreSQL database, every operation of openapi.json with a valid token,
# the examples, coverage, fuzzing and stateful phases. Fails on any 5xx and on
# any response whose status, headers, media type or body the document does
# not allow, and on schema-valid requests refused or invalid ones accepted.
#
# Needs TEST_DATABASE_URL (a PostgreSQL server it may create a database on),
# python3 and curl. FUZZ_SEED=N replays a run; the seed is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

version=4.32.5
min_cases=1000
venv="target/schemathesis-$version"
if [ ! -x "$venv/bin/st" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi

cargo build --quiet -p api
target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
binary="$target_dir/debug/api"

server="${TEST_DATABASE_URL:?set TEST_DATABASE_URL to a PostgreSQL server}"
database=todo_ci_fuzz
export PGOPTIONS="--client-min-messages=warning"
psql "$server" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" -c "CREATE DATABASE $database"

scratch=$(mktemp -d)
service=
cleanup() {
    local status=$?
    if [ -n "$service" ]; then
        kill "$service" 2>/dev/null || true
        wait "$service" 2>/dev/null || true
    fi
    psql "$server" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" || true
    rm -rf "$scratch"
    exit "$status"
}
trap cleanup EXIT

# The service runs in an empty directory, so no local .env takes part.
export DATABASE_URL="${server%/*}/$database"
export BETTER_AUTH_SECRET="fuzz-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
export PORT=0 NO_COLOR=1 RUST_LOG=warn,api::startup=info
(cd "$scratch" && exec "$binary") >"$scratch/service.log" 2>&1 &
service=$!
base=
for _ in $(seq 60); do
    base=$(grep -o 'listening on http://[0-9.:]*' "$scratch/service.log" | head -1 | cut -d' ' -f3 || true)
    [ -n "$base" ] && curl -fsS -o /dev/null "$base/health/ready" && break
    kill -0 "$service" 2>/dev/null || { cat "$scratch/service.log"; exit 1; }
    base=
    sleep 0.5
done
[ -n "$base" ] || { echo "the service did not become ready"; cat "$scratch/service.log"; exit 1; }
token=$(cd "$scratch" && "$binary" token --sub fuzz-user --minutes 30)

# Within five minutes, or the run fails. The event stream is left out: a
# stream never ends, so no response of it could be checked (the Rust tests
# cover it, api/tests/api/live.rs).
status=0
timeout 300 "$venv/bin/st" --config-file .ci/schemathesis.toml run "$base/openapi.json" \
    --header "Authorization: Bearer $token" \
    --exclude-operation-id streamTaskEvents \
    --phases examples,coverage,fuzzing,stateful \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection,positive_data_acceptance,missing_required_header,unsupported_method,allow_header_conformance,use_after_free,ensure_resource_availability,ignored_auth \
    --max-examples 300 \
    --report junit --report-dir target/schemathesis-report \
    --no-color ${FUZZ_SEED:+--seed "$FUZZ_SEED"} | tee "$scratch/st.out" || status=$?
if [ "$status" -eq 124 ]; then
    echo "schemathesis took longer than 5 minutes"
fi
if [ "$status" -ne 0 ]; then
    echo "--- service log (warnings and errors) ---"
    cat "$scratch/service.log"
    exit "$status"
fi
cases=$(grep -oE '[0-9]+ generated' "$scratch/st.out" | grep -oE '[0-9]+' || echo 0)
if [ "$cases" -lt "$min_cases" ]; then
    echo "only $cases test cases ran; at least $min_cases are required"
    exit 1
fi
