"""Turns one bench/run.sh run into its table, JSON and SVG chart.

Reads the JSON lines bench/run.sh wrote (one "meta" line, one "scenario" line
per wrk run, one "pgbench" line per pgbench run), prints the table, writes
bench/results/<timestamp>-<backend>.json and .svg plus latest.json and
latest.svg, and exits 1 when any request failed: zero errors is a requirement
of every run, the smoke run included.

Python 3.11 standard library only, so a fresh clone needs nothing installed.
"""

import json
import sys
from html import escape
from pathlib import Path

RATIO_TO_PGBENCH = ("list", "list-heavy")


def load(path):
    meta, scenarios, pgbench = {}, [], {}
    for line in Path(path).read_text().splitlines():
        record = json.loads(line)
        kind = record.pop("kind")
        if kind == "meta":
            meta.update(record)
        elif kind == "scenario":
            scenarios.append(record)
        elif kind == "pgbench":
            pgbench[record["scenario"]] = record
    return meta, scenarios, pgbench


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
        })
    return rows


def busy_note(pct, threshold):
    return f"machine busy: {pct}%" if pct > threshold else ""


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


def chart(meta, rows, pgbench, warnings):
    """Two panels of horizontal bars: throughput (with pgbench for reference) and p99."""
    bars = [(f'{r["scenario"]} @{r["connections"]}', r["rps"], r["p99_ms"]) for r in rows]
    refs = [(f"pgbench {n} @{p['connections']}", p["tps"]) for n, p in pgbench.items()]
    label_w, bar_w, row_h, pad = 170, 420, 22, 30
    rps_rows = bars + [(label, tps, None) for label, tps in refs]
    top = 50 + 16 * len(warnings)
    rps_h = len(rps_rows) * row_h
    p99_top = top + rps_h + 60
    height = p99_top + len(bars) * row_h + pad
    width = label_w + bar_w + 110
    max_rps = max([b[1] for b in rps_rows] + [1])
    max_p99 = max([b[2] for b in bars] + [1])
    title = (f'{meta["backend"]}, {meta["profile"]} build, {meta["duration"]} per scenario'
             f'{", smoke" if meta["smoke"] else ""} — {meta["date"]} ({meta["commit"]})')
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="10" y="20" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    for i, warning in enumerate(warnings):
        svg.append(f'<text x="10" y="{38 + 16 * i}" fill="#b00020">{escape(warning)}</text>')
    svg += [
        f'<text x="10" y="{top - 8}" font-weight="bold">throughput (requests/s; pgbench: transactions/s)</text>',
    ]

    def bar(y, label, value, scale, text, colour):
        length = bar_w * value / scale if scale else 0
        svg.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{escape(label)}</text>')
        svg.append(f'<rect x="{label_w}" y="{y + 3}" width="{length:.1f}" height="{row_h - 6}" fill="{colour}"/>')
        svg.append(f'<text x="{label_w + length + 4:.1f}" y="{y + 15}">{escape(text)}</text>')

    for i, (label, rps, p99) in enumerate(rps_rows):
        colour = "#4a7ab5" if p99 is not None else "#9a9a9a"
        bar(top + i * row_h, label, rps, max_rps, f"{rps:,.0f}", colour)
    svg.append(f'<text x="10" y="{p99_top - 8}" font-weight="bold">p99 latency (ms)</text>')
    for i, (label, _, p99) in enumerate(bars):
        bar(p99_top + i * row_h, label, p99, max_p99, f"{p99:,.1f}", "#c0673a")
    svg.append("</svg>")
    return "\n".join(svg) + "\n"


def main():
    source, results_dir = sys.argv[1], Path(sys.argv[2])
    meta, scenarios, pgbench = load(source)
    rows = summarize(meta, scenarios, pgbench)
    threshold = meta["busy_threshold_pct"]
    busy = [meta["machine_busy_start_pct"]] + [r["machine_busy_pct"] for r in rows]
    warnings = []
    if max(busy) > threshold:
        warnings.append(f"machine busy: {max(busy)}% of all cores used by others (over {threshold}%): "
                        f"not the service's own figures")
    errors = sum(r["errors"] for r in rows) + sum(p["failed"] for p in pgbench.values())
    if errors:
        warnings.append(f"{errors} requests failed: every scenario must run without errors")

    print()
    print(table(meta, rows, pgbench))
    print()
    print(f'time to ready: {meta["ready_ms"]} ms (process start to /health/ready 200, migrated database)')
    print(f'peak RSS: {meta["peak_rss_kb"] / 1024:.1f} MB (VmHWM at the end of the run)')
    print(f'machine busy before the run: {meta["machine_busy_start_pct"]}% of {meta["cores"]} cores')
    for warning in warnings:
        print(f"\n!!! {warning.upper() if warning.startswith('machine') else warning}")

    report = {"meta": meta, "scenarios": rows, "pgbench": list(pgbench.values()), "warnings": warnings}
    results_dir.mkdir(parents=True, exist_ok=True)
    stem = f'{meta["timestamp"]}-{meta["backend"]}{"-smoke" if meta["smoke"] else ""}'
    text = json.dumps(report, indent=2) + "\n"
    svg = chart(meta, rows, pgbench, warnings)
    for name, content in ((f"{stem}.json", text), ("latest.json", text), (f"{stem}.svg", svg), ("latest.svg", svg)):
        (results_dir / name).write_text(content)
    print(f"\nwrote {results_dir / (stem + '.json')} and .svg (also latest.json, latest.svg)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
