"""Benchmark: the UI path (an asset backfill on a running webserver and daemon) against the
in-process path (`p114 materialize`), per partition, on the same real-scale files, in one run.

N consecutive settlement dates of one run type (8,000 BM units, generated once and cached under
bench/.cache/backfill/) are loaded twice into fresh DuckDB files:

1. in-process, as `p114 materialize --source DIR` does (raw chunks of P114_BACKFILL_CHUNK, then
   the derived tables a month per run), in a child process: the baseline;
2. through Dagster as a user does it from the UI: `dagster-webserver` and `dagster-daemon` on
   127.0.0.1 with a throwaway DAGSTER_HOME (the project's instance settings), and one asset
   backfill launched through GraphQL (`launchPartitionBackfill`) of the raw assets of the N
   partitions and the daily assets of their dates, timed from the launch until the backfill is
   complete (and until its last run ended, which leaves out the daemon noticing).

Printed: wall time, partitions per minute, CPU seconds (every process of each path: for the UI
path the webserver, the daemon, their code servers and the runs), peak RSS of each run process,
the cores busy during each run and each path (the whole machine's against the path's own, so a
figure measured beside other work says how much other work there was),
where the UI path's time went (each run: created by the backfill daemon, started, ended, and its
process's start-up), the extrapolation to 1,461 dates (2022-2025, one run each: the
best-available backfill) and to 1,461 x 6 runs, and the warehouse's bytes per date and per table.

A partition's write may grow with the file it goes into (bench_write_growth: it does in an
unclustered file), so N dates into an empty file may run faster than a four-year backfill's
average date. `--prefill M` first writes M re-dated real-scale dates (the ones before `--start`)
straight into the UI path's file and stores each of their months by unit (cluster_dates, as the
sensor does after a month is loaded; timed; the file is built once and cached under
bench/.cache/backfill/), then runs the backfill into it: at `--prefill 715 --dates 30` the 30
dates sit in the middle of a 1,461-date file, where a linear growth puts the backfill's average
date, and the extrapolation adds the measured clustering of 1,461 dates. The prefilled dates have no derived rows, and the
in-process baseline is not run (its ratio is --prefill 0's).

`--pairs K` measures both paths K times, back to back, each pair into fresh files, the even pairs
with the UI path first, and ends with a table of the pairs and the median ratio (the detailed
figures are the last pair's): this VM's speed drifts by up to 1.6x within an hour, so only paths
measured next to each other compare.

    python bench/bench_backfill.py [--dates 10] [--chunk 7] [--units 8000] [--start 2024-07-01]
                                   [--run-type SF] [--no-baseline] [--prefill 715] [--pairs 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", message=r".*is currently in (beta|preview).*")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the system-test harness starts the webserver and the daemon
sys.path.insert(0, str(REPO / "bench"))
CACHE = REPO / "bench" / ".cache" / "backfill"
FOUR_YEARS = 1461  # settlement dates 2022-01-01..2025-12-31
RUN_TYPES = 6  # II, SF, R1, R2, R3, RF
MiB = 2**20


def generated_files(start: dt.date, dates: int, run_type: str, units: int) -> Path:
    """The files of `dates` dates from `start`, generated once (the same seed: the same bytes)."""
    from p114_assets.core.s0142.files import latest_file
    from p114_assets.core.synthetic import SyntheticMarket, generate_file

    folder = CACHE / f"{run_type}-{units}u"
    market = None
    for offset in range(dates):
        day = start + dt.timedelta(days=offset)
        if latest_file(folder, day, run_type) is None:
            market = market or SyntheticMarket.build(units, seed=0)
            generate_file(market, day, run_type).write(folder)
            print(f"  generated {day} {run_type}", flush=True)
    return folder


IN_PROCESS = """
import datetime as dt, sys, warnings
warnings.filterwarnings("ignore", message=r".*is currently in (beta|preview).*")
from p114_assets.app.runner import materialize_folder
from p114_assets.warehouse.duckdb import DuckDBWarehouse
folder, path, start, end = sys.argv[1:]
summary = materialize_folder(folder, DuckDBWarehouse(path=path), dt.date.fromisoformat(start), dt.date.fromisoformat(end))
sys.exit(0 if summary.ok else 1)
"""


def in_process(folder: Path, warehouse_path: Path, start: dt.date, end: dt.date, env: dict) -> dict:
    """`p114 materialize` of the folder in a child process (a throwaway instance, as without
    DAGSTER_HOME): wall, CPU and peak RSS of that process."""
    child_env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"} | env
    from procwatch import _machine_busy

    before, busy_before = resource.getrusage(resource.RUSAGE_CHILDREN), _machine_busy()
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", IN_PROCESS, str(folder), str(warehouse_path), str(start), str(end)], env=child_env, cwd=REPO)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit("the in-process load failed")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"seconds": seconds, "cpu": cpu, "peak_rss": after.ru_maxrss * 1024, "cores_busy": (_machine_busy() - busy_before) / seconds}


RUNS_QUERY = """query Runs { runsOrError(limit: 500) { __typename ... on Runs { results {
  runId status creationTime startTime endTime assetSelection { path } tags { key value } } } } }"""


PID_QUERY = """query Pid($runId: ID!) { logsForRun(runId: $runId) { __typename ... on EventConnection {
  events { __typename ... on EngineEvent { message } } } } }"""
STARTED_PROCESS = re.compile(r"Started process for run \(pid: (\d+)\)")  # the code server's engine event


def run_pid(client, run_id: str) -> int | None:
    """The pid of the run's process, from the engine event the process logs when it starts."""
    found = client.query(PID_QUERY, runId=run_id)["logsForRun"]
    for event in found.get("events", []):
        match = STARTED_PROCESS.search(event.get("message") or "")
        if match:
            return int(match.group(1))
    return None


def is_run_process(cmdline: str) -> bool:
    """A run's process: spawned by a code server, or forked by the local launcher's forkserver
    (whose own start, importing Dagster once, counts with the runs)."""
    return "spawn_main" in cmdline or "multiprocessing.forkserver" in cmdline


def match_processes(runs: list[dict], seen) -> None:
    """Each run's process: by the pid it logged (`run["pid"]`), else by timing (the
    launcher starts it when the run is dequeued; it writes RUN_START once it
    has loaded the code and exits soon after the run ends: it started before its RUN_START and was
    last seen nearest after its end). Timing alone once took a short-lived spawned helper."""
    spawned = [s for s in seen if is_run_process(s.cmdline)]
    taken: set[int] = set()
    for run in sorted((r for r in runs if r["startTime"] and r["endTime"]), key=lambda r: r["endTime"]):
        fits = [s for s in spawned if id(s) not in taken and s.started <= run["startTime"] + 0.5 and s.last_seen >= run["endTime"] - 1]
        by_pid = [s for s in spawned if id(s) not in taken and s.pid == run.get("pid") and s.started <= run["startTime"] + 0.5]
        fits = by_pid or fits
        if fits:
            run["process"] = min(fits, key=lambda s: (s.last_seen - run["endTime"], run["startTime"] - s.started))
            taken.add(id(run["process"]))


def ui_path(folder: Path, tmp: Path, keys: list[tuple[dt.date, str]], env: dict, logs: Path | None, automation: bool) -> dict:
    from procwatch import ProcessWatch

    from p114_assets.app.launcher import graph_backfill_ranges, launch_asset_backfill
    from p114_assets.app.runner import DERIVED_KEYS, RAW_KEYS
    from p114_assets_tests.system.harness import running_dagster

    env = {
        "P114_SOURCE": "folder", "P114_INCOMING_DIR": str(folder), "P114_DATA_DIR": str(tmp / "data"),
        "P114_LANDING_DIR": str(tmp / "data" / "landing"), "P114_DUCKDB_PATH": str(tmp / "data" / "ui.duckdb"), **env,
    }  # fmt: skip
    with running_dagster(tmp / "dagster_home", env, tmp / "logs") as dagster:
        client = dagster.graphql
        if not automation:
            client.stop_sensor("p114_automation")
        time.sleep(5)  # let the daemons' first ticks pass, as on a server that has been up a while
        ranges = graph_backfill_ranges(keys, [k.to_user_string() for k in RAW_KEYS], [k.to_user_string() for k in DERIVED_KEYS])
        with ProcessWatch([p.pid for p in dagster.processes.values()]) as watch:
            launched = time.time()
            backfill_id = launch_asset_backfill(dagster.url, ranges, title="bench_backfill")
            backfill = client.wait_backfill(backfill_id, timeout=6 * 3600)
            done = time.time()
        runs = client.query(RUNS_QUERY)["runsOrError"]["results"]
        runs = [r for r in runs if r["creationTime"] >= launched - 1]  # this backfill's, and what automation launched meanwhile
        for run in runs:
            run["pid"] = run_pid(client, run["runId"])
        # Runs outlive the daemon (forked warm): automation's runs still going are let end, outside
        # the timing, so no writer is left for the warehouse's sizes nor the next measurement.
        if automation:
            client.stop_sensor("p114_automation")
        client.wait_idle(timeout=900)
    for run in runs:
        run["process"] = None
        run["ours"] = {"key": "dagster/backfill", "value": backfill_id} in run["tags"]
    match_processes(runs, watch.seen.values())
    runs.sort(key=lambda r: r["creationTime"])
    if logs:
        shutil.copytree(tmp / "logs", logs, dirs_exist_ok=True)
    return {"status": backfill["status"], "seconds": done - launched, "launched": launched, "runs": runs,
            "cpu": watch.total_cpu(), "watch": watch, "cpu_by_kind": cpu_by_kind(watch.seen.values()), "failed_runs": sum(r["status"] != "SUCCESS" for r in runs if r["ours"])}  # fmt: skip


def cpu_by_kind(seen) -> dict[str, float]:
    """CPU seconds of the UI path's processes by what they are: the runs, the daemon (backfills,
    the automation and alert sensors, the run queue), the webserver, and their code servers."""
    kinds: dict[str, float] = {}
    for s in seen:
        kind = ("runs" if is_run_process(s.cmdline) else "code servers" if "grpc" in s.cmdline
                else "daemon" if "dagster-daemon" in s.cmdline else "webserver" if "webserver" in s.cmdline else "other")  # fmt: skip
        kinds[kind] = kinds.get(kind, 0.0) + s.cpu - s.cpu_at_first_sight
    return kinds


def _describe(run: dict) -> str:
    assets = [".".join(a["path"]) for a in run["assetSelection"] or []]
    tags = {t["key"]: t["value"] for t in run["tags"]}
    first, last = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    span = f"{first}..{last}" if first else tags.get("dagster/partition", "?")
    kind = "raw" if "s0142_file" in assets else "classification" if assets == ["unit_classification"] else f"derived ({len(assets)})"
    return f"{kind:<15} {span}" + ("" if run["ours"] else " (automation)")


def print_timeline(ui: dict) -> tuple[float, float]:
    """Each run of the backfill, seconds after the launch; returns (end of the last raw run,
    seconds of run-process start-up in all)."""
    t0, startup_total, raw_end = ui["launched"], 0.0, 0.0
    print("\nWhere the UI path's time went (seconds after the launch; start-up = process start to RUN_START: imports, code load;"
          f"\ncores busy while the run ran, of the machine's {os.cpu_count()}: all work on the machine / the UI path's processes):")
    print("| run | created | process | started | ended | start-up | in run | CPU s | peak RSS | cores busy: all / UI path |\n|---|---|---|---|---|---|---|---|---|---|")
    for run in ui["runs"]:
        proc, start, end = run["process"], run["startTime"] or 0, run["endTime"] or 0
        startup = start - proc.started if proc and start else float("nan")
        startup_total += startup if run["ours"] and startup == startup else 0
        if "s0142_file" in str(run["assetSelection"]):
            raw_end = max(raw_end, end - t0)
        if not start:
            print(f"| {_describe(run)} | {run['creationTime'] - t0:.1f} | | not started when the backfill completed | | | | | | |")
            continue
        if not end:
            print(f"| {_describe(run)} | {run['creationTime'] - t0:.1f} | | {start - t0:.1f} | running when the backfill completed | | | | | |")
            continue
        print(f"| {_describe(run)} | {run['creationTime'] - t0:.1f} | {(proc.started - t0) if proc else float('nan'):.1f} | "
              f"{start - t0:.1f} | {end - t0:.1f} | {startup:.1f} | {end - start:.1f} | "
              f"{proc.cpu if proc else float('nan'):.1f} | {(proc.peak_rss / MiB) if proc else float('nan'):,.0f} MiB | "
              + "{:.2f} / {:.2f} |".format(*ui["watch"].cores_busy(start, end)))  # fmt: skip
    return raw_end, startup_total


def table_bytes(path: Path) -> dict[str, int]:
    """Bytes of each table of a DuckDB file: its segments' share of the storage blocks (a segment
    runs from its offset to the next segment's offset in the same block, or to the block's end)."""
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        block = con.execute("SELECT block_size FROM pragma_database_size()").fetchone()[0]
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'p114'").fetchall()]
        segments = []  # (block_id, offset, table, extra blocks)
        for table in tables:
            for block_id, offset, extra in con.execute(
                f"SELECT block_id, block_offset, additional_block_ids FROM pragma_storage_info('p114.{table}') WHERE block_id IS NOT NULL"
            ).fetchall():
                segments.append((block_id, offset, table, len(extra or [])))
    sizes = dict.fromkeys(tables, 0)
    segments.sort()
    for i, (block_id, offset, table, extra) in enumerate(segments):
        following = segments[i + 1] if i + 1 < len(segments) else None
        end = following[1] if following and following[0] == block_id else block
        sizes[table] += end - offset + extra * block
    return sizes


def prefill(path: Path, start: dt.date, dates: int, run_type: str, units: int) -> dict:
    """The `dates` dates before `start` written into the file at `path` through the warehouse's load
    path, then each of their months stored by unit, as the sensor has them stored mid-backfill.
    Built once and cached (with its timings) under bench/.cache/backfill/: later runs copy it."""
    import realscale

    from p114_assets.warehouse.duckdb import DuckDBWarehouse

    cached = CACHE / f"prefill-{run_type}-{units}u-{dates}d-to-{start}.duckdb"
    timings = cached.with_suffix(".json")
    days = [start - dt.timedelta(days=dates - i) for i in range(dates)]
    path.parent.mkdir(parents=True, exist_ok=True)
    if cached.exists() and timings.exists():
        found = json.loads(timings.read_text())
        print(f"prefill: {dates:,} dates ({days[0]}..{days[-1]}), copied from {cached.name} (built {found['built']})", flush=True)
        shutil.copyfile(cached, path)
        return found
    warehouse = DuckDBWarehouse(path=str(path))
    print(f"prefill: {dates:,} dates ({days[0]}..{days[-1]}) into the UI path's file ...", flush=True)
    write_seconds = realscale.load(warehouse, days, run_type, units, progress=False)
    months = sorted({(d.year, d.month) for d in days})
    started = time.perf_counter()
    for year, month in months:
        first, last = dt.date(year, month, 1), max(d for d in days if (d.year, d.month) == (year, month))
        warehouse.cluster_dates("bm_unit_period", first, last, run_type)
    cluster_seconds = time.perf_counter() - started
    tables = sorted(r["table_name"] for r in warehouse.query("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'p114'").to_pylist())
    print(f"  written in {write_seconds:.0f} s, {len(months)} months clustered in {cluster_seconds:.0f} s; cached as {cached.name}", flush=True)
    found = {"write_seconds": write_seconds, "cluster_seconds": cluster_seconds, "months": len(months), "tables": tables, "built": f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC"}  # fmt: skip
    partial = cached.with_suffix(".part")  # a stopped copy is never taken for the cache
    shutil.copyfile(path, partial)
    partial.replace(cached)
    timings.write_text(json.dumps(found))
    return found


def print_pairs(pairs: list[tuple[dict, dict, float]], n: int) -> None:
    """Each pair's two paths and their ratio (the figures above are the last pair's), and the
    median ratio: on a machine whose speed drifts, paths measured minutes apart compare badly."""
    print(f"\n{len(pairs)} pairs, {n} dates each (the UI path from launch to completed; CPU of every process of each path):")
    print("| pair | load before | in-process s / CPU s | UI path s / CPU s | x in-process (wall) | x in-process (CPU) "
          "| UI CPU s: runs / daemon / code servers / webserver | first run started, s | backfill's runs: s in runs |\n|---|---|---|---|---|---|---|---|---|")
    for i, (base, ui, load) in enumerate(pairs, 1):
        kinds = ui["cpu_by_kind"]
        ours = [r for r in ui["runs"] if r["ours"] and r["startTime"]]
        first = min((r["startTime"] for r in ours), default=float("nan")) - ui["launched"]
        in_runs = sum((r["endTime"] or 0) - r["startTime"] for r in ours if r["endTime"])
        print(f"| {i}{' (UI first)' if i % 2 == 0 else ''} | {load:.1f} | {base['seconds']:.1f} / {base['cpu']:.1f} | "
              f"{ui['seconds']:.1f} / {ui['cpu']:.1f} | {ui['seconds'] / base['seconds']:.2f} | {ui['cpu'] / base['cpu']:.2f} | "
              + " / ".join(f"{kinds.get(k, 0.0):.1f}" for k in ("runs", "daemon", "code servers", "webserver"))
              + f" | {first:.1f} | {in_runs:.1f} |")  # fmt: skip
    wall = statistics.median(ui["seconds"] / base["seconds"] for base, ui, _ in pairs)
    cpu = statistics.median(ui["cpu"] / base["cpu"] for base, ui, _ in pairs)
    print(f"median ratio, UI path against in-process: {wall:.2f}x wall, {cpu:.2f}x CPU (issue 14.4: at most 1.2x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dates", type=int, default=10, help="settlement dates (partitions), at least 10 for the README figure")
    parser.add_argument("--chunk", type=int, help="partitions per raw run (P114_BACKFILL_CHUNK; default: the project's)")
    parser.add_argument("--units", type=int, default=8000)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2024, 7, 1))
    parser.add_argument("--run-type", default="SF")
    parser.add_argument("--logs", type=Path, help="keep the webserver's and daemon's logs in this folder")
    parser.add_argument("--no-automation", action="store_true",
                        help="stop the automation sensor first (by default it runs, as for users: it refreshes the comparison marts meanwhile)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the in-process baseline (for tuning the UI path only)")
    parser.add_argument("--prefill", type=int, default=0, help="dates written (and clustered) into the UI path's file first")
    parser.add_argument("--pairs", type=int, default=1,
                        help="in-process and UI path measured this many times, back to back, alternating which goes first")
    args = parser.parse_args()
    if args.pairs > 1 and (args.prefill or args.no_baseline):
        parser.error("--pairs compares the two paths: not with --prefill or --no-baseline")
    end = args.start + dt.timedelta(days=args.dates - 1)
    env = {"P114_BACKFILL_CHUNK": str(args.chunk)} if args.chunk else {}
    print(f"{dt.datetime.now():%Y-%m-%d %H:%M}: {os.cpu_count()} cores, load average "
          f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())} (1/5/15 min)")  # fmt: skip
    print(f"files: {args.dates} x {args.run_type}, {args.units:,} BM units, {args.start}..{end} (cached in {CACHE})"
          + (f"; {args.chunk} partitions a raw run" if args.chunk else ""), flush=True)  # fmt: skip
    folder = generated_files(args.start, args.dates, args.run_type, args.units)
    keys = [(args.start + dt.timedelta(days=i), args.run_type) for i in range(args.dates)]

    pairs = []  # (in-process, UI path, load average before) of each pair, in the order measured
    for pair in range(args.pairs):
        # Fresh files for every measurement; the later pairs swap the order, so that a machine
        # getting faster or slower during the run does not favour one path.
        ui_first = pair % 2 == 1
        load_before = os.getloadavg()[0]
        with tempfile.TemporaryDirectory(prefix="p114-bench-backfill-") as tmp_name:
            tmp = Path(tmp_name)
            baseline, prefilled = None, None
            if args.prefill:
                prefilled = prefill(tmp / "data" / "ui.duckdb", args.start, args.prefill, args.run_type, args.units)
            if args.pairs > 1:
                print(f"pair {pair + 1} of {args.pairs} ({'UI path first' if ui_first else 'in-process first'}):", flush=True)
            if not (args.prefill or args.no_baseline or ui_first):
                print("in-process (p114 materialize) ...", flush=True)
                baseline = in_process(folder, tmp / "in_process.duckdb", args.start, end, env)
            print("UI path (asset backfill on a running webserver and daemon) ...", flush=True)
            ui = ui_path(folder, tmp, keys, env, args.logs, not args.no_automation)
            if ui["status"] != "COMPLETED_SUCCESS" or ui["failed_runs"]:
                raise SystemExit(f"the backfill did not succeed: {ui['status']}, {ui['failed_runs']} failed run(s)")
            if ui_first:
                print("in-process (p114 materialize) ...", flush=True)
                baseline = in_process(folder, tmp / "in_process.duckdb", args.start, end, env)
            warehouse = tmp / "data" / "ui.duckdb"
            file_bytes, sizes = warehouse.stat().st_size, table_bytes(warehouse)
            prefilled_tables = set(prefilled["tables"]) if prefilled else set()
            load_after = os.getloadavg()
        if baseline:
            pairs.append((baseline, ui, load_before))
            print(f"  in-process {baseline['seconds']:.1f} s / {baseline['cpu']:.1f} CPU s, UI path {ui['seconds']:.1f} s / "
                  f"{ui['cpu']:.1f} CPU s: {ui['seconds'] / baseline['seconds']:.2f}x", flush=True)  # fmt: skip

    n = args.dates
    last_run_end = max(r["endTime"] for r in ui["runs"] if r["ours"]) - ui["launched"]
    raw_end, startup_total = print_timeline(ui)
    runs = [r for r in ui["runs"] if r["process"]]
    peak = max(r["process"].peak_rss for r in runs) if runs else 0
    print(f"\n{n} partitions (raw + derived)            wall s   per partition   partitions/min    CPU s   peak RSS   x in-process")
    rows = []
    if baseline:
        rows.append(("p114 materialize (in-process, baseline)", baseline["seconds"], baseline["cpu"], baseline["peak_rss"]))
    rows += [("UI asset backfill, launch to completed", ui["seconds"], ui["cpu"], peak),
             ("UI asset backfill, launch to last run end", last_run_end, None, None)]  # fmt: skip
    for label, seconds, cpu, rss in rows:
        ratio = f"{seconds / baseline['seconds']:12.2f}" if baseline else "           -"
        print(f"  {label:<41} {seconds:6.1f}   {seconds / n:13.2f}   {60 * n / seconds:14.1f}   "
              + (f"{cpu:6.1f}   {rss / MiB:5,.0f} MiB" if cpu is not None else f"{'':6}   {'':9}") + f"   {ratio}")  # fmt: skip
    print(f"  ({sum(r['ours'] for r in ui['runs'])} runs of the backfill and {sum(not r['ours'] for r in ui['runs'])} launched by automation, {sum((r['endTime'] or 0) - (r['startTime'] or 0) for r in ui['runs'] if r['ours']):.1f} s inside the backfill's runs, "
          f"{startup_total:.1f} s of run start-up; peak RSS is the largest run process's; UI CPU counts every process)")  # fmt: skip
    matched = [r for r in ui["runs"] if r["process"] is not None]
    print(f"  run processes: {sum(r['process'].pid == r.get('pid') for r in matched)} of {len(ui['runs'])} found by the pid Dagster logged, "
          f"{sum(r['process'].pid != r.get('pid') for r in matched)} by timing alone")  # fmt: skip
    print("  UI CPU s by process: " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(ui["cpu_by_kind"].items(), key=lambda kv: -kv[1])))
    all_busy, ui_busy = ui["watch"].cores_busy(ui["launched"], ui["launched"] + ui["seconds"])
    print(f"  cores busy (of {os.cpu_count()}): UI path {ui_busy:.2f} of {all_busy:.2f} on the machine"
          + (f"; in-process {baseline['cpu'] / baseline['seconds']:.2f} of {baseline['cores_busy']:.2f}" if baseline else "")
          + " (the rest is other work on the machine)")  # fmt: skip

    per_date = ui["seconds"] / n
    raw_share, derived_share = raw_end / n, (ui["seconds"] - raw_end) / n
    print(f"\nExtrapolated at this rate (the launch-to-completed time per date; fixed costs included, so an upper bound):")
    print(f"  {FOUR_YEARS:,} dates, one run each (best available, raw + derived): {per_date * FOUR_YEARS / 60:6.1f} min"
          + (f" (in-process: {baseline['seconds'] / n * FOUR_YEARS / 60:.1f} min)" if baseline else ""))  # fmt: skip
    print(f"  {FOUR_YEARS:,} dates x {RUN_TYPES} runs (raw {raw_share:.2f} s a partition x {FOUR_YEARS * RUN_TYPES:,}, derived "
          f"{derived_share:.2f} s a date x {FOUR_YEARS:,}): {(raw_share * RUN_TYPES + derived_share) * FOUR_YEARS / 3600:.2f} h")  # fmt: skip

    # A backfill waits once for the daemon to create and start its first run, and once for it to
    # notice the end: 10 s of a 30-date run, which the line above counts 48 times over at 1,461.
    first_start = min(r["startTime"] for r in ui["runs"] if r["ours"] and r["startTime"]) - ui["launched"]
    once = first_start + (ui["seconds"] - last_run_end)
    steady = (ui["seconds"] - once) / n * FOUR_YEARS + once
    print(f"  the same, with the once-a-backfill costs counted once (the first run started {first_start:.1f} s after the launch, "
          f"the backfill completed {ui['seconds'] - last_run_end:.1f} s after its last run ended): {steady / 60:6.1f} min")  # fmt: skip

    if prefilled:
        cluster_per_date = prefilled["cluster_seconds"] / args.prefill
        print(f"  {args.prefill:,} dates were in the file first, so these {n} sit at dates {args.prefill + 1:,}-{args.prefill + n:,} of it"
              f"{' (the middle of 1,461: the average date if the growth is linear)' if abs(args.prefill + n / 2 - FOUR_YEARS / 2) <= n else ''}; "
              f"with the clustering timed while prefilling ({cluster_per_date:.2f} s a date) added to the line above: "
              f"{(steady + cluster_per_date * FOUR_YEARS) / 60:6.1f} min for 1,461 dates, plus each of the 48 months' run start-up")  # fmt: skip
        print(f"  prefill: {args.prefill:,} dates written in {prefilled['write_seconds']:.0f} s "
              f"({prefilled['write_seconds'] / args.prefill:.2f} s a date, in-process), {prefilled['months']} months "
              f"clustered in {prefilled['cluster_seconds']:.0f} s")  # fmt: skip

    total = sum(sizes.values())
    in_file = n + args.prefill
    print(f"\nWarehouse (DuckDB, the UI path's file): {file_bytes / MiB:,.1f} MiB, {file_bytes / in_file / MiB:.1f} MiB a date "
          f"(tables {total / MiB:,.1f} MiB; the rest is metadata and free blocks)"
          + (f"; the {args.prefill:,} prefilled dates have raw rows only, so a derived table's MiB a date is of {n}" if args.prefill else ""))  # fmt: skip
    print("| table | MiB | MiB a date | share |\n|---|---|---|---|")
    for name, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
        print(f"| {name} | {size / MiB:,.1f} | {size / (in_file if name in prefilled_tables else n) / MiB:.2f} | {size / total:.1%} |")
    print(f"\nload average after: {' / '.join(f'{x:.1f}' for x in load_after)} (1/5/15 min)")
    if len(pairs) > 1:
        print_pairs(pairs, n)
    print(json.dumps({"dates": n, "ui_seconds": round(ui["seconds"], 1), "baseline_seconds": baseline and round(baseline["seconds"], 1),
                      "ratio": baseline and round(ui["seconds"] / baseline["seconds"], 2)}))  # fmt: skip


if __name__ == "__main__":
    main()
