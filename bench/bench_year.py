"""Benchmark: a year of real-scale settlement dates in DuckDB, and the analyst queries on it.

Builds N real-scale dates (default 365 from 2024-01-01, 8,000 BM units, one run type, SF) through
the warehouse's load path (bench/realscale.py: five generated template days re-dated, the two
clock-change dates generated for what they are), points canonical at every date, and computes the
marts a month at a time, as backfill runs do. The file is kept under bench/.cache (delete it, or
pass --rebuild, to build again). Then times, median of 5 runs, each through a fresh read-only
connection as `p114` and notebooks open one:

- one unit over all dates: every period of one BM unit from settlement_canonical;
- the top 20 VLP units over the year by net balancing revenue (vlp_revenue_daily);
- the daily market structure over the year: MWh and units per class per date (unit_classification);
- for scale, a full scan: metered energy per date and BM unit kind from bm_unit_period.

Target (issue 14): each of the first three under 1 s. The queries are also timed after the first
--checkpoints dates (default 60) while the year is being built. Also prints the DuckDB bytes per date and
per year, and BigQuery's logical bytes per year (its billing rules, from one date's tables).

    python bench/bench_year.py [--dates 365] [--units 8000] [--run SF] [--rebuild]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time
from pathlib import Path

import realscale
from estimate_bigquery_cost import logical_bytes


def median_run(run, repeat: int = 5) -> tuple[float, float]:
    """Median wall and CPU seconds (CPU: both cores, this process; on a machine shared with other
    work the wall time stretches, the CPU time does not)."""
    wall, cpu = [], []
    for _ in range(repeat):
        started, used = time.perf_counter(), time.process_time()
        run()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)
    return statistics.median(wall), statistics.median(cpu)


def timed(label: str, warehouse, sql_text: str, repeat: int = 5) -> None:
    """A query cold (a fresh connection each time, as `p114` commands and the assets open one: it
    loads the tables' row-group metadata first) and warm (one open connection, as a notebook or
    the Python API keeps)."""
    cold, cold_cpu = median_run(lambda: warehouse.query(sql_text), repeat)
    with warehouse.connect(read_only=True) as con:
        con.execute(sql_text).fetchall()
        warm, warm_cpu = median_run(lambda: con.execute(sql_text).fetchall(), repeat)
    print(f"| {label} | {cold:.3f} | {cold_cpu:.3f} | {warm:.3f} | {warm_cpu:.3f} | {'yes' if warm < 1 else 'NO'} / "
          f"{'yes' if cold < 1 else 'NO'} |", flush=True)


def months(dates: list[dt.date]) -> list[list[dt.date]]:
    chunks: dict[tuple[int, int], list[dt.date]] = {}
    for day in dates:
        chunks.setdefault((day.year, day.month), []).append(day)
    return list(chunks.values())


def build(path: Path, dates: list[dt.date], run_type: str, units: int, checkpoints: list[int], measure) -> None:
    """Load and derive a month at a time; at each checkpoint (dates loaded), time the queries."""
    from p114_assets.core.classification import Thresholds
    from p114_assets.warehouse import sql
    from p114_assets.warehouse.duckdb import DuckDBWarehouse

    partial = path.with_suffix(".building")
    partial.unlink(missing_ok=True)
    warehouse = DuckDBWarehouse(path=str(partial))
    started, write, done = time.perf_counter(), 0.0, 0
    days = realscale.Days(units, run_type, dates[0])
    pending = sorted(checkpoints)
    for month in months(dates):
        for day in month:
            tables = days.tables(day, done)
            t = time.perf_counter()
            warehouse.replace_partition(tables, day, run_type)
            write += time.perf_counter() - t
            done += 1
        a, b = month[0], month[-1]
        warehouse.replace_dates("settlement_canonical_runs", a, b, sql.canonical_runs(a, b))
        for table, select in (("vlp_revenue_period", sql.vlp_revenue_period), ("vlp_revenue_daily", sql.vlp_revenue_daily),
                              ("vlp_party_daily", sql.vlp_party_daily)):  # fmt: skip
            warehouse.replace_dates(table, a, b, select(a, b))
        warehouse.replace_dates("unit_classification", a, b, sql.unit_classification(month, Thresholds()))
        print(f"  {a:%Y-%m}: {done} dates loaded and derived, {time.perf_counter() - started:.0f} s "
              f"({write / done:.2f} s a date writing raw rows)", flush=True)
        while pending and done >= pending[0]:
            pending.pop(0)
            with warehouse.connect() as con:
                con.execute("CHECKPOINT")
            measure(warehouse, dates[:done], partial.stat().st_size)
    with warehouse.connect() as con:
        con.execute("CHECKPOINT")
    partial.replace(path)


def measure(warehouse, dates: list[dt.date], size: int) -> None:
    """The analyst queries over the dates loaded so far, with the file's size."""
    from p114_assets.warehouse import sql

    n = len(dates)
    rows = warehouse.query("SELECT COUNT(*) AS n FROM p114.bm_unit_period").column("n")[0].as_py()
    print(f"\n{n} dates: {rows:,} bm_unit_period rows, DuckDB file {size / 2**30:.2f} GiB ({size / n / 2**20:.1f} MiB a date, "
          f"{size * 365 / n / 2**30:.1f} GiB a year of one run); load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    first, last = dates[0], dates[-1]
    unit = warehouse.query("SELECT bm_unit_id FROM p114.settlement_canonical WHERE settlement_date = "
                           f"{sql.date_literal(first)} AND STARTS_WITH(bm_unit_id, 'T_') ORDER BY bm_unit_id LIMIT 1").column(0)[0].as_py()  # fmt: skip
    print("| query | cold s | cold CPU s | warm s | warm CPU s | under 1 s warm / cold |\n|---|---|---|---|---|---|")
    one_unit = (f"SELECT settlement_date, settlement_period, period_start_utc, metered_volume_mwh, balancing_services_volume_mwh, "
                f"period_fpn_mwh FROM p114.settlement_canonical WHERE bm_unit_id = '{unit}' ORDER BY period_start_utc")  # fmt: skip
    n_unit = warehouse.query(one_unit).num_rows
    timed(f"one unit ({unit}) over all {n} dates, {n_unit:,} periods", warehouse, one_unit)
    top = (f"SELECT bm_unit_id, lead_party_id, SUM(net_balancing_revenue_gbp) AS net FROM p114.vlp_revenue_daily "
           f"WHERE {sql.dates_between('settlement_date', first, last)} GROUP BY bm_unit_id, lead_party_id ORDER BY net DESC LIMIT 20")  # fmt: skip
    timed(f"top 20 VLP units over {n} dates", warehouse, top)
    structure = ("SELECT settlement_date, class, SUM(a_tot_mwh) AS mwh, COUNT(*) AS units FROM p114.unit_classification "
                 f"WHERE {sql.dates_between('settlement_date', first, last)} GROUP BY settlement_date, class ORDER BY 1, 2")  # fmt: skip
    timed(f"daily market structure over {n} dates", warehouse, structure)
    scan = (f"SELECT settlement_date, run_type, {sql.unit_kind_case('bm_unit_id')} AS kind, SUM(metered_volume_mwh) / 1000 AS gwh "
            "FROM p114.bm_unit_period GROUP BY 1, 2, 3")  # fmt: skip
    timed("full scan: energy per date and unit kind (the report's)", warehouse, scan, repeat=3)
    print(f"load average after: {os.getloadavg()[0]:.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dates", type=int, default=365)
    parser.add_argument("--units", type=int, default=8000)
    parser.add_argument("--run", default="SF")
    parser.add_argument("--first", type=dt.date.fromisoformat, default=dt.date(2024, 1, 1))
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--checkpoints", default="60", help="also time the queries after this many dates (comma-separated)")
    args = parser.parse_args()

    from p114_assets.warehouse import sql
    from p114_assets.warehouse.duckdb import DuckDBWarehouse
    from p114_assets.warehouse.stored import stored_rows

    dates = [args.first + dt.timedelta(days=i) for i in range(args.dates)]
    path = realscale.CACHE / f"year_{args.units}u_{args.run}_{args.first}_{args.dates}d.duckdb"
    print(f"{dt.date.today()}: {os.cpu_count()} cores, load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())} (1/5/15 min)")
    checkpoints = [int(n) for n in args.checkpoints.split(",") if n and int(n) < args.dates]
    if args.rebuild or not path.exists():
        build(path, dates, args.run, args.units, checkpoints, measure)
    warehouse, size = DuckDBWarehouse(path=str(path)), path.stat().st_size
    measure(warehouse, dates, size)
    first, last = dates[0], dates[-1]
    tables = stored_rows(realscale.Days(args.units, args.run, first).tables(first, 0))
    raw = sum(logical_bytes(t) for t in tables.values())
    derived = sum(logical_bytes(warehouse.query(f"SELECT * FROM p114.{name} WHERE settlement_date = {sql.date_literal(last)}"))
                  for name in ("settlement_canonical_runs", "vlp_revenue_period", "vlp_revenue_daily", "vlp_party_daily",
                               "unit_classification"))  # fmt: skip
    print(f"BigQuery logical bytes: {(raw + derived) / 2**20:.0f} MiB a date of one run with its derived tables -> "
          f"{365 * (raw + derived) / 2**30:.1f} GiB a year of one run (each further run: {365 * raw / 2**30:.1f} GiB); "
          f"DuckDB: {size * 365 / args.dates / 2**30:.1f} GiB a year of one run")  # fmt: skip


if __name__ == "__main__":
    main()
