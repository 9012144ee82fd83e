"""Benchmark: what storing a month of `bm_unit_period` by BM unit (`cluster_dates`) costs.

Takes one month of real-scale dates (8,000 BM units, one run type) from a year file built by
bench_year.py (read-only: the month is copied date by date, in each partition's write order, into
a scratch file under bench/.cache), then clusters a fresh copy of that month in a fresh Python
process per repeat, as a `cluster_months` run does, and prints for each: wall and CPU seconds,
seconds a date, the process's peak RSS (VmHWM: the kernel's own high-water mark) and the load
average. The rows are compared before and after (a checksum of every column): clustering must
keep every row.

    python bench/bench_cluster.py --from YEAR.duckdb [--month 2024-01] [--repeat 3]
    python bench/bench_cluster.py --from YEAR.duckdb --set cluster_batch_rows=250000   # a setting tried

Target (issue 14.6): a month clustered in well under 1 GB, so the job can run by default.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import realscale

CHECKSUM = "SELECT COUNT(*) AS n, SUM(hash(COLUMNS(*))) AS h FROM p114.bm_unit_period"  # one sum per column

CHILD = """
import json, resource, sys, time
from p114_assets.warehouse.duckdb import DuckDBWarehouse
path, first, last, settings = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
import datetime as dt
warehouse = DuckDBWarehouse(path=path, **settings)
started, used = time.perf_counter(), time.process_time()
rows = warehouse.cluster_dates("bm_unit_period", dt.date.fromisoformat(first), dt.date.fromisoformat(last))
wall, cpu = time.perf_counter() - started, time.process_time() - used
peak = int(next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM"))) * 1024
print(json.dumps({"rows": rows, "wall": wall, "cpu": cpu, "peak": peak}))
"""


def month_dates(month: str) -> list[dt.date]:
    first = dt.date.fromisoformat(f"{month}-01")
    following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return [first + dt.timedelta(days=i) for i in range((following - first).days)]


def copy_month(source: Path, target: Path, dates: list[dt.date]) -> None:
    """The month's rows of bm_unit_period, date by date in each partition's write order, as the
    raw writes leave them (the warehouse's row-group and block sizes)."""
    from p114_assets.warehouse.duckdb import DuckDBWarehouse
    from p114_assets.warehouse.tables import TABLES, write_order

    partial = target.with_suffix(".part")
    partial.unlink(missing_ok=True)
    warehouse = DuckDBWarehouse(path=str(partial))
    warehouse.create_tables(["bm_unit_period"])
    columns = ", ".join(f'"{c}"' for c in TABLES["bm_unit_period"].column_names)
    with warehouse.connect() as con:
        con.execute(f"ATTACH '{source}' AS source (READ_ONLY)")
        for day in dates:
            con.execute(f"INSERT INTO p114.bm_unit_period ({columns}) SELECT {columns} FROM source.p114.bm_unit_period "
                        f"WHERE settlement_date = ? ORDER BY {write_order(TABLES['bm_unit_period'])}", [day])  # fmt: skip
            print(f"  copied {day}", flush=True)
    partial.replace(target)


def checksum(path: Path) -> tuple[int, ...]:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        return tuple(con.execute(CHECKSUM).fetchone())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--from", dest="source", type=Path, required=True, help="a year file built by bench_year.py (read only)")
    parser.add_argument("--month", default="2024-01")
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes, each on a fresh copy of the month")
    parser.add_argument("--set", action="append", default=[], help="a DuckDBWarehouse setting, NAME=VALUE (repeatable)")
    args = parser.parse_args()
    settings = {}
    for item in args.set:
        name, value = item.split("=", 1)
        settings[name] = int(value) if value.isdigit() else value

    dates = month_dates(args.month)
    scratch = realscale.CACHE / f"month_{args.source.stem}_{args.month}.duckdb"
    if not scratch.exists():
        print(f"copying {args.month} of {args.source} into {scratch}", flush=True)
        copy_month(args.source, scratch, dates)
    expected = checksum(scratch)
    print(f"{dt.date.today()}: {os.cpu_count()} cores, {expected[0]:,} rows in {len(dates)} dates, settings {settings or 'default'}")
    runs = []
    for i in range(args.repeat):
        work = scratch.with_name(f"{scratch.stem}.work.duckdb")
        shutil.copyfile(scratch, work)
        load = os.getloadavg()[0]
        out = subprocess.run([sys.executable, "-c", CHILD, str(work), str(dates[0]), str(dates[-1]), json.dumps(settings)],
                             check=True, capture_output=True, text=True).stdout  # fmt: skip
        run = json.loads(out.strip().splitlines()[-1])
        kept = checksum(work) == expected
        size = work.stat().st_size
        work.unlink()
        shutil.rmtree(f"{work}.tmp", ignore_errors=True)
        runs.append(run)
        print(f"  run {i + 1}: {run['rows']:,} rows in {run['wall']:.1f} s ({run['cpu']:.1f} CPU s, {run['wall'] / len(dates):.2f} s and "
              f"{run['cpu'] / len(dates):.2f} CPU s a date), peak RSS {run['peak'] / 2**20:,.0f} MiB, rows kept: {kept}, "
              f"file {size / 2**20:,.0f} MiB, load average {load:.1f} -> {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
        if not kept:
            sys.exit("cluster_dates changed the rows")
    print(f"median: {statistics.median(r['wall'] for r in runs):.1f} s wall, {statistics.median(r['cpu'] for r in runs):.1f} CPU s, "
          f"peak RSS {statistics.median(r['peak'] for r in runs) / 2**20:,.0f} MiB (max {max(r['peak'] for r in runs) / 2**20:,.0f})")  # fmt: skip


if __name__ == "__main__":
    main()
