#!/usr/bin/env python3
"""Prints each figure of a `make bench` run beside the one recorded in tests/bench/recorded.md.

usage: report.py RESULTS.jsonl [--smoke] [--record]

The recorded figures are the table between `<!-- bench:figures -->` and
`<!-- /bench:figures -->` in tests/bench/recorded.md; `--record` replaces it with this run's and
draws tests/bench/pending-logins.png (RSS per pending login and p99 against N, for ours
and the two baselines). `--smoke` (the test command) only prints.
"""
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "tests" / "bench" / "recorded.md"
PLOT = ROOT / "tests" / "bench" / "pending-logins.png"
BLOCK = re.compile(r"(<!-- bench:figures -->\n)(.*?)(<!-- /bench:figures -->)", re.S)


def figures(steps):
    """(name, value, unit) for every figure in a run, in the order they were measured."""
    out = []
    for step, r in steps:
        if step.startswith(("scanlogin pending=", "gorilla-go", "node-ws", "scanlogin jpeg", "two instances")):
            out.append((f"{step}: RSS per pending login", r["rss_kib_per_pending_login"], "KiB"))
            out.append((f"{step}: push p99", r["push_latency_ms"]["p99"], "ms"))
            out.append((f"{step}: server CPU per login", r["server_cpu_ms_per_login"], "ms"))
        elif step.startswith("scanlogin throughput"):
            out.append((f"{step}: logins completed per second", r["logins_per_second"], "/s"))
            out.append((f"{step}: push p99", r["push_latency_ms"]["p99"], "ms"))
            out.append((f"{step}: server CPU", r["server_cpu_cores"], "cores"))
        elif step == "scanlogin wrong client secrets":
            out.append((f"{step}: server memory rise", r["server_rss_mib_rise"], "MiB"))
            out.append((f"{step}: all answered in", r["seconds"], "s"))
            out.append((f"{step}: a login beside them", r["login_beside_ms"], "ms"))
        elif step.startswith("scanlogin forward auth"):
            out.append((f"{step}: verifications per second", r["verifications_per_second"], "/s"))
            out.append((f"{step}: p99", r["latency_ms"]["p99"], "ms"))
            out.append((f"{step}: server CPU per verification", r["server_cpu_ms_per_verification"], "ms"))
        elif step == "scanlogin /login pages":
            out.append((f"{step}: pages per second", r["pages_per_second"], "/s"))
        elif step == "wasm":
            out.append(("release WASM, gzipped", r["gzip_bytes"] / 1000, "KB"))
        elif step == "QR image visible":
            out.append(("QR image visible after navigation, median", r["median_ms"], "ms"))
    return out


def recorded():
    match = BLOCK.search(BENCHMARKS.read_text())
    table = {}
    for line in (match.group(2) if match else "").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[1] and cells[1][0].isdigit():
            table[cells[0]] = cells[1]
    return table


def table(rows):
    lines = ["| figure | value |", "|---|---|"]
    lines += [f"| {name} | {value:.2f} {unit} |" for name, value, unit in rows]
    return "\n".join(lines) + "\n"


def plot(steps):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {}
    for step, r in steps:
        m = re.fullmatch(r"(scanlogin|gorilla-go|node-ws) pending=(\d+)", step)
        if m:
            series.setdefault(m.group(1), []).append(
                (int(m.group(2)), r["rss_kib_per_pending_login"], r["push_latency_ms"]["p99"])
            )
    labels = {"scanlogin": "scanlogin (whole login)", "gorilla-go": "the original design, Go + gorilla (bare socket)",
              "node-ws": "Node ws (bare socket)"}
    fig, (rss, p99) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, points in series.items():
        points.sort()
        n = [p[0] for p in points]
        rss.plot(n, [p[1] for p in points], marker="o", label=labels[name])
        p99.plot(n, [p[2] for p in points], marker="o", label=labels[name])
    rss.set(title="server RSS per pending login", xlabel="pending logins", ylabel="KiB")
    p99.set(title="push p99 at 200/s beside them", xlabel="pending logins", ylabel="ms")
    for ax in (rss, p99):
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    rss.legend()
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)


def main():
    args = sys.argv[1:]
    steps = [(j["step"], j["result"]) for j in map(json.loads, Path(args[0]).read_text().splitlines())]
    rows = figures(steps)
    last = recorded()
    width = max(len(r[0]) for r in rows)
    print(f"\n{'figure':<{width}}  {'now':>14}  last recorded (tests/bench/recorded.md)")
    for name, value, unit in rows:
        print(f"{name:<{width}}  {value:>10.2f} {unit:<5} {last.get(name, '-')}")
    if "--smoke" in args:
        return
    if "--record" in args:
        text = BENCHMARKS.read_text()
        BENCHMARKS.write_text(BLOCK.sub(lambda m: m.group(1) + table(rows) + m.group(3), text))
        plot(steps)
        print(f"\nrecorded in {BENCHMARKS.relative_to(ROOT)}; plot in {PLOT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
