"""Benchmark: parse one real-scale S0142 file (8,000 BM units, 48 periods, ~1.5 million lines).

Prints, for the full parse and for decompressing the same file alone (the baseline, measured in
the same run): median and range of wall seconds over fresh processes, lines per second, peak RSS,
and their ratio; then warm figures (later parses in one process, as in a backfill chunk).

Each cold figure is one fresh Python process that imports the package, parses a tiny file to warm
up polars, and then times one call; decompress-only and parse processes alternate. Fresh processes
because that is what a Dagster run is, and because on this machine (a Firecracker VM that returns
freed memory to its host) first-touch memory costs ~3-4 ms/MB, so in-loop timings would flatter.

CPU s (user + system, both cores) is printed too: steadier than wall time on a shared VM, so it is
the figure to compare when judging a change to the parser.

Acceptance (issue 2): median cold parse <= 1.5 s and peak RSS <= 1.5 GB.

    python bench/bench_parse.py [--runs 7] [--units 8000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

WORKER = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path
    from p114_assets.core.s0142.parser import parse_bytes, parse_file, read_body
    mode, path, tiny, repeats = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
    parse_file(tiny)  # warm-up: polars thread pool, imports
    raw = path.read_bytes()
    times, cpu = [], []
    def used():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime
    for _ in range(repeats):
        started, cpu_started = time.perf_counter(), used()
        if mode == "decompress":
            read_body(raw, path.name)
            lines = None
        else:
            parsed = parse_bytes(raw, path.name)
            lines = parsed.header.line_count
            del parsed
        times.append(time.perf_counter() - started)
        cpu.append(used() - cpu_started)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": times, "cpu": cpu, "rss_mb": rss, "lines": lines}))
    """
)


def make_file(folder: Path, units: int) -> tuple[Path, Path]:
    """Generate the real-scale file (and a tiny warm-up file) in a subprocess, so the generator's
    memory is gone before anything is timed."""
    script = textwrap.dedent(f"""
        import datetime as dt
        from p114_assets.core.synthetic import SyntheticMarket, generate_file
        big = generate_file(SyntheticMarket.build({units}, seed=0), dt.date(2024, 10, 2), "SF").write({str(folder)!r})
        tiny = generate_file(SyntheticMarket.build(20, seed=0), dt.date(2024, 10, 3), "SF").write({str(folder)!r})
        print(big); print(tiny)
    """)
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout.split()
    return Path(out[0]), Path(out[1])


def worker(mode: str, path: Path, tiny: Path, repeats: int = 1) -> dict:
    out = subprocess.run([sys.executable, "-c", WORKER, mode, str(path), str(tiny), str(repeats)],
                         check=True, capture_output=True, text=True).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per measurement")
    parser.add_argument("--units", type=int, default=8000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="p114-bench-") as tmp:
        started = time.perf_counter()
        path, tiny = make_file(Path(tmp), args.units)
        print(f"file: {path.name}, {path.stat().st_size / 1e6:.1f} MB compressed "
              f"(generated in {time.perf_counter() - started:.0f} s)")  # fmt: skip
        time.sleep(5)  # let the generator's freed memory settle before timing
        parse, decompress = [], []
        for _ in range(args.runs):
            decompress.append(worker("decompress", path, tiny))
            parse.append(worker("parse", path, tiny))
        warm = worker("parse", path, tiny, repeats=5)

    lines = parse[0]["lines"]
    p_sec = [r["seconds"][0] for r in parse]
    d_sec = [r["seconds"][0] for r in decompress]
    p_med, d_med = statistics.median(p_sec), statistics.median(d_sec)
    p_rss = max(r["rss_mb"] for r in parse)
    warm_med = statistics.median(warm["seconds"][1:])
    print(f"lines: {lines:,}  ({args.units:,} BM units, 48 periods)")
    d_cpu = statistics.median(r["cpu"][0] for r in decompress)
    p_cpu = statistics.median(r["cpu"][0] for r in parse)
    warm_cpu = statistics.median(warm["cpu"][1:])
    print(f"{'':24}{'median s':>10}{'min s':>8}{'max s':>8}{'CPU s':>8}{'lines/s':>14}{'peak RSS':>11}")
    print(f"{'decompress alone':24}{d_med:10.3f}{min(d_sec):8.3f}{max(d_sec):8.3f}{d_cpu:8.2f}{lines / d_med:14,.0f}"
          f"{max(r['rss_mb'] for r in decompress):8.0f} MB")  # fmt: skip
    print(f"{'full parse (cold)':24}{p_med:10.3f}{min(p_sec):8.3f}{max(p_sec):8.3f}{p_cpu:8.2f}{lines / p_med:14,.0f}"
          f"{p_rss:8.0f} MB")  # fmt: skip
    print(f"{'full parse (warm)':24}{warm_med:10.3f}{min(warm['seconds'][1:]):8.3f}{max(warm['seconds'][1:]):8.3f}"
          f"{warm_cpu:8.2f}{lines / warm_med:14,.0f}{warm['rss_mb']:8.0f} MB")  # fmt: skip
    print(f"ratio full parse / decompress alone: {p_med / d_med:.1f}x (cold), {warm_med / d_med:.1f}x (warm)")
    ok = p_med <= 1.5 and p_rss <= 1536
    print(f"acceptance (median cold parse <= 1.5 s, peak RSS <= 1.5 GB): {'PASS' if ok else 'FAIL'}  [{dt.date.today()}]")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
