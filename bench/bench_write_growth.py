"""Benchmark: does a raw partition's write cost grow with the warehouse? Statement by statement.

bench_backfill measures 30 dates; a backfill writes 1,461 into one file. This writes `--dates`
re-dated copies of one real-scale partition (a cached bench_backfill file, parsed once) through
`DuckDBWarehouse.replace_partition` into two files side by side, one in DuckDB's default storage
format (what files made before `DuckDBWarehouse.storage_version` have: the baseline) and one in the
format p114 creates now, alternating partition by partition so both see the same machine load.
Every statement's CPU (user + system of the process, all DuckDB threads) is summed per partition,
and the connection's close (where DuckDB checkpoints) is timed on its own. It prints, at a few
sizes, the write's CPU and its largest parts for each file, and the files' sizes at the end.
`--row-group-sizes 16384,122880` compares p114's format written with those raw row-group sizes
instead (one file each, alternating; the first is the baseline).

    python bench/bench_write_growth.py [--dates 240] [--no-baseline] [--row-group-sizes A,B]
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import statistics
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

warnings.filterwarnings("ignore", message=r".*is currently in (beta|preview).*")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import duckdb  # noqa: E402
from bench_rawrun import _files  # noqa: E402
from realscale import redated  # noqa: E402

from p114_assets.core.s0142.parser import parse_file  # noqa: E402
from p114_assets.warehouse.duckdb import DuckDBWarehouse  # noqa: E402

DUCKDB_DEFAULT_STORAGE = "v0.10.2"  # what `ATTACH` writes unless told otherwise (DuckDB 1.5)


class _Timed:
    """A connection whose statements add their process CPU to `costs`, keyed by their first words."""

    def __init__(self, con: duckdb.DuckDBPyConnection, costs: dict[str, float]):
        self._con, self._costs = con, costs

    def execute(self, sql: str, *args):
        started = time.process_time()
        try:
            return self._con.execute(sql, *args)
        finally:
            self._costs[" ".join(sql.split()[:3]).replace('"', "")[:44]] += time.process_time() - started

    def __getattr__(self, name: str):
        return getattr(self._con, name)


class _ProfiledWarehouse(DuckDBWarehouse):
    """The project's DuckDB warehouse, its statements and closes timed (`costs`, reset per partition)."""

    @contextmanager
    def connect(self, read_only: bool = False):
        costs = _COSTS[self.path]
        started = time.process_time()
        with super().connect(read_only) as con:
            costs["connect (ATTACH, catalog)"] += time.process_time() - started
            yield _Timed(con, costs)
            started = time.process_time()
        costs["close (checkpoint)"] += time.process_time() - started


_COSTS: dict[str, collections.defaultdict] = {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dates", type=int, default=240, help="partitions written into each file")
    parser.add_argument("--no-baseline", action="store_true", help="only p114's format (to go further in time)")
    parser.add_argument("--row-group-sizes", default="", help="comma-separated raw row-group sizes to compare, in p114's format")
    args = parser.parse_args()
    parsed = parse_file(_files(1)[0]).tables
    sizes = {1, 2, 10, 30, 60, 120, 240, 360, 480, 600, 720, 960, 1200, 1461, args.dates}
    shown = sorted(sizes & set(range(1, args.dates + 1)))
    print(f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC: {args.dates} re-dated copies of one real-scale "
          f"partition ({parsed['bm_unit_period'].num_rows:,} bm_unit_period rows) into each file{'' if args.no_baseline else ', alternating'}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="p114-bench-growth-") as tmp:
        # each file's DuckDBWarehouse settings, the baseline first
        if args.row_group_sizes:
            files = {f"row groups of {int(size):,} rows": {"row_group_size": int(size)} for size in args.row_group_sizes.split(",")}
        else:
            files = {f"DuckDB default storage ({DUCKDB_DEFAULT_STORAGE}), baseline": {"storage_version": DUCKDB_DEFAULT_STORAGE},
                     f"p114's storage ({DuckDBWarehouse.model_fields['storage_version'].default})": {}}  # fmt: skip
        if args.no_baseline:
            files = dict(list(files.items())[1:])
        warehouses = {}
        for i, (label, settings) in enumerate(files.items()):
            warehouses[label] = _ProfiledWarehouse(path=f"{tmp}/{i}.duckdb", **settings)
            _COSTS[warehouses[label].path] = collections.defaultdict(float)
        window: dict[str, list[float]] = {label: [] for label in files}
        for n in range(1, args.dates + 1):
            day = dt.date(2022, 1, 1) + dt.timedelta(days=n - 1)
            for label, warehouse in warehouses.items():
                costs = _COSTS[warehouse.path]
                costs.clear()
                started = time.process_time()
                warehouse.replace_partition(redated(parsed, day), day, "SF")
                window[label].append(time.process_time() - started)
                if n in shown:
                    parts = sorted(costs.items(), key=lambda kv: -kv[1])[:4]
                    print(f"  date {n:>4}  {label:<40} write {window[label][-1]:5.2f} CPU s "
                          f"(median of the last {len(window[label]):>2}: {statistics.median(window[label]):5.2f})  "
                          + "; ".join(f"{what} {cpu:.2f}" for what, cpu in parts), flush=True)  # fmt: skip
            if n in shown:
                window = {label: [] for label in files}
        print("files after the last date:")
        for label, warehouse in warehouses.items():
            size = Path(warehouse.path).stat().st_size
            print(f"  {label:<40} {size / 2**20:8.1f} MiB, {size / 2**20 / args.dates:5.2f} MiB a date")


if __name__ == "__main__":
    main()
