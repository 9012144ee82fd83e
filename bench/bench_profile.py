"""Benchmark: `p114 profile` on one real-scale S0142 file, against parsing the same file.

Prints, for the profile and for the full parse (the baseline, measured in the same run), the
median and range of wall seconds and the median CPU seconds (user + system) over fresh processes,
peak RSS, and the ratio profile / parse. Fresh processes alternate (parse, profile, parse, ...),
each importing the package and warming polars on a tiny file before one timed call, as in
bench_parse.py; CPU seconds are the steadier figure on a shared machine.

Acceptance (issue 9): the profile of a real-scale file takes at most 3x the parse time.

    python bench/bench_profile.py [--runs 5] [--units 8000]
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

from bench_parse import make_file  # the same calibrated real-scale file and warm-up file

WORKER = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path
    from p114_assets.core.s0142.parser import parse_bytes, parse_file
    from p114_assets.core.s0142.profile import profile_bytes, profile_file
    mode, path, tiny = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    parse_file(tiny); profile_file(tiny)  # warm-up: polars thread pool, imports
    raw = path.read_bytes()
    def used():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime
    started, cpu_started = time.perf_counter(), used()
    result = parse_bytes(raw, path.name) if mode == "parse" else profile_bytes(raw, path.name)
    seconds, cpu = time.perf_counter() - started, used() - cpu_started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = result.header.line_count if mode == "parse" else result["lines"]
    print(json.dumps({"seconds": seconds, "cpu": cpu, "rss_mb": rss, "lines": lines}))
    """
)


def worker(mode: str, path: Path, tiny: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", WORKER, mode, str(path), str(tiny)], check=True, capture_output=True,
                         text=True).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per measurement")
    parser.add_argument("--units", type=int, default=8000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="p114-bench-") as tmp:
        path, tiny = make_file(Path(tmp), args.units)
        print(f"file: {path.name}, {path.stat().st_size / 1e6:.1f} MB compressed")
        time.sleep(3)  # let the generator's freed memory settle before timing
        runs: dict[str, list[dict]] = {"parse": [], "profile": []}
        for _ in range(args.runs):
            for mode in runs:
                runs[mode].append(worker(mode, path, tiny))

    print(f"lines: {runs['parse'][0]['lines']:,}  ({args.units:,} BM units, 48 periods)")
    print(f"{'':22}{'median s':>10}{'min s':>8}{'max s':>8}{'CPU s':>8}{'peak RSS':>11}")
    medians = {}
    for mode, label in (("parse", "parse (baseline)"), ("profile", "profile")):
        seconds = [r["seconds"] for r in runs[mode]]
        cpu = statistics.median(r["cpu"] for r in runs[mode])
        medians[mode] = (statistics.median(seconds), cpu)
        print(f"{label:22}{medians[mode][0]:10.3f}{min(seconds):8.3f}{max(seconds):8.3f}{cpu:8.2f}"
              f"{max(r['rss_mb'] for r in runs[mode]):8.0f} MB")  # fmt: skip
    wall = medians["profile"][0] / medians["parse"][0]
    cpu = medians["profile"][1] / medians["parse"][1]
    print(f"ratio profile / parse: {wall:.2f}x wall, {cpu:.2f}x CPU")
    ok = wall <= 3.0
    print(f"acceptance (profile <= 3x parse, median wall): {'PASS' if ok else 'FAIL'}  [{dt.date.today()}]")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
