#!/usr/bin/env bash
# Builds PgBouncer from Debian trixie's source package (1.24) under target/, for
# the tests of the service behind a transaction-mode pooler that keeps
# prepared statements (`max_prepared_statements`, PgBouncer 1.21+); Debian
# 12's own pgbouncer is 1.18. Prints the binary's path. Cached: a second run
# only prints it.
set -euo pipefail
cd "$(dirname "$0")/.."

prefix="$PWD/target/pgbouncer-trixie"
binary="$prefix/bin/pgbouncer"
if [ -x "$binary" ]; then
    echo "$binary"
    exit 0
fi

build_deps=(gcc make pkg-config libevent-dev libssl-dev)
if ! dpkg -s "${build_deps[@]}" >/dev/null 2>&1; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${build_deps[@]}" >&2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A private apt state that knows trixie's sources, so the system's own
# sources stay untouched.
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/src"
echo "deb-src http://deb.debian.org/debian trixie main" >"$work/sources.list"
apt_private=(
    -o "Dir::Etc::SourceList=$work/sources.list"
    -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$work/lists"
    -o "Dir::Cache=$work/cache"
)
apt-get "${apt_private[@]}" update -qq >&2
(cd "$work/src" && apt-get "${apt_private[@]}" source --download-only -qq pgbouncer >&2)
tar -xzf "$work"/src/pgbouncer_*.orig.tar.gz -C "$work/src"
(
    cd "$work"/src/pgbouncer-*/
    ./configure --prefix="$prefix" --without-cares >"$work/configure.log" 2>&1 ||
        { cat "$work/configure.log" >&2; exit 1; }
    make -j"$(nproc)" >"$work/make.log" 2>&1 || { tail -50 "$work/make.log" >&2; exit 1; }
    make install >>"$work/make.log" 2>&1
)
"$binary" --version >&2
echo "$binary"
