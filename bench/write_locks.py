#!/usr/bin/env python3
"""How long write transactions hold SQLite's write lock under the heaviest
housekeeping: the release build on a SQLite file seeded with 2,000,000
expired tombstones, 300,000 expired idempotency keys and a 200,000-task
account, which is erased (DELETE /api/me) while the sweeper purges the rest
and another user keeps creating tasks.

Prints, per kind of write transaction, the service's own histogram
(`db_write_transaction_seconds`): how many, how many held the lock 50 ms or
less, and the bucket holding the slowest; then the other user's create
latencies meanwhile. Standard library only.

    bench/write_locks.py            # the figures of BENCHMARKS.md
    bench/write_locks.py --small    # a tenth of each, for a quick look
"""

import argparse
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "api")
SECRET = "write-locks-benchmark-secret-0123456789"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def token(sub):
    out = subprocess.run(
        [BINARY, "token", "--sub", sub],
        env={**os.environ, "BETTER_AUTH_SECRET": SECRET},
        capture_output=True, text=True, check=True,
    )
    return out.stdout.strip().splitlines()[-1]


class Service:
    def __init__(self, database):
        self.port, self.metrics = free_port(), free_port()
        env = {
            "PATH": os.environ["PATH"],
            "DATABASE_URL": f"sqlite://{database}?mode=rwc",
            "BETTER_AUTH_SECRET": SECRET,
            "PORT": str(self.port),
            "METRICS_ADDR": f"127.0.0.1:{self.metrics}",
            "RUST_LOG": "warn",
        }
        self.process = subprocess.Popen([BINARY], env=env)
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health/live")
                return
            except OSError:
                time.sleep(0.1)
        sys.exit("the service did not start")

    def call(self, method, path, sub, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
            headers={"Authorization": f"Bearer {TOKENS[sub]}",
                     "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()

    def histogram(self):
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics}/metrics").read().decode()
        kinds = {}
        for line in text.splitlines():
            if not line.startswith("db_write_transaction_seconds_bucket{"):
                continue
            labels, value = line.rsplit(" ", 1)
            kind = labels.split('kind="')[1].split('"')[0]
            le = labels.split('le="')[1].split('"')[0]
            kinds.setdefault(kind, []).append((float("inf") if le == "+Inf" else float(le), int(float(value))))
        return kinds

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


TOKENS = {}


def seed(database, scale):
    db = sqlite3.connect(database)
    now = datetime.now(timezone.utc)
    old = lambda days: (now - timedelta(days=days)).isoformat(timespec="microseconds")
    tombstones, keys, tasks = 2_000_000 // scale, 300_000 // scale, 200_000 // scale
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO task_tombstones (id, user_id, change_seq, deleted_at) VALUES (?, 'tombs', ?, ?)",
        ((10_000_000 + n, n + 10, old(40)) for n in range(tombstones)),
    )
    db.executemany(
        "INSERT INTO idempotency_keys (user_id, key, request, response, created_at) VALUES ('keys', ?, '{}', '{}', ?)",
        ((f"key-{n}", old(2)) for n in range(keys)),
    )
    row = db.execute(
        "SELECT title, description, completed, created_at, updated_at, version, title_key, description_key, change_seq FROM tasks WHERE user_id = 'big'"
    ).fetchone()
    db.executemany(
        "INSERT INTO tasks (user_id, title, description, completed, created_at, updated_at, version, title_key, description_key, change_seq) VALUES ('big', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (row for _ in range(tasks)),
    )
    db.execute("UPDATE users SET change_seq = ? WHERE id = 'tombs'", (tombstones + 100,))
    db.execute("COMMIT")
    db.close()
    return tombstones, keys, tasks


def count(database, sql):
    db = sqlite3.connect(database)
    try:
        return db.execute(sql).fetchone()[0]
    finally:
        db.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a tenth of each load")
    args = parser.parse_args()
    if not os.path.exists(BINARY):
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "api"], cwd=ROOT, check=True)
    for sub in ("tombs", "keys", "big", "other"):
        TOKENS[sub] = token(sub)
    with tempfile.TemporaryDirectory() as scratch:
        database = os.path.join(scratch, "todo.db")
        service = Service(database)
        for sub in ("tombs", "keys", "big", "other"):
            service.call("POST", "/api/tasks", sub, {"title": "seed", "description": "d" * 200})
        service.stop()
        tombstones, keys, tasks = seed(database, 10 if args.small else 1)
        print(f"seeded {tombstones:,} expired tombstones, {keys:,} expired idempotency keys, "
              f"a {tasks:,}-task account")

        service = Service(database)  # the sweeper starts at once
        latencies, stop = [], threading.Event()

        def other_user():
            n = 0
            while not stop.is_set():
                started = time.perf_counter()
                service.call("POST", "/api/tasks", "other", {"title": f"meanwhile {n}"})
                latencies.append(time.perf_counter() - started)
                n += 1
                if n % 100 == 0:
                    service.call("DELETE", "/api/me", "other")

        writer = threading.Thread(target=other_user)
        writer.start()
        started = time.perf_counter()
        status, _ = service.call("DELETE", "/api/me", "big")
        erased = time.perf_counter() - started
        while (count(database, "SELECT COUNT(*) FROM task_tombstones WHERE user_id = 'tombs'")
               or count(database, "SELECT COUNT(*) FROM idempotency_keys WHERE user_id = 'keys'")):
            time.sleep(0.5)
        swept = time.perf_counter() - started
        stop.set()
        writer.join()
        histogram = service.histogram()
        service.stop()

    print(f"erasure answered {status} after {erased:.1f} s; the sweep ended after {swept:.1f} s\n")
    print("| write transaction | count | held the lock ≤ 50 ms | slowest within |")
    print("| --- | --- | --- | --- |")
    for kind, buckets in sorted(histogram.items()):
        buckets.sort()
        total = buckets[-1][1]
        within = next((n for le, n in buckets if le >= 0.05), total)
        slowest = next(le for le, n in buckets if n == total)
        print(f"| {kind} | {total:,} | {within:,} ({100 * within / max(total, 1):.1f}%) | {slowest * 1000:g} ms |")
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
    print(f"\nanother user's creates meanwhile: {len(latencies):,}, "
          f"p50 {pick(0.5):.1f} ms, p99 {pick(0.99):.1f} ms, max {latencies[-1] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
