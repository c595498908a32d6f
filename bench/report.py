"""Turns one bench/run.sh run into its table, JSON and SVG chart.

Reads the JSON lines bench/run.sh wrote (one "meta" line, one "scenario" line
per wrk run, one "pgbench" line per pgbench run, one "batch" line for the
batch scenario, one "fanout" line for the fan-out scenario, one "reminders"
line for the reminder scenario; a scenario line with "peer": "pocketbase" is
PocketBase's run of it, which the report compares with the service's), prints
the tables, writes bench/results/<timestamp>-<backend>.json and .svg plus
latest.json and latest.svg, and exits 1 when any request failed, the fan-out
lost, repeated or misrouted an event, or the reminder scenario lost,
repeated, misrouted or garbled a reminder: zero errors is a requirement of
every run, the smoke run included.

Python 3.11 standard library only, so a fresh clone needs nothing installed.
"""

import json
import sys
from html import escape
from pathlib import Path

RATIO_TO_PGBENCH = ("list", "list-heavy", "list-filtered")

# The fan-out's targets (BENCHMARKS.md), judged on full runs only: p99 from
# commit to event at FANOUT_TARGET_RATE writes/s or more, and the service's
# extra memory with FANOUT_TARGET_STREAMS idle streams open.
FANOUT_TARGET_P99_MS = 100
FANOUT_TARGET_RATE = 200
FANOUT_TARGET_STREAMS = 1000
FANOUT_TARGET_EXTRA_MB = 24

# The batch's target: one batch of 50 creates takes at most this share of
# the time of 50 single creates sent one after the other.
BATCH_TARGET_RATIO = 0.1

# The reminder scenario's target (BENCHMARKS.md), judged on full runs of at
# least REMINDERS_TARGET_COUNT reminders over REMINDERS_TARGET_USERS streams:
# p99 from a reminder's time to its event at the client.
REMINDERS_TARGET_P99_MS = 500
REMINDERS_TARGET_COUNT = 10000
REMINDERS_TARGET_USERS = 1000


def load(path):
    meta, scenarios, pgbench, fanout, batch, peers, reminders = {}, [], {}, None, None, [], None
    for line in Path(path).read_text().splitlines():
        record = json.loads(line)
        kind = record.pop("kind")
        if kind == "meta":
            meta.update(record)
        elif kind == "scenario" and record.pop("peer", None) == "pocketbase":
            peers.append(record)
        elif kind == "scenario":
            scenarios.append(record)
        elif kind == "pgbench":
            pgbench[record["scenario"]] = record
        elif kind == "fanout":
            fanout = record
        elif kind == "batch":
            batch = record["batch"]
        elif kind == "reminders":
            reminders = record
    return meta, scenarios, pgbench, fanout, batch, peers, reminders


def ratio(service, peer):
    return round(service / peer, 2) if service is not None and peer else None


def compare(rows, peer_rows):
    """Each PocketBase scenario beside the service's run of the same scenario
    at the same connections: the figures of both, and service ÷ PocketBase
    (above 1 for req/s, below 1 for p99 and CPU, is the service ahead)."""
    service = {}
    for r in rows:
        service.setdefault((r["scenario"], r["connections"]), r)
    out = []
    for p in peer_rows:
        s = service.get((p["scenario"], p["connections"]))
        out.append({
            "scenario": p["scenario"],
            "connections": p["connections"],
            "service_rps": s and s["rps"],
            "pocketbase_rps": p["rps"],
            "rps_ratio": ratio(s and s["rps"], p["rps"]),
            "service_p99_ms": s and s["p99_ms"],
            "pocketbase_p99_ms": p["p99_ms"],
            "p99_ratio": ratio(s and s["p99_ms"], p["p99_ms"]),
            "service_cpu_ms_per_request": s and s["service_cpu_ms_per_request"],
            "pocketbase_cpu_ms_per_request": p["service_cpu_ms_per_request"],
            "cpu_ratio": ratio(s and s["service_cpu_ms_per_request"], p["service_cpu_ms_per_request"]),
            "service_errors": s and s["errors"],
            "pocketbase_errors": p["errors"],
            "machine_busy_pct": max(p["machine_busy_pct"], s["machine_busy_pct"] if s else 0),
        })
    return out


def comparison_table(meta, comparison):
    def num(value, spec):
        return "-" if value is None else format(value, spec)

    threshold = meta["busy_threshold_pct"]
    head = ("scenario", "conns", "req/s", "PB req/s", "÷", "p99 ms", "PB p99 ms", "÷",
            "CPU ms/req", "PB CPU ms/req", "÷", "errors", "PB errors", "note")
    lines = [head]
    for c in comparison:
        lines.append((
            c["scenario"], str(c["connections"]),
            num(c["service_rps"], ".0f"), num(c["pocketbase_rps"], ".0f"), num(c["rps_ratio"], ".2f"),
            num(c["service_p99_ms"], ".1f"), num(c["pocketbase_p99_ms"], ".1f"), num(c["p99_ratio"], ".2f"),
            num(c["service_cpu_ms_per_request"], ".3f"), num(c["pocketbase_cpu_ms_per_request"], ".3f"),
            num(c["cpu_ratio"], ".2f"),
            "-" if c["service_errors"] is None else str(c["service_errors"]),
            str(c["pocketbase_errors"]) if not c["pocketbase_errors"] else f'{c["pocketbase_errors"]} FAILED',
            busy_note(c["machine_busy_pct"], threshold),
        ))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    last = len(head) - 1
    out = []
    for n, line in enumerate(lines):
        cells = [c.ljust(w) if i in (0, last) else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def batch_table(meta, batch):
    """The batch scenario's one row, with its target (judged on full runs)."""
    target = "-" if meta["smoke"] else ("met" if batch["ratio"] <= BATCH_TARGET_RATIO else "missed")
    return "\n".join([
        f'| {batch["size"]} creates ({batch["rounds"]} rounds, median) | one by one | one batch | batch / one by one | target <= {BATCH_TARGET_RATIO} | errors |',
        "| --- | --- | --- | --- | --- | --- |",
        f'| {meta["backend"]} | {batch["singles_ms"]["median"]:.1f} ms | {batch["batch_ms"]["median"]:.1f} ms '
        f'| {batch["ratio"]:.3f} | {target} | {batch["errors"]} |',
    ])


def summarize_fanout(meta, record):
    """The fan-out client's figures, flattened, with its failures and targets."""
    if record is None:
        return None
    f = record["fanout"]
    failures = f["errors"] + f["lost"] + f["duplicates"] + f["misrouted"]
    summary = {
        "streams": f["streams"],
        "opened": f["opened"],
        "rate": f["rate"],
        "achieved_rate": f["achieved_rate"],
        "duration_s": f["duration_s"],
        "writes": f["writes"],
        "delivered": f["delivered"],
        "lost": f["lost"],
        "duplicates": f["duplicates"],
        "misrouted": f["misrouted"],
        "unexpected": f["unexpected"],
        "errors": f["errors"],
        "error_kinds": f["error_kinds"],
        "failures": failures,
        "delivery_p50_ms": f["delivery_ms"]["p50"],
        "delivery_p99_ms": f["delivery_ms"]["p99"],
        "delivery_max_ms": f["delivery_ms"]["max"],
        "from_send_p50_ms": f["delivery_from_send_ms"]["p50"],
        "from_send_p99_ms": f["delivery_from_send_ms"]["p99"],
        "write_p99_ms": f["write_ms"]["p99"],
        "open_s": f["open_s"],
        "rss_before_mb": None if f["rss_kb"]["before"] is None else round(f["rss_kb"]["before"] / 1024, 1),
        "rss_idle_mb": None if f["rss_kb"]["idle"] is None else round(f["rss_kb"]["idle"] / 1024, 1),
        "rss_loaded_mb": None if f["rss_kb"]["loaded"] is None else round(f["rss_kb"]["loaded"] / 1024, 1),
        "extra_rss_mb": f["extra_rss_mb"],
        "extra_rss_kb_per_stream": None if f["rss_kb"]["before"] is None or not f["opened"]
        else round((f["rss_kb"]["idle"] - f["rss_kb"]["before"]) / f["opened"], 1),
        "service_cpu_ms_per_write": f["service_cpu_ms_per_write"],
        "client_cpu_ms": f["client_cpu_ms"],
        "max_connections": record["max_connections"],
        "machine_busy_pct": record["machine_busy_pct"],
        # Shares of all cores while the writes ran: the machine, the service,
        # its database, the client, and the rest ("others").
        "cpu_pct_during_writes": f.get("cpu_pct_during_writes"),
        # Each second of the writes: its deliveries' p99 and max, and what
        # other work took of the machine in it.
        "per_second": f.get("per_second", []),
        # The writes sent in seconds when other work took at most
        # BENCH_BUSY_PCT of the machine: the service's own figure.
        "quiet_seconds": f.get("quiet_seconds"),
        "quiet_p50_ms": f.get("delivery_quiet_ms", {}).get("p50"),
        "quiet_p99_ms": f.get("delivery_quiet_ms", {}).get("p99"),
    }
    during = (summary["cpu_pct_during_writes"] or {}).get("others")
    # Busy before the writes (the same reading as every scenario's) or, from
    # what the machine did besides the benchmark, during them.
    summary["busy_pct"] = max(record["machine_busy_pct"], round(during) if during is not None else 0)
    targets = []
    if not meta["smoke"]:
        p99 = summary["delivery_p99_ms"]
        if f["rate"] >= FANOUT_TARGET_RATE and p99 is not None:
            targets.append((f"p99 delivery ≤ {FANOUT_TARGET_P99_MS} ms at {FANOUT_TARGET_RATE} writes/s",
                            f"{p99:.1f} ms", p99 <= FANOUT_TARGET_P99_MS))
        if f["streams"] >= FANOUT_TARGET_STREAMS and summary["extra_rss_mb"] is not None:
            extra = summary["extra_rss_mb"]
            targets.append((f"≤ {FANOUT_TARGET_EXTRA_MB} MB extra for {FANOUT_TARGET_STREAMS:,} idle streams",
                            f"{extra:.1f} MB", extra <= FANOUT_TARGET_EXTRA_MB))
    targets.append(("zero lost events", str(f["lost"]), f["lost"] == 0))
    targets.append(("zero errors (duplicates and misrouted events included)",
                    str(f["errors"] + f["duplicates"] + f["misrouted"]),
                    f["errors"] + f["duplicates"] + f["misrouted"] == 0))
    summary["targets"] = [{"target": t, "value": v, "met": met} for t, v, met in targets]
    return summary


def summarize_reminders(meta, record):
    """The reminder client's figures, flattened, with its failures and targets."""
    if record is None:
        return None
    r = record["reminders"]
    mb = lambda kb: None if kb is None else round(kb / 1024, 1)
    summary = {
        "users": r["users"],
        "opened": r["opened"],
        "per_user": r["per_user"],
        "offsets": r["offsets"],
        "reminders": r["reminders"],
        "created": r["created"],
        "due_at": r["due_at"],
        "lead_s": r["lead_s"],
        "create_s": r["create_s"],
        "create_batch_p99_ms": r["create_batch_ms"]["p99"],
        "setup_margin_s": r["setup_margin_s"],
        "open_s": r["open_s"],
        "received": r["received"],
        "lost": r["lost"],
        "duplicates": r["duplicates"],
        "misrouted": r["misrouted"],
        "unexpected": r["unexpected"],
        "early": r["early"],
        "wrong_data": r["wrong_data"],
        "late_flagged": r["late_flagged"],
        "feed": r["feed"],
        "errors": r["errors"],
        "error_kinds": r["error_kinds"],
        "failures": r["failures"],
        "lag_min_ms": r["lag_ms"]["min"],
        "lag_p50_ms": r["lag_ms"]["p50"],
        "lag_p90_ms": r["lag_ms"]["p90"],
        "lag_p99_ms": r["lag_ms"]["p99"],
        "lag_max_ms": r["lag_ms"]["max"],
        "first_ms": r["first_ms"],
        "last_ms": r["last_ms"],
        # Reminders received in each second after their time.
        "per_second": r["per_second"],
        # And in each 100 ms over the first 10 s after it.
        "per_100ms": r.get("per_100ms", []),
        "rss_before_mb": mb(r["rss_kb"]["before"]),
        "rss_idle_mb": mb(r["rss_kb"]["idle"]),
        "rss_due_mb": mb(r["rss_kb"]["due"]),
        "rss_after_mb": mb(r["rss_kb"]["after"]),
        "window_s": r["window_s"],
        # Shares of all cores from 100 ms before the reminders' time to the
        # last arrival: the machine, the service, its database, the client, others.
        "cpu_pct": r["cpu_pct"],
        "service_cpu_ms": r["service_cpu_ms"],
        "max_connections": record["max_connections"],
        "machine_busy_pct": record["machine_busy_pct"],
    }
    during = (r["cpu_pct"] or {}).get("others")
    summary["busy_pct"] = max(record["machine_busy_pct"], round(during) if during is not None else 0)
    targets = []
    p99 = summary["lag_p99_ms"]
    if (not meta["smoke"] and p99 is not None and r["reminders"] >= REMINDERS_TARGET_COUNT
            and r["users"] >= REMINDERS_TARGET_USERS):
        targets.append((f"p99 lag ≤ {REMINDERS_TARGET_P99_MS} ms for {REMINDERS_TARGET_COUNT:,} reminders "
                        f"over {REMINDERS_TARGET_USERS:,} streams", f"{p99:.1f} ms", p99 <= REMINDERS_TARGET_P99_MS))
    targets.append(("zero lost reminders", str(r["lost"]), r["lost"] == 0))
    targets.append(("zero errors (repeated, misrouted, early, wrong and unlisted reminders included)",
                    str(r["errors"]), r["errors"] == 0))
    summary["targets"] = [{"target": t, "value": v, "met": met} for t, v, met in targets]
    return summary


def reminders_table(meta, rem):
    def ms(value):
        return "-" if value is None else f"{value:.1f}"

    head = ("reminders", "streams", "received", "p50 ms", "p90 ms", "p99 ms", "max ms", "lost", "repeated",
            "errors", "note")
    line = (
        "time → event", str(rem["opened"]) if rem["opened"] == rem["users"] else f'{rem["opened"]}/{rem["users"]}',
        f'{rem["received"]}/{rem["reminders"]}',
        ms(rem["lag_p50_ms"]), ms(rem["lag_p90_ms"]), ms(rem["lag_p99_ms"]), ms(rem["lag_max_ms"]),
        str(rem["lost"]) if not rem["lost"] else f'{rem["lost"]} LOST',
        str(rem["duplicates"]) if not rem["duplicates"] else f'{rem["duplicates"]} REPEATED',
        str(rem["errors"]) if not rem["errors"] else f'{rem["errors"]} FAILED',
        busy_note(rem["busy_pct"], meta["busy_threshold_pct"]),
    )
    widths = [max(len(a), len(b)) for a, b in zip(head, line)]
    last = len(head) - 1
    cells = lambda row: "  ".join(c.ljust(w) if i in (0, last) else c.rjust(w)
                                  for i, (c, w) in enumerate(zip(row, widths))).rstrip()
    out = [cells(head), "  ".join("-" * w for w in widths), cells(line), ""]
    out.append(f'all due at {rem["due_at"]}: {rem["per_user"]} tasks a user, due 0 to {min(rem["offsets"], rem["per_user"]) - 1} minutes '
               f'later with a reminder as many minutes before; created in {rem["create_s"]} s through '
               f'POST /api/batch (p99 {ms(rem["create_batch_p99_ms"])} ms a batch), '
               f'{rem["setup_margin_s"]} s before the due time')
    if rem["last_ms"] is not None and rem["last_ms"] < 3000 and rem["per_100ms"]:
        spread = f'per 100 ms after it: {rem["per_100ms"]}'
    else:
        spread = f'per second after it: {rem["per_second"]}'
    out.append(f'first arrival {ms(rem["first_ms"])} ms, last {ms(rem["last_ms"])} ms after the due time; {spread}')
    feed = rem["feed"]
    out.append(f'change feeds of {feed["users"]} users: {feed["listed"]} reminders listed, {feed["missing"]} missing, '
               f'{feed["duplicates"]} twice, {feed["unexpected"]} unexpected, {feed["differs"]} differing from the event')
    out.append(f'late-flagged {rem["late_flagged"]}, early {rem["early"]}, misrouted {rem["misrouted"]}, '
               f'unexpected {rem["unexpected"]}, wrong data {rem["wrong_data"]}')
    out.append(f'service RSS: {ms(rem["rss_before_mb"])} MB before the streams, {ms(rem["rss_idle_mb"])} MB with them '
               f'open, {ms(rem["rss_due_mb"])} MB at the due time (tasks created), {ms(rem["rss_after_mb"])} MB after; '
               f'MAX_CONNECTIONS={rem["max_connections"]}')
    cpu = rem["cpu_pct"]
    if cpu:
        parts = [f'service {cpu["service"]}%']
        if cpu["database"] is not None:
            parts.append(f'its database {cpu["database"]}%')
        parts += [f'client {cpu["client"]}%', f'others {cpu["others"]}%']
        out.append(f'machine from 0.1 s before the due time to the last arrival ({rem["window_s"]} s): '
                   f'{cpu["machine"]}% of all cores busy: ' + ", ".join(parts) +
                   f'; service CPU {"-" if rem["service_cpu_ms"] is None else rem["service_cpu_ms"]} ms')
    if rem["error_kinds"]:
        out.append("errors: " + ", ".join(f"{k} {v}" for k, v in sorted(rem["error_kinds"].items())))
    for t in rem["targets"]:
        out.append(f'target: {t["target"]}: {t["value"]}, {"met" if t["met"] else "MISSED"}')
    return "\n".join(out)


def summarize(meta, scenarios, pgbench):
    rows = []
    for s in scenarios:
        wrk = s["wrk"]
        cpu_ms = s["cpu_ticks"] * 1000 / meta["clk_tck"]
        errors = sum(wrk["errors"].values())
        reference = pgbench.get(s["scenario"]) if s["scenario"] in RATIO_TO_PGBENCH else None
        rows.append({
            "scenario": s["scenario"],
            "connections": s["connections"],
            "requests": wrk["requests"],
            "rps": round(wrk["rps"], 1),
            "p50_ms": round(wrk["p50_ms"], 2),
            "p99_ms": round(wrk["p99_ms"], 2),
            "max_ms": round(wrk["max_ms"], 2),
            "errors": errors,
            "error_kinds": wrk["errors"],
            "service_cpu_ms_per_request": round(cpu_ms / wrk["requests"], 4) if wrk["requests"] else None,
            "ratio_to_pgbench": round(wrk["rps"] / reference["tps"], 3) if reference and reference["tps"] else None,
            "machine_busy_pct": s["machine_busy_pct"],
            # The process's peak RSS once the scenario ended (None in runs
            # before it was recorded).
            "peak_rss_mb_after": round(s["peak_rss_kb"] / 1024, 1) if "peak_rss_kb" in s else None,
        })
    return rows


# The load targets (BENCHMARKS.md, "Targets"), judged on full runs only:
# on SQLite against PocketBase in the same run, on PostgreSQL against the
# service's own list and pgbench, on both the peak RSS.
PEER_TARGETS = {"create": 2.0, "update": 2.0, "list": 4.0, "get": 3.0}
PEER_P99_NO_HIGHER = ("create", "update")
POSTGRES_CREATE_TO_LIST = 0.8
POSTGRES_LIST_TO_PGBENCH = 0.6
POSTGRES_LIST_CPU_MS = 0.2
POSTGRES_P99_MS = 25
POSTGRES_P99_SCENARIOS = ("list", "get", "create")
PEAK_RSS_MB = 64


def load_targets(meta, rows, comparison):
    """Each load target this run can judge: (target, value, met)."""
    if meta["smoke"]:
        return []
    by_name = {}
    for r in rows:
        by_name.setdefault(r["scenario"], r)
    targets = []
    for c in comparison:
        name = c["scenario"]
        if name in PEER_TARGETS and c["rps_ratio"] is not None:
            want = PEER_TARGETS[name]
            targets.append((f"SQLite {name} ≥ {want:g} × PocketBase's req/s", f'{c["rps_ratio"]:.2f} ×',
                            c["rps_ratio"] >= want))
        if name in PEER_P99_NO_HIGHER and c["p99_ratio"] is not None:
            targets.append((f"SQLite {name} p99 ≤ PocketBase's",
                            f'{c["service_p99_ms"]:.1f} against {c["pocketbase_p99_ms"]:.1f} ms',
                            c["service_p99_ms"] <= c["pocketbase_p99_ms"]))
    if meta["backend"] == "postgres":
        lst, create = by_name.get("list"), by_name.get("create")
        if lst and create:
            r = create["rps"] / lst["rps"]
            targets.append((f"create ≥ {POSTGRES_CREATE_TO_LIST} × list's req/s", f"{r:.2f} ×",
                            r >= POSTGRES_CREATE_TO_LIST))
        if lst and lst["ratio_to_pgbench"] is not None:
            targets.append((f"list ≥ {POSTGRES_LIST_TO_PGBENCH} × pgbench", f'{lst["ratio_to_pgbench"]:.2f} ×',
                            lst["ratio_to_pgbench"] >= POSTGRES_LIST_TO_PGBENCH))
        if lst and lst["service_cpu_ms_per_request"] is not None:
            targets.append((f"≤ {POSTGRES_LIST_CPU_MS} ms of service CPU per list",
                            f'{lst["service_cpu_ms_per_request"]:.3f} ms',
                            lst["service_cpu_ms_per_request"] <= POSTGRES_LIST_CPU_MS))
        for name in POSTGRES_P99_SCENARIOS:
            r = by_name.get(name)
            if r:
                targets.append((f"{name} p99 ≤ {POSTGRES_P99_MS} ms", f'{r["p99_ms"]:.1f} ms',
                                r["p99_ms"] <= POSTGRES_P99_MS))
    if "peak_rss_kb" in meta:
        mb = meta["peak_rss_kb"] / 1024
        targets.append((f"peak RSS ≤ {PEAK_RSS_MB} MB", f"{mb:.1f} MB", mb <= PEAK_RSS_MB))
    return [{"target": t, "value": v, "met": met} for t, v, met in targets]


def busy_note(pct, threshold):
    return f"machine busy: {pct}%" if pct > threshold else ""


def fanout_table(meta, fan):
    def ms(value):
        return "-" if value is None else f"{value:.1f}"

    head = ("fan-out", "streams", "writes/s", "delivered", "p50 ms", "p99 ms", "max ms",
            "extra RSS MB", "lost", "errors", "note")
    failures = fan["errors"] + fan["duplicates"] + fan["misrouted"]
    line = (
        "commit → event", str(fan["opened"]) if fan["opened"] == fan["streams"] else f'{fan["opened"]}/{fan["streams"]}',
        f'{fan["achieved_rate"]:.0f}', f'{fan["delivered"]}/{fan["writes"]}',
        ms(fan["delivery_p50_ms"]), ms(fan["delivery_p99_ms"]), ms(fan["delivery_max_ms"]),
        ms(fan["extra_rss_mb"]),
        str(fan["lost"]) if not fan["lost"] else f'{fan["lost"]} LOST',
        str(failures) if not failures else f"{failures} FAILED",
        busy_note(fan["busy_pct"], meta["busy_threshold_pct"]),
    )
    widths = [max(len(a), len(b)) for a, b in zip(head, line)]
    cells = lambda row: "  ".join(c.ljust(w) if i in (0, 10) else c.rjust(w)
                                  for i, (c, w) in enumerate(zip(row, widths))).rstrip()
    out = [cells(head), "  ".join("-" * w for w in widths), cells(line), ""]
    out.append(f'from the POST sent: p50 {ms(fan["from_send_p50_ms"])} ms, p99 {ms(fan["from_send_p99_ms"])} ms; '
               f'write p99 {ms(fan["write_p99_ms"])} ms; {fan["open_s"]} s to open the streams')
    out.append(f'service RSS: {ms(fan["rss_before_mb"])} MB before the streams, {ms(fan["rss_idle_mb"])} MB '
               f'with them open and idle ({"-" if fan["extra_rss_kb_per_stream"] is None else fan["extra_rss_kb_per_stream"]} KB a stream), '
               f'{ms(fan["rss_loaded_mb"])} MB after the writes')
    out.append(f'service CPU {fan["service_cpu_ms_per_write"]} ms per write (its event delivery included); '
               f'client CPU {fan["client_cpu_ms"]} ms over the writes; MAX_CONNECTIONS={fan["max_connections"]}')
    cpu = fan["cpu_pct_during_writes"]
    if cpu:
        parts = [f'service {cpu["service"]}%']
        if cpu["database"] is not None:
            parts.append(f'its database {cpu["database"]}%')
        parts += [f'client {cpu["client"]}%', f'others {cpu["others"]}%']
        out.append(f'machine during the writes: {cpu["machine"]}% of all cores busy: ' + ", ".join(parts))
    if fan["quiet_seconds"] is not None and fan["per_second"]:
        out.append(f'in the {fan["quiet_seconds"]} of {len(fan["per_second"])} seconds when others took at most '
                   f'{meta["busy_threshold_pct"]}% of the machine: p50 {ms(fan["quiet_p50_ms"])} ms, '
                   f'p99 {ms(fan["quiet_p99_ms"])} ms')
    slow = [s for s in fan["per_second"] if s["p99_ms"] is not None and s["p99_ms"] > FANOUT_TARGET_P99_MS]
    if slow:
        def mean_others(seconds):
            values = [s["others_pct"] for s in seconds if s["others_pct"] is not None]
            return f"{sum(values) / len(values):.0f}%" if values else "-"
        fast = [s for s in fan["per_second"] if s not in slow and s["p99_ms"] is not None]
        out.append(f'seconds with a delivery p99 over {FANOUT_TARGET_P99_MS} ms: {len(slow)} of '
                   f'{len(slow) + len(fast)} (others took {mean_others(slow)} of the machine in them on '
                   f'average, {mean_others(fast)} in the rest)')
    if fan["error_kinds"]:
        out.append("errors: " + ", ".join(f"{k} {v}" for k, v in sorted(fan["error_kinds"].items())))
    for t in fan["targets"]:
        out.append(f'target: {t["target"]}: {t["value"]}, {"met" if t["met"] else "MISSED"}')
    return "\n".join(out)


def table(meta, rows, pgbench):
    threshold = meta["busy_threshold_pct"]
    head = ("scenario", "conns", "req/s", "p50 ms", "p99 ms", "errors", "CPU ms/req", "÷pgbench", "note")
    lines = [head]
    for r in rows:
        lines.append((
            r["scenario"], str(r["connections"]), f'{r["rps"]:.0f}', f'{r["p50_ms"]:.1f}', f'{r["p99_ms"]:.1f}',
            str(r["errors"]) if not r["errors"] else f'{r["errors"]} FAILED',
            "-" if r["service_cpu_ms_per_request"] is None else f'{r["service_cpu_ms_per_request"]:.3f}',
            "-" if r["ratio_to_pgbench"] is None else f'{r["ratio_to_pgbench"]:.2f}',
            busy_note(r["machine_busy_pct"], threshold),
        ))
    for name, p in pgbench.items():
        lines.append((
            f"pgbench {name}", str(p["connections"]), f'{p["tps"]:.0f}', "-", f'avg {p["latency_avg_ms"]:.1f}',
            str(p["failed"]) if not p["failed"] else f'{p["failed"]} FAILED', "-", "-",
            busy_note(p["machine_busy_pct"], threshold),
        ))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = []
    for n, line in enumerate(lines):
        cells = [c.ljust(w) if i in (0, 8) else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def chart(meta, rows, pgbench, fan, warnings, comparison=(), rem=None):
    """Panels of horizontal bars: throughput (with pgbench for reference) and
    p99 of the wrk scenarios, then the service beside PocketBase (req/s and
    p99, a pair of bars per scenario), then the fan-out's delivery latency
    against its target, with its memory and failures written under it."""
    bars = [(f'{r["scenario"]} @{r["connections"]}', r["rps"], r["p99_ms"]) for r in rows]
    refs = [(f"pgbench {n} @{p['connections']}", p["tps"]) for n, p in pgbench.items()]
    label_w, bar_w, row_h, pad = 170, 420, 22, 30
    rps_rows = bars + [(label, tps, None) for label, tps in refs]
    fan_bars = [] if fan is None else [
        (name, value) for name, value in (("p50", fan["delivery_p50_ms"]), ("p99", fan["delivery_p99_ms"]),
                                          ("max", fan["delivery_max_ms"]),
                                          ("p99, quiet seconds", fan["quiet_p99_ms"])) if value is not None]
    # Service and PocketBase, one bar each per scenario: req/s, then p99.
    peer_rps, peer_p99 = [], []
    for c in comparison:
        for who, rps, p99 in (("service", c["service_rps"], c["service_p99_ms"]),
                              ("PocketBase", c["pocketbase_rps"], c["pocketbase_p99_ms"])):
            if rps is not None:
                peer_rps.append((f'{c["scenario"]} @{c["connections"]} {who}', rps, who))
                peer_p99.append((f'{c["scenario"]} @{c["connections"]} {who}', p99, who))
    top = 50 + 16 * len(warnings)
    p99_top = top + len(rps_rows) * row_h + 60 if rows else top
    peer_top = p99_top + len(bars) * row_h + 60 if rows else top
    peer_p99_top = peer_top + len(peer_rps) * row_h + 60
    fan_top = peer_p99_top + len(peer_p99) * row_h + 60 if peer_rps else peer_top
    end = ((fan_top + len(fan_bars) * row_h + 3 * 16) if fan
           else fan_top - 60 if rows or peer_rps else top)
    rem_bars = [] if rem is None else [
        (name, value) for name, value in (("p50", rem["lag_p50_ms"]), ("p90", rem["lag_p90_ms"]),
                                          ("p99", rem["lag_p99_ms"]), ("max", rem["lag_max_ms"])) if value is not None]
    rem_top = end + 60 if fan or rows or peer_rps else top
    height = (rem_top + len(rem_bars) * row_h + 2 * 16 if rem else end) + pad
    width = label_w + bar_w + 110
    max_rps = max([b[1] for b in rps_rows] + [1])
    max_p99 = max([b[2] for b in bars] + [1])
    runs = []
    if rows:
        runs.append(f'{meta["duration"]} per scenario')
    if fan:
        runs.append(f'fan-out {fan["streams"]:,} streams × {fan["rate"]:g} writes/s × {fan["duration_s"]:g} s')
    if rem:
        runs.append(f'reminders {rem["reminders"]:,} over {rem["users"]:,} streams')
    title = (f'{meta["backend"]}, {meta["profile"]} build, {", ".join(runs)}'
             f'{", smoke" if meta["smoke"] else ""} — {meta["date"]} ({meta["commit"]})')
    width = max(width, 20 + round(7.6 * len(title)))  # room for the title at 14 px bold
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="10" y="20" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    for i, warning in enumerate(warnings):
        svg.append(f'<text x="10" y="{38 + 16 * i}" fill="#b00020">{escape(warning)}</text>')

    def bar(y, label, value, scale, text, colour):
        length = bar_w * value / scale if scale else 0
        svg.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{escape(label)}</text>')
        svg.append(f'<rect x="{label_w}" y="{y + 3}" width="{length:.1f}" height="{row_h - 6}" fill="{colour}"/>')
        svg.append(f'<text x="{label_w + length + 4:.1f}" y="{y + 15}">{escape(text)}</text>')

    if rows:
        svg.append(f'<text x="10" y="{top - 8}" font-weight="bold">'
                   f'throughput (requests/s; pgbench: transactions/s)</text>')
        for i, (label, rps, p99) in enumerate(rps_rows):
            colour = "#4a7ab5" if p99 is not None else "#9a9a9a"
            bar(top + i * row_h, label, rps, max_rps, f"{rps:,.0f}", colour)
        svg.append(f'<text x="10" y="{p99_top - 8}" font-weight="bold">p99 latency (ms)</text>')
        for i, (label, _, p99) in enumerate(bars):
            bar(p99_top + i * row_h, label, p99, max_p99, f"{p99:,.1f}", "#c0673a")
    if peer_rps:
        colours = {"service": "#4a7ab5", "PocketBase": "#8a5ab0"}
        svg.append(f'<text x="10" y="{peer_top - 8}" font-weight="bold">'
                   f'the service and PocketBase {escape(str(meta.get("pocketbase", {}).get("version", "")))}: '
                   f'throughput (requests/s)</text>')
        scale = max(v for _, v, _ in peer_rps) or 1
        for i, (label, value, who) in enumerate(peer_rps):
            bar(peer_top + i * row_h, label, value, scale, f"{value:,.0f}", colours[who])
        svg.append(f'<text x="10" y="{peer_p99_top - 8}" font-weight="bold">'
                   f'the service and PocketBase: p99 latency (ms)</text>')
        scale = max(v for _, v, _ in peer_p99) or 1
        for i, (label, value, who) in enumerate(peer_p99):
            bar(peer_p99_top + i * row_h, label, value, scale, f"{value:,.1f}", colours[who])
    if fan:
        svg.append(f'<text x="10" y="{fan_top - 8}" font-weight="bold">fan-out: commit to event (ms), '
                   f'{fan["opened"]:,} streams, {fan["achieved_rate"]:,.0f} writes/s; '
                   f'dashed: the {FANOUT_TARGET_P99_MS} ms p99 target</text>')
        scale = max([v for _, v in fan_bars] + [FANOUT_TARGET_P99_MS]) * 1.05
        for i, (label, value) in enumerate(fan_bars):
            bar(fan_top + i * row_h, label, value, scale, f"{value:,.1f}", "#5a9a5a")
        x = label_w + bar_w * FANOUT_TARGET_P99_MS / scale
        svg.append(f'<line x1="{x:.1f}" y1="{fan_top}" x2="{x:.1f}" y2="{fan_top + len(fan_bars) * row_h}" '
                   f'stroke="#b00020" stroke-dasharray="4 3"/>')
        y = fan_top + len(fan_bars) * row_h + 16
        extra = "-" if fan["extra_rss_mb"] is None else f'{fan["extra_rss_mb"]:.1f} MB'
        failed = fan["failures"]
        for i, text in enumerate((
            f'service RSS +{extra} with the streams open and idle '
            f'(target ≤ {FANOUT_TARGET_EXTRA_MB} MB for {FANOUT_TARGET_STREAMS:,})',
            f'{fan["delivered"]:,} of {fan["writes"]:,} writes delivered; lost {fan["lost"]}, errors {fan["errors"]}, '
            f'duplicates {fan["duplicates"]}, misrouted {fan["misrouted"]}',
        )):
            colour = "#b00020" if i == 1 and failed else "black"
            svg.append(f'<text x="10" y="{y + 16 * i}" fill="{colour}">{escape(text)}</text>')
    if rem:
        svg.append(f'<text x="10" y="{rem_top - 8}" font-weight="bold">reminders: due time to event (ms), '
                   f'{rem["reminders"]:,} due at once, {rem["opened"]:,} streams; '
                   f'dashed: the {REMINDERS_TARGET_P99_MS} ms p99 target</text>')
        scale = max([v for _, v in rem_bars] + [REMINDERS_TARGET_P99_MS]) * 1.05
        for i, (label, value) in enumerate(rem_bars):
            bar(rem_top + i * row_h, label, value, scale, f"{value:,.1f}", "#b5894a")
        x = label_w + bar_w * REMINDERS_TARGET_P99_MS / scale
        svg.append(f'<line x1="{x:.1f}" y1="{rem_top}" x2="{x:.1f}" y2="{rem_top + len(rem_bars) * row_h}" '
                   f'stroke="#b00020" stroke-dasharray="4 3"/>')
        y = rem_top + len(rem_bars) * row_h + 16
        text = (f'{rem["received"]:,} of {rem["reminders"]:,} received; lost {rem["lost"]}, '
                f'repeated {rem["duplicates"]}, misrouted {rem["misrouted"]}, errors {rem["errors"]}')
        colour = "#b00020" if rem["failures"] else "black"
        svg.append(f'<text x="10" y="{y}" fill="{colour}">{escape(text)}</text>')
    svg.append("</svg>")
    return "\n".join(svg) + "\n"


def main():
    source, results_dir = sys.argv[1], Path(sys.argv[2])
    meta, scenarios, pgbench, fanout, batch, peers, reminders = load(source)
    rows = summarize(meta, scenarios, pgbench)
    peer_rows = summarize(meta, peers, {})
    comparison = compare(rows, peer_rows)
    fan = summarize_fanout(meta, fanout)
    rem = summarize_reminders(meta, reminders)
    threshold = meta["busy_threshold_pct"]
    busy = [meta["machine_busy_start_pct"]] + [r["machine_busy_pct"] for r in rows + peer_rows]
    if fan:
        busy.append(fan["busy_pct"])
    if rem:
        busy.append(rem["busy_pct"])
    warnings = []
    if max(busy) > threshold:
        warnings.append(f"machine busy: {max(busy)}% of all cores used by others (over {threshold}%): "
                        f"not the service's own figures")
    errors = sum(r["errors"] for r in rows) + sum(p["failed"] for p in pgbench.values())
    if errors:
        warnings.append(f"{errors} requests failed: every scenario must run without errors")
    peer_errors = sum(r["errors"] for r in peer_rows)
    if peer_errors:
        warnings.append(f"PocketBase: {peer_errors} requests failed: its scenarios must run without errors too")
        errors += peer_errors
    if batch and batch["errors"]:
        warnings.append(f'batch: {batch["errors"]} errors: every create must be stored once')
        errors += batch["errors"]
    if fan and fan["failures"]:
        warnings.append(f'fan-out: {fan["lost"]} lost, {fan["duplicates"]} duplicated, {fan["misrouted"]} misrouted '
                        f'events and {fan["errors"]} errors: every write must reach its stream exactly once')
        errors += fan["failures"]
    if rem and rem["failures"]:
        warnings.append(f'reminders: {rem["lost"]} lost, {rem["duplicates"]} repeated, {rem["misrouted"]} misrouted '
                        f'and {rem["errors"]} errors in all: every reminder must reach its stream exactly once')
        errors += rem["failures"]

    if rows:
        print()
        print(table(meta, rows, pgbench))
    if comparison:
        pb = meta.get("pocketbase", {})
        print()
        print(f'the service beside PocketBase {pb.get("version", "")} (PB), the same scenarios, connections and duration')
        print(comparison_table(meta, comparison))
        if pb:
            seed = pb.get("seed", {})
            print(f'PocketBase {pb.get("version")}: peak RSS {pb["peak_rss_kb"] / 1024:.1f} MB; '
                  f'{seed.get("users")} users × {seed.get("tasks_per_user")} tasks created through its API '
                  f'in {seed.get("seed_s")} s')
        print("÷: the service's figure divided by PocketBase's (req/s above 1, p99 and CPU below 1: the service ahead)")
    targets = load_targets(meta, rows, comparison)
    if targets:
        print()
        print(f"targets ({meta['backend']}):")
        for t in targets:
            print(f'target: {t["target"]}: {t["value"]}, {"met" if t["met"] else "MISSED"}')
    if batch:
        print()
        print(batch_table(meta, batch))
    if fan:
        print()
        print(fanout_table(meta, fan))
    if rem:
        print()
        print(reminders_table(meta, rem))
    print()
    print(f'time to ready: {meta["ready_ms"]} ms (process start to /health/ready 200, migrated database)')
    if "peak_rss_kb" in meta:
        print(f'peak RSS: {meta["peak_rss_kb"] / 1024:.1f} MB (VmHWM at the end of the wrk scenarios)')
    print(f'machine busy before the run: {meta["machine_busy_start_pct"]}% of {meta["cores"]} cores')
    for warning in warnings:
        print(f"\n!!! {warning.upper() if warning.startswith('machine') else warning}")

    report = {"meta": meta, "scenarios": rows, "pgbench": list(pgbench.values()), "targets": targets, "fanout": fan,
              "batch": batch, "reminders": rem, "warnings": warnings}
    if peer_rows:
        # PocketBase's own rows (its CPU under service_cpu_ms_per_request),
        # and each beside the service's.
        report["pocketbase"] = {"scenarios": peer_rows, "comparison": comparison}
    results_dir.mkdir(parents=True, exist_ok=True)
    stem = f'{meta["timestamp"]}-{meta["backend"]}{"-smoke" if meta["smoke"] else ""}'
    text = json.dumps(report, indent=2) + "\n"
    svg = chart(meta, rows, pgbench, fan, warnings, comparison, rem)
    for name, content in ((f"{stem}.json", text), ("latest.json", text), (f"{stem}.svg", svg), ("latest.svg", svg)):
        (results_dir / name).write_text(content)
    print(f"\nwrote {results_dir / (stem + '.json')} and .svg (also latest.json, latest.svg)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
