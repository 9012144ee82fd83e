"""Benchmark: the UI path (an asset backfill on a running webserver and daemon) against the
in-process path (`p114 materialize`), per partition, on the same real-scale files, in one run.

N consecutive settlement dates of one run type (8,000 BM units, generated once and cached under
bench/.cache/backfill/) are loaded twice into fresh DuckDB files:

1. in-process, as `p114 materialize --source DIR` does (raw chunks of 7, then the derived tables
   a month per run): the baseline;
2. through Dagster as a user does it from the UI: `dagster-webserver` and `dagster-daemon` on
   127.0.0.1 with a throwaway DAGSTER_HOME (the project's instance settings), and one asset
   backfill launched through GraphQL (`launchPartitionBackfill`) of the raw assets of the N
   partitions and the daily assets of their dates, timed from the launch until the backfill is
   complete (and until its last run ended, which leaves out the daemon noticing).

    python bench/bench_backfill.py [--dates 10] [--units 8000] [--start 2024-07-01] [--run-type SF]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", message=r".*is currently in (beta|preview).*")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the system-test harness starts the webserver and the daemon
CACHE = REPO / "bench" / ".cache" / "backfill"


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


def in_process(folder: Path, warehouse_path: Path, start: dt.date, end: dt.date) -> tuple[float, bool]:
    from p114_assets.app.runner import materialize_folder
    from p114_assets.warehouse.duckdb import DuckDBWarehouse

    os.environ.pop("DAGSTER_HOME", None)  # a throwaway instance, as `p114 materialize` without DAGSTER_HOME
    started = time.perf_counter()
    summary = materialize_folder(folder, DuckDBWarehouse(path=str(warehouse_path)), start, end)
    return time.perf_counter() - started, summary.ok


def ui_path(folder: Path, tmp: Path, keys: list[tuple[dt.date, str]]) -> dict:
    from p114_assets.app.launcher import graph_backfill_ranges, launch_asset_backfill
    from p114_assets.app.runner import DERIVED_KEYS, RAW_KEYS
    from p114_assets_tests.system.harness import running_dagster

    env = {
        "P114_SOURCE": "folder", "P114_INCOMING_DIR": str(folder), "P114_DATA_DIR": str(tmp / "data"),
        "P114_LANDING_DIR": str(tmp / "data" / "landing"), "P114_DUCKDB_PATH": str(tmp / "data" / "ui.duckdb"),
    }  # fmt: skip
    with running_dagster(tmp / "dagster_home", env, tmp / "logs") as dagster:
        client = dagster.graphql
        time.sleep(5)  # let the daemons' first ticks pass, as on a server that has been up a while
        ranges = graph_backfill_ranges(keys, [k.to_user_string() for k in RAW_KEYS], [k.to_user_string() for k in DERIVED_KEYS])
        launched = time.time()
        backfill_id = launch_asset_backfill(dagster.url, ranges, title="bench_backfill")
        backfill = client.wait_backfill(backfill_id, timeout=3600)
        done = time.time()
        runs = [client.run(r["runId"]) for r in backfill["runs"]]
    starts = [r["startTime"] for r in runs if r.get("startTime")]
    ends = [r["endTime"] for r in runs if r.get("endTime")]
    return {
        "status": backfill["status"],
        "seconds": done - launched,
        "to_last_run_end": max(ends) - launched,
        "to_first_run_start": min(starts) - launched,
        "runs": len(runs),
        "run_seconds": sum(e - s for s, e in zip(starts, ends)),
        "failed_runs": sum(r["status"] != "SUCCESS" for r in runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dates", type=int, default=10, help="settlement dates (partitions), at least 10 for the README figure")
    parser.add_argument("--units", type=int, default=8000)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2024, 7, 1))
    parser.add_argument("--run-type", default="SF")
    args = parser.parse_args()
    end = args.start + dt.timedelta(days=args.dates - 1)
    print(f"files: {args.dates} x {args.run_type}, {args.units:,} BM units, {args.start}..{end} (cached in {CACHE})", flush=True)
    folder = generated_files(args.start, args.dates, args.run_type, args.units)
    keys = [(args.start + dt.timedelta(days=i), args.run_type) for i in range(args.dates)]

    with tempfile.TemporaryDirectory(prefix="p114-bench-backfill-") as tmp_name:
        tmp = Path(tmp_name)
        time.sleep(3)
        print("in-process (p114 materialize) ...", flush=True)
        baseline, ok = in_process(folder, tmp / "in_process.duckdb", args.start, end)
        if not ok:
            raise SystemExit("the in-process load failed")
        print("UI path (asset backfill on a running webserver and daemon) ...", flush=True)
        ui = ui_path(folder, tmp, keys)
        if ui["status"] != "COMPLETED_SUCCESS" or ui["failed_runs"]:
            raise SystemExit(f"the backfill did not succeed: {ui}")

    n = args.dates
    print()
    print(f"{n} partitions (raw + derived), seconds      total   per partition   x in-process")
    print(f"  p114 materialize (in-process, baseline)  {baseline:7.1f}   {baseline / n:13.2f}   {1:12.2f}")
    print(f"  UI asset backfill, launch to completed   {ui['seconds']:7.1f}   {ui['seconds'] / n:13.2f}   {ui['seconds'] / baseline:12.2f}")
    print(f"  UI asset backfill, launch to last run    {ui['to_last_run_end']:7.1f}   {ui['to_last_run_end'] / n:13.2f}   "
          f"{ui['to_last_run_end'] / baseline:12.2f}")  # fmt: skip
    print(f"  ({ui['runs']} runs, {ui['run_seconds']:.1f} s inside runs; first run started {ui['to_first_run_start']:.1f} s "
          f"after the launch)")  # fmt: skip


if __name__ == "__main__":
    main()
