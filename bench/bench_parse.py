"""Benchmark: parse one real-scale S0142 file (8,000 BM units, 48 periods, ~1.5 million lines).

Prints, for the full parse and for ISA-L decompressing the same file alone (the baseline, measured
in the same run): median and range of wall seconds over fresh processes, CPU seconds, lines per
second, peak RSS, and their ratio; then warm figures (later parses in one process, as in a backfill
chunk), and the machine's load average before and after (the machine may be shared: compare CPU
seconds and ratios measured in one run).

Each cold figure is one fresh Python process that imports the package, parses a tiny file to warm
up the thread pools, and then times one call; decompress-only and parse processes alternate. Fresh
processes because that is what a Dagster run is, and because on this machine (a Firecracker VM
that returns freed memory to its host) first-touch memory is slow, so in-loop timings would flatter.

The file is generated on first use and cached under bench/.cache/parse (delete it to regenerate).

`--phases` adds a profile of one parse by phase (CPU seconds, all threads); `--decimals` parses
with every float column that has a printed precision typed decimal128(18, that precision), to
price a move of the money and volume columns to decimals.

Acceptance (issue 14): median cold parse <= 2.5 x decompress alone, peak RSS <= 1 GB.

    python bench/bench_parse.py [--runs 7] [--units 8000] [--phases] [--decimals]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

WORKER = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path
    mode, path, tiny, repeats = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
    if mode == "decimals":  # every float column with a printed precision as decimal128(18, precision)
        import pyarrow as pa
        from p114_assets.core.s0142 import layout, parser, tables
        scale = {f.column: f.decimals for lay in layout.LAYOUTS.values() for f in lay.fields() if f.decimals}
        plain = tables.TableSpec.arrow_schema
        def arrow_schema(self):
            return pa.schema([pa.field(f.name, pa.decimal128(18, scale[f.name]), f.nullable)
                              if f.name in scale and pa.types.is_floating(f.type) else f for f in plain(self)])
        tables.TableSpec.arrow_schema = arrow_schema
        parser._READERS = {rid: parser._reader(rid) for rid in parser._LOADED}
    from isal import isal_zlib
    from p114_assets.core.s0142.parser import parse_bytes, parse_file
    parse_file(tiny)  # warm-up: thread pools, imports
    raw = path.read_bytes()
    times, cpu = [], []
    def used():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime
    for _ in range(repeats):
        started, cpu_started = time.perf_counter(), used()
        if mode == "decompress":  # ISA-L alone, into one buffer, as read_body does
            isal_zlib.decompress(raw, 31)
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

PHASES = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path
    from p114_assets.core.s0142 import lines, nesting, parser, records, scan
    def used():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime
    phases, stack = {}, []
    def timed(owner, name, label):  # CPU time of a phase, less the phases it calls
        inner = getattr(owner, name)
        def wrapper(*args, **kwargs):
            stack.append(0.0)
            started = used()
            try:
                return inner(*args, **kwargs)
            finally:
                spent = used() - started
                children = stack.pop()
                if stack:
                    stack[-1] += spent
                phases[label] = phases.get(label, 0.0) + spent - children
        setattr(owner, name, wrapper)
    timed(lines.Lines, "index", "line index: newlines, record ids (native)")
    timed(scan, "tally", "line checks: caps, blanks, ZZZ, ids (native)")
    timed(lines.Lines, "first_invalid_utf8", "UTF-8 check (numpy)")
    timed(lines.Lines, "checksum", "IDD checksum (native)")
    timed(scan.Scan, "_take", "rows of each loaded record type (numpy)")
    timed(parser, "read_lines", "Arrow arrays from the native columns")
    timed(records, "_split_natively", "split and convert fields (native, _fields.c)")
    timed(records, "_check_values", "value checks (blank keys, non-finite, caps)")
    timed(records, "read_records", "pyarrow CSV reads (lines outside the plain form)")
    timed(parser, "_tables", "nesting, BPI/BP7 join, twin check")
    timed(parser, "_with_file_columns", "table assembly")
    timed(parser, "read_body", "decompress (ISA-L, one thread)")
    scan.READ_IN_THREAD = parser.JOIN_IN_THREAD = False  # inline: CPU over all threads is then charged to one phase at a time
    path, tiny = Path(sys.argv[1]), Path(sys.argv[2])
    parser.parse_file(tiny)
    phases.clear()  # the warm-up's first calls (kernel set-up) are not the file's
    raw = path.read_bytes()
    # decompressed first, then parsed as plain text, so that no phase is charged the inflating
    # thread's CPU (in a real parse that thread runs alongside the scan on the other core)
    started, cpu_started = time.perf_counter(), used()
    parser.parse_bytes(parser.read_body(raw, path.name), path.name)
    wall, cpu = time.perf_counter() - started, used() - cpu_started
    print(json.dumps({"wall": wall, "cpu": cpu, "phases": phases}))
    """
)


CACHE = Path(__file__).parent / ".cache" / "parse"


def make_file(units: int) -> tuple[Path, Path]:
    """The real-scale file (and a tiny warm-up file), generated on first use in a subprocess (so the
    generator's memory is gone before anything is timed) and cached under bench/.cache/parse."""
    folder = CACHE / f"units{units}"
    found = sorted(folder.glob("S0142_*.gz"))
    if len(found) == 2:
        return found[0], found[1]  # the big one's date is the earlier
    folder.mkdir(parents=True, exist_ok=True)
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


def row(label: str, runs: list[dict], lines: int, first: int = 0) -> tuple[float, float]:
    sec = [s for r in runs for s in r["seconds"][first:]]
    cpu = [c for r in runs for c in r["cpu"][first:]]
    med = statistics.median(sec)
    rss = max(r["rss_mb"] for r in runs)
    print(f"{label:28}{med:10.3f}{min(sec):8.3f}{max(sec):8.3f}{statistics.median(cpu):8.2f}{lines / med:14,.0f}{rss:8.0f} MB")
    return med, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per measurement")
    parser.add_argument("--units", type=int, default=8000)
    parser.add_argument("--file", type=Path, help="parse this file instead of generating one")
    parser.add_argument("--phases", action="store_true", help="also profile one parse by phase")
    parser.add_argument("--decimals", action="store_true", help="also parse with decimal128 money and volume columns")
    args = parser.parse_args()

    started = time.perf_counter()
    path, tiny = make_file(args.units if not args.file else 20)
    if args.file:
        path = args.file
    print(f"file: {path.name}, {path.stat().st_size / 1e6:.1f} MB compressed "
          f"(ready in {time.perf_counter() - started:.0f} s; cached in {CACHE})")  # fmt: skip
    time.sleep(2)  # let a generator's freed memory settle before timing
    load_before = os.getloadavg()
    parse, decompress, decimals = [], [], []
    for _ in range(args.runs):
        decompress.append(worker("decompress", path, tiny))
        parse.append(worker("parse", path, tiny))
        if args.decimals:
            decimals.append(worker("decimals", path, tiny))
    warm = worker("parse", path, tiny, repeats=5)
    phases = None
    if args.phases:
        out = subprocess.run([sys.executable, "-c", PHASES, str(path), str(tiny)], check=True, capture_output=True, text=True)
        phases = json.loads(out.stdout.strip().splitlines()[-1])
    load_after = os.getloadavg()

    lines = parse[0]["lines"]
    print(f"lines: {lines:,}  ({args.units:,} BM units, 48 periods)")
    print(f"{'':28}{'median s':>10}{'min s':>8}{'max s':>8}{'CPU s':>8}{'lines/s':>14}{'peak RSS':>11}")
    d_med, _ = row("decompress alone (ISA-L)", decompress, lines)
    p_med, p_rss = row("full parse (cold)", parse, lines)
    w_med, _ = row("full parse (warm)", [warm], lines, first=1)
    if decimals:
        x_med, _ = row("parse with decimal128", decimals, lines)
        print(f"decimal128 columns cost {x_med / p_med - 1:+.0%} wall against float64 (median cold)")
    ratio = p_med / d_med
    print(f"ratio full parse / decompress alone: {ratio:.2f}x (cold), {w_med / d_med:.2f}x (warm)")
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.1f}' for x in load_before)} before, "
          f"{' '.join(f'{x:.1f}' for x in load_after)} after, on {os.cpu_count()} cores")  # fmt: skip
    if phases:
        print(f"phases of one parse (CPU s over all threads, decompressed first then parsed as plain text): "
              f"{phases['wall']:.3f} s wall, {phases['cpu']:.2f} CPU s")  # fmt: skip
        for label, seconds in sorted(phases["phases"].items(), key=lambda item: -item[1]):
            print(f"  {label:44}{seconds:8.3f}")
        print(f"  {'everything else (header, trailer, glue)':44}{phases['cpu'] - sum(phases['phases'].values()):8.3f}")
    ok = ratio <= 2.5 and p_rss <= 1024
    print(f"acceptance (median cold parse <= 2.5 x decompress alone, peak RSS <= 1 GB): {'PASS' if ok else 'FAIL'}"
          f"  [{dt.date.today()}]")  # fmt: skip
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
