"""Benchmark: peak RSS and CPU of one raw run (a chunk of 7 partitions), each in a fresh process.

A raw run of the UI-path backfill (s0142_file: validate and land; raw_tables: parse the next file
while the previous one is checked and written, one DuckDB writer) is run in-process by Dagster over
`--chunk` real-scale dates (the cached files of bench_backfill, generated if missing), into a copy
of a warehouse that already holds the chunk before (as every run of a backfill but the first
finds it). Every trial is a fresh Python process; its resident set is sampled every 20 ms and its
peak read from the kernel's high-water mark (VmHWM).

Variants given with `--variant NAME=VAR=VALUE` set an environment variable of the child process
(e.g. `--variant decay10s=_RJEM_MALLOC_CONF=dirty_decay_ms:10000`); P114_BENCH_PYTHON names the
variant's interpreter instead, so another checkout's venv runs that checkout's code (`--variant
main=P114_BENCH_PYTHON=../main/.venv/bin/python`). Variants run alternately with the baseline (this
checkout, as the project starts it), trial by trial, so all see the same machine load; the figures
are per trial and the medians. `--timeline FILE` keeps the samples with the times each phase
(checks, write, parse, trim) starts and ends, to see which one makes the peak.

    python bench/bench_rawrun.py [--chunk 7] [--trials 3] [--variant NAME=VAR=VALUE ...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", message=r".*is currently in (beta|preview).*")

HERE = Path(__file__).resolve().parent
# the environment this process started with: a child starts from it, not from whatever importing a
# checkout's code may have set here, so a variant (another checkout) runs with its own settings
STARTED_WITH = dict(os.environ)
CACHE = HERE / ".cache" / "backfill" / "SF-8000u"
SAMPLE_SECONDS = 0.02
INSTANCE_VARIABLE = "P114_BENCH_INSTANCE"  # the run's instance (see _instance)
PHASES_VARIABLE = "P114_BENCH_PHASES"  # the child marks phases (for --timeline)
PYTHON_VARIABLE = "P114_BENCH_PYTHON"  # a variant's interpreter: another checkout's venv, to compare commits


def _rss_bytes(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _files(count: int) -> list[Path]:
    """The first `count` cached real-scale files (dates from 2024-07-01), generated if missing."""
    found = sorted(CACHE.glob("S0142_*.gz"))
    if len(found) < count:
        import datetime as dt

        from p114_assets.core.synthetic import SyntheticMarket, generate_files

        start = dt.date(2024, 7, 1)
        generate_files(start, start + dt.timedelta(days=count - 1), ["SF"], CACHE, market=SyntheticMarket.build(8000, seed=0))
        found = sorted(CACHE.glob("S0142_*.gz"))
    return found[:count]


@contextlib.contextmanager
def _instance(work: Path):
    """The run's Dagster instance, by P114_BENCH_INSTANCE: `project` (default: a DAGSTER_HOME with
    the project's dagster.yaml, the event log storage a UI-path run writes to), `test` (Dagster's
    test instance: its own SQLite event log) or `memory` (what `p114 materialize` uses)."""
    import dagster as dg

    kind = os.environ.get(INSTANCE_VARIABLE, "project")
    if kind == "memory":
        with dg.DagsterInstance.ephemeral() as instance:
            yield instance
    elif kind == "test":
        with dg.instance_for_test() as instance:
            yield instance
    else:
        from p114_assets.app.event_log import instance_at

        home = work / "dagster_home"
        home.mkdir(exist_ok=True)
        shutil.copy(HERE.parent / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
        with instance_at(home) as instance:
            yield instance


def _materialize(folder: Path, landing: Path, warehouse_path: Path, files: list[Path]) -> None:
    """One raw run over the dates of `files` (one range run, as the backfill launches it)."""
    import dagster as dg

    from p114_assets.app.runner import folder_resources
    from p114_assets.defs.partitions import partition_key
    from p114_assets.definitions import ASSET_CHECKS, ASSETS
    from p114_assets.defs.settlement.assets import RAW_KEYS
    from p114_assets.warehouse.duckdb import DuckDBWarehouse
    import datetime as dt

    for path in folder.glob("*"):
        path.unlink()
    for path in files:
        (folder / path.name).symlink_to(path)
    keys = [str(partition_key(dt.datetime.strptime(p.name.split("_")[1], "%Y%m%d").date(), "SF")) for p in files]
    resources = folder_resources(folder, DuckDBWarehouse(path=str(warehouse_path)), landing)
    tags = {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}
    with _instance(warehouse_path.parent) as instance:
        result = dg.materialize([*ASSETS, *ASSET_CHECKS], selection=RAW_KEYS, resources=resources, instance=instance, tags=tags,
                                run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}})  # fmt: skip
    assert result.success


def _mark_phases() -> list[tuple[float, str]]:
    """Diagnostics (--timeline): when the checks, the write, each parse and each trim (malloc_trim
    and Arrow's release) start and end."""
    from p114_assets.core import partition_checks
    from p114_assets.defs.settlement import assets
    from p114_assets.warehouse import checked_load, duckdb

    marks: list[tuple[float, str]] = []

    def wrap(owner, name: str, label: str) -> None:
        inner = getattr(owner, name)

        def marked(*a, **k):
            marks.append((time.perf_counter(), label + "+"))
            try:
                return inner(*a, **k)
            finally:
                marks.append((time.perf_counter(), label + "-"))

        setattr(owner, name, marked)

    wrap(partition_checks, "partition_outcomes", "checks")
    wrap(duckdb.DuckDBWarehouse, "replace_partition", "write")
    wrap(assets, "parse_file", "parse")
    wrap(duckdb, "_return_freed_memory", "trim")
    return marks


def child(work: Path, files: list[Path]) -> None:
    """One trial: the measured raw run; prints its figures as one JSON line."""
    samples: list[tuple[float, int]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append((time.perf_counter(), _rss_bytes()))
            time.sleep(SAMPLE_SECONDS)

    marks = _mark_phases() if os.environ.get(PHASES_VARIABLE) else []
    sampler = threading.Thread(target=sample, daemon=True)
    started, cpu = time.perf_counter(), os.times()
    sampler.start()
    _materialize(work / "incoming", work / "landing", work / "p114.duckdb", files)
    stop.set()
    sampler.join()
    used = os.times()
    import resource

    print(json.dumps({"peak_rss": _rss_bytes("VmHWM"), "page_faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt, "end_rss": _rss_bytes(), "wall": time.perf_counter() - started,
                      "cpu": (used.user - cpu.user) + (used.system - cpu.system), "partitions": len(files),
                      "samples": [(round(t - started, 3), r) for t, r in samples],
                      "marks": [(round(t - started, 3), what) for t, what in marks]}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunk", type=int, default=7, help="partitions in the measured raw run")
    parser.add_argument("--trials", type=int, default=3, help="fresh processes per variant")
    parser.add_argument("--variant", action="append", default=[], help="NAME=VAR=VALUE: a child environment variable")
    parser.add_argument("--timeline", help="write every trial's RSS samples and phase marks (JSON) here")
    parser.add_argument("--child", nargs=2, metavar=("WORK", "FILES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), [Path(p) for p in args.child[1].split(",")])
        return

    variants: dict[str, dict[str, str]] = {"baseline": {}}
    for given in args.variant:
        name, variable, value = given.split("=", 2)
        variants.setdefault(name, {})[variable] = value
    files = _files(2 * args.chunk)
    before, measured = files[: args.chunk], files[args.chunk :]
    results: dict[str, list[dict]] = {name: [] for name in variants}
    phases = {PHASES_VARIABLE: "1"} if args.timeline else {}
    with tempfile.TemporaryDirectory(prefix="p114-rawrun-") as tmp:
        seed = Path(tmp) / "seed"
        for sub in ("incoming", "landing"):
            (seed / sub).mkdir(parents=True)
        _materialize(seed / "incoming", seed / "landing", seed / "p114.duckdb", before)  # the chunk before, once
        for trial in range(args.trials):
            for name, env in variants.items():
                work = Path(tmp) / f"{name}-{trial}"
                (work / "incoming").mkdir(parents=True)
                shutil.copytree(seed / "landing", work / "landing")
                shutil.copy(seed / "p114.duckdb", work / "p114.duckdb")
                child_env = {**STARTED_WITH, **env, **phases}
                python = child_env.pop(PYTHON_VARIABLE, sys.executable)
                done = subprocess.run([python, __file__, "--child", str(work), ",".join(map(str, measured))],
                                      env=child_env, capture_output=True, text=True, check=False)  # fmt: skip
                if done.returncode:
                    sys.exit(f"{name}, trial {trial + 1} failed:\n{done.stderr[-3000:]}")
                figures = json.loads(done.stdout.strip().splitlines()[-1])
                results[name].append(figures)
                print(f"{name:>12} trial {trial + 1}: peak {figures['peak_rss'] / 2**20:6.0f} MiB   CPU {figures['cpu']:6.1f} s "
                      f"({figures['cpu'] / figures['partitions']:.2f} s a partition)   wall {figures['wall']:6.1f} s   "
                      f"{figures['page_faults'] / 1000:6.0f} k page faults", flush=True)  # fmt: skip
                shutil.rmtree(work)
    print(f"\none raw run of {args.chunk} partitions, {args.trials} fresh processes each (medians)")
    print(f"{'variant':>12}   peak RSS   CPU s a partition   wall s   x baseline peak   x baseline CPU")
    base = results["baseline"]
    base_peak, base_cpu = (statistics.median(r[k] for r in base) for k in ("peak_rss", "cpu"))
    for name, found in results.items():
        peak, cpu, wall = (statistics.median(r[k] for r in found) for k in ("peak_rss", "cpu", "wall"))
        print(f"{name:>12}   {peak / 2**20:5.0f} MiB   {cpu / args.chunk:17.2f}   {wall:6.1f}   {peak / base_peak:15.2f}   "
              f"{cpu / base_cpu:14.2f}")  # fmt: skip
    if args.timeline:
        Path(args.timeline).write_text(json.dumps({n: [{"samples": r["samples"], "marks": r["marks"]} for r in found] for n, found in results.items()}))


if __name__ == "__main__":
    main()
