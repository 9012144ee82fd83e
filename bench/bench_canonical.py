"""Benchmark: canonical settlement as a copy (before) and as a pointer table with a view (after).

Loads N real-scale dates (8,000 BM units; July 2024) with two runs each, II and SF, through the
warehouse's load path (bench/realscale.py), then in the same DuckDB file:

- before: the copy main made until issue 14, every row of each date's chosen run written into a
  table (the SQL it ran, kept here as the baseline);
- after: the pointer refresh the settlement_canonical asset runs now (one row per date), read through
  the settlement_canonical view.

Prints, for each: seconds to refresh the N dates, bytes the DuckDB file grew by, and the median of
5 runs of each query through the copy and through the view. Then the BigQuery side by BigQuery's
billing rules (logical bytes of the columns a query names, in the partitions it reads): storage per
year, and bytes each query bills through the copy and through the view.

    python bench/bench_canonical.py [--dates 31] [--units 8000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time
from pathlib import Path

import realscale
from estimate_bigquery_cost import column_bytes

# What main ran until issue 14 (warehouse/sql.py `canonical`): the chosen run's rows, copied.
OLD_CANONICAL = """
    WITH runs AS (
        SELECT settlement_date, run_type, MAX(publication_ts) AS publication_ts
        FROM p114.bm_unit_period WHERE settlement_date BETWEEN DATE '{a}' AND DATE '{b}'
        GROUP BY settlement_date, run_type
    ),
    ranked AS (
        SELECT settlement_date, run_type, publication_ts,
               ROW_NUMBER() OVER (PARTITION BY settlement_date ORDER BY {rank} DESC, publication_ts DESC) AS pick
        FROM runs
    )
    SELECT b.* FROM p114.bm_unit_period AS b
    JOIN ranked AS r ON b.settlement_date = r.settlement_date AND b.run_type = r.run_type
     AND b.publication_ts = r.publication_ts AND r.pick = 1
    WHERE b.settlement_date BETWEEN DATE '{a}' AND DATE '{b}'
"""


def median_seconds(run, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def file_bytes(warehouse) -> int:
    with warehouse.connect() as con:
        con.execute("CHECKPOINT")
    return os.path.getsize(warehouse.path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dates", type=int, default=31)
    parser.add_argument("--units", type=int, default=8000)
    args = parser.parse_args()

    from p114_assets.core.classification import Thresholds
    from p114_assets.warehouse import sql
    from p114_assets.warehouse.duckdb import DuckDBWarehouse
    from p114_assets.warehouse.stored import stored_rows

    first = dt.date(2024, 7, 1)
    dates = [first + dt.timedelta(days=i) for i in range(args.dates)]
    a, b = dates[0], dates[-1]
    print(f"{dt.date.today()}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="p114-canonical-") as tmp:
        warehouse = DuckDBWarehouse(path=str(Path(tmp) / "p114.duckdb"))
        for run in ("II", "SF"):
            realscale.load(warehouse, dates, run, args.units)
        loaded = file_bytes(warehouse)
        rows = warehouse.query("SELECT COUNT(*) AS n FROM p114.bm_unit_period").column("n")[0].as_py()
        print(f"loaded {len(dates)} dates x II, SF: {rows:,} bm_unit_period rows, DuckDB file {loaded / 2**20:,.0f} MiB")

        # before: the copy, as one backfill run of the month wrote it
        started = time.perf_counter()
        with warehouse.connect() as con:
            con.execute("CREATE TABLE p114.canonical_copy AS " + OLD_CANONICAL.format(a=a, b=b, rank=sql.run_rank()))
        copy_seconds = time.perf_counter() - started
        copy_bytes = file_bytes(warehouse) - loaded
        # after: the pointer rows, read through the view
        started = time.perf_counter()
        warehouse.replace_dates("settlement_canonical_runs", a, b, sql.canonical_runs(a, b))
        pointer_seconds = time.perf_counter() - started
        pointer_bytes = file_bytes(warehouse) - loaded - copy_bytes

        unit = warehouse.query("SELECT bm_unit_id FROM p114.bm_unit_period WHERE settlement_date = DATE '2024-07-01' "
                               "AND bm_unit_id LIKE 'T_%' ORDER BY bm_unit_id LIMIT 1").column(0)[0].as_py()  # fmt: skip
        last = dates[-1]
        queries = {
            "one unit, every date": f"SELECT settlement_date, settlement_period, metered_volume_mwh FROM {{t}} WHERE bm_unit_id = '{unit}'",
            "one date, energy by unit kind": f"SELECT {sql.unit_kind_case()} AS kind, SUM(metered_volume_mwh) FROM {{t}} "
                                             f"WHERE settlement_date = DATE '{last}' GROUP BY 1",
            "every date, energy by run": "SELECT run_type, SUM(metered_volume_mwh) FROM {t} GROUP BY 1",
            "vlp_revenue_period SQL, the month": sql.vlp_revenue_period(a, b).replace("p114.settlement_canonical", "{t}"),
            "unit_classification SQL, last date": sql.unit_classification([last], Thresholds()).replace("p114.settlement_canonical", "{t}"),
        }  # fmt: skip
        timings = {}
        for label, text in queries.items():
            timings[label] = tuple(median_seconds(lambda q=text.replace("{t}", t): warehouse.query(q))
                                   for t in ("p114.canonical_copy", "p114.settlement_canonical"))  # fmt: skip
        same = warehouse.query("SELECT COUNT(*) AS n FROM (SELECT * EXCLUDE (is_stale) FROM p114.settlement_canonical "
                               "EXCEPT SELECT * FROM p114.canonical_copy)").column("n")[0].as_py()  # fmt: skip
        assert same == 0, "the view and the copy disagree"

        print(f"\nDuckDB, {len(dates)} dates, two runs each (copy = before, pointer + view = after):")
        print(f"| | copy (before) | pointer + view (after) |\n|---|---|---|")
        print(f"| refresh {len(dates)} dates, s | {copy_seconds:.2f} | {pointer_seconds:.3f} |")
        print(f"| storage added | {copy_bytes / 2**20:,.0f} MiB ({copy_bytes / len(dates) / 2**20:.1f} MiB a date, "
              f"{copy_bytes / loaded:.0%} of the raw file) | {max(pointer_bytes, 0) / 2**10:,.0f} KiB |")  # fmt: skip
        for label, (before, after) in timings.items():
            print(f"| {label}, s | {before:.3f} | {after:.3f} ({after / before:.2f}x) |")

        # BigQuery, by its billing rules, from one template date's two runs
        days = realscale.Days(args.units, "II", first)
        ii = stored_rows(days.tables(first, 0))["bm_unit_period"]
        sf = stored_rows(realscale.Days(args.units, "SF", first).tables(first, 0))["bm_unit_period"]
        per_run = {k: (v + column_bytes(sf)[k]) / 2 for k, v in column_bytes(ii).items()}  # bytes of a column, one run of one date

        def billed(columns: list[str], dates_read: int, runs_read: int) -> float:
            return sum(per_run[c] for c in columns) * dates_read * runs_read

        wanted = {
            "one unit, every date": (["settlement_date", "settlement_period", "metered_volume_mwh", "bm_unit_id"], len(dates)),
            "one date, energy by unit kind": (["bm_unit_id", "metered_volume_mwh", "settlement_date"], 1),
            "every date, energy by run": (["run_type", "metered_volume_mwh"], len(dates)),
        }
        runs_loaded = 2
        print(f"\nBigQuery, billed bytes by its rules ({runs_loaded} runs loaded a date; the view also reads "
              f"run_type and settlement_date to join the pointer, and the pointer and loaded_runs tables, "
              f"a few KiB, billed at BigQuery's 10 MB minimum per table):")
        print("| query | copy (before) | view (after) |\n|---|---|---|")
        for label, (columns, n) in wanted.items():
            before = billed(columns, n, 1)
            after = billed(sorted(set(columns) | {"run_type", "settlement_date"}), n, runs_loaded) + 2 * 10 * 2**20
            print(f"| {label} | {before / 2**20:,.1f} MiB | {after / 2**20:,.1f} MiB |")
        year_copy = sum(per_run.values()) * 365
        print(f"storage a year: the copy {year_copy / 2**30:.1f} GiB logical (~${year_copy / 2**30 * 0.02:.2f} a month active, "
              f"${year_copy / 2**30 * 0.01:.2f} long-term); the pointer {365 * 40 / 2**10:.0f} KiB")  # fmt: skip


if __name__ == "__main__":
    main()
