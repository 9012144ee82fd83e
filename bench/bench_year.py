"""Benchmark: a year of real-scale settlement dates in DuckDB, and the analyst queries on it.

Builds N real-scale dates (default 365 from 2024-01-01, 8,000 BM units, one run type, SF) through
the warehouse's load path (bench/realscale.py: five generated template days re-dated, the two
clock-change dates generated for what they are), points canonical at every date, and computes the
marts a month at a time, as backfill runs do. The file is kept under bench/.cache (delete it, or
pass --rebuild, to build again; --file times a year file built elsewhere, read-only). Then times
each query three ways:

- cold process, file in the OS page cache: a fresh Python process opens the warehouse and runs the
  query once (as a `p114` command or an asset run does), after the file has just been read;
- cold process, file evicted: the same after the file's pages are dropped from the OS page cache
  (posix_fadvise DONTNEED on this one file: the first query after a reboot);
- warm: one open connection, the query repeated (a notebook, the Python API).

Cold figures are the median of --repeat fresh processes; each is the query alone (connect, attach,
run, fetch), its CPU seconds and the process's peak RSS. The queries:

- one unit over all dates: every period of one BM unit from settlement_canonical;
- the top 20 VLP units over the year by net balancing revenue (vlp_revenue_daily);
- the daily market structure over the year: MWh and units per class per date (unit_classification);
- for scale, a full scan: metered energy per date and BM unit kind from bm_unit_period.

Target (issue 14): each of the first three under 1 s. The queries are also timed after the first
--checkpoints dates (default 60) while the year is being built. Also prints the DuckDB bytes per date and
per year, and BigQuery's logical bytes per year (its billing rules, from one date's tables).

--cluster (with --file) first stores each month of bm_unit_period by unit across its dates
(cluster_dates), timing it and the re-load of a date before and after its month is clustered.

--write-dates N instead measures what the storage block size costs the raw write: N real-scale dates
written through replace_partition into two fresh files, one with DuckDB's default 256 KiB blocks
and one with the warehouse's block size, date by date alternating.

    python bench/bench_year.py [--dates 365] [--units 8000] [--run SF] [--rebuild] [--file YEAR.duckdb [--upgrade]]
    python bench/bench_year.py --file COPY.duckdb --cluster   # months stored by unit first (re-writes COPY)
    python bench/bench_year.py --write-dates 10
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
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


# Run in a fresh process: the warehouse opened and the query run once, as a `p114` command does.
# REPORT_QUERIES: the two the report reads of bm_unit_period; REPORT: `p114 report`'s whole page.
REPORT_QUERIES, REPORT = "report queries", "report"
COLD_QUERY = """
import json, resource, sys, time
from p114_assets.warehouse.duckdb import DuckDBWarehouse
if sys.argv[2] in ("report queries", "report"):  # imports, not the query: done before timing
    import pandas  # DuckDB imports it when a query first takes parameters
    from p114_assets.app.report import build_report
    from p114_assets.warehouse import queries
warehouse = DuckDBWarehouse(path=sys.argv[1])
started, used = time.perf_counter(), time.process_time()
if sys.argv[2] == "report queries":
    rows = len(queries.coverage(warehouse)) + len(queries.energy_by_unit_kind(warehouse))
elif sys.argv[2] == "report":
    rows = len(build_report(warehouse))
else:
    rows = warehouse.query(sys.argv[2]).num_rows
print(json.dumps({"wall": time.perf_counter() - started, "cpu": time.process_time() - used, "rows": rows,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def evict(path: Path) -> None:
    """Drop this file's pages from the OS page cache (only this file's, no root needed)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def cold_run(path: Path, sql_text: str, evicted: bool) -> dict:
    if evicted:
        evict(path)
    out = subprocess.run([sys.executable, "-c", COLD_QUERY, str(path), sql_text], capture_output=True, text=True, check=True)
    return json.loads(out.stdout[out.stdout.rindex("{"):])  # after DuckDB's progress bar, if a query ran long enough to show it


def cold(path: Path, sql_text: str, evicted: bool, repeat: int) -> tuple[float, float, float]:
    """Median wall and CPU seconds of the query in fresh processes, and their largest peak RSS (MB)."""
    if not evicted:
        cold_run(path, sql_text, False)  # the file's pages in the OS cache, as after any recent query
    runs = [cold_run(path, sql_text, evicted) for _ in range(repeat)]
    return (statistics.median(r["wall"] for r in runs), statistics.median(r["cpu"] for r in runs),
            max(r["rss_mb"] for r in runs))  # fmt: skip


HEADER = ("| query | cold, file cached: s | CPU s | peak RSS | cold, file evicted: s | CPU s | warm s | warm CPU s | under 1 s "
          "(cached / evicted / warm) |\n|---|---|---|---|---|---|---|---|---|")  # fmt: skip


def timed(label: str, warehouse, sql_text: str, repeat: int = 5) -> None:
    """A query in fresh processes (file cached, then evicted) and warm (one open connection)."""
    path = Path(warehouse.path)
    cached, cached_cpu, rss = cold(path, sql_text, False, repeat)
    evicted, evicted_cpu, _ = cold(path, sql_text, True, repeat)
    if sql_text in (REPORT_QUERIES, REPORT):  # Python over several connections: no one connection to keep warm
        verdict = " / ".join("yes" if s < 1 else "NO" for s in (cached, evicted))
        print(f"| {label} | {cached:.3f} | {cached_cpu:.3f} | {rss:.0f} MB | {evicted:.3f} | {evicted_cpu:.3f} | - | - | {verdict} / - |",
              flush=True)  # fmt: skip
        return
    with warehouse.connect(read_only=True) as con:
        con.execute(sql_text).fetchall()
        warm, warm_cpu = median_run(lambda: con.execute(sql_text).fetchall(), repeat)
    verdict = " / ".join("yes" if s < 1 else "NO" for s in (cached, evicted, warm))
    print(f"| {label} | {cached:.3f} | {cached_cpu:.3f} | {rss:.0f} MB | {evicted:.3f} | {evicted_cpu:.3f} | {warm:.3f} | "
          f"{warm_cpu:.3f} | {verdict} |", flush=True)  # fmt: skip


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


def measure(warehouse, dates: list[dt.date], size: int, repeat: int = 5) -> None:
    """The analyst queries over the dates loaded so far, with the file's size and block size."""
    from p114_assets.warehouse import sql

    n = len(dates)
    rows = warehouse.query("SELECT COUNT(*) AS n FROM p114.bm_unit_period").column("n")[0].as_py()
    block = warehouse.query("SELECT block_size FROM pragma_database_size() WHERE database_name = 'warehouse'").column(0)[0].as_py()
    print(f"\n{n} dates: {rows:,} bm_unit_period rows, DuckDB file {size / 2**30:.2f} GiB ({size / n / 2**20:.1f} MiB a date, "
          f"{size * 365 / n / 2**30:.1f} GiB a year of one run), {block // 1024} KiB blocks; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    first, last = dates[0], dates[-1]
    unit = warehouse.query("SELECT bm_unit_id FROM p114.settlement_canonical WHERE settlement_date = "
                           f"{sql.date_literal(first)} AND STARTS_WITH(bm_unit_id, 'T_') ORDER BY bm_unit_id LIMIT 1").column(0)[0].as_py()  # fmt: skip
    print(HEADER)
    one_unit = (f"SELECT settlement_date, settlement_period, period_start_utc, metered_volume_mwh, balancing_services_volume_mwh, "
                f"period_fpn_mwh FROM p114.settlement_canonical WHERE bm_unit_id = '{unit}' ORDER BY period_start_utc")  # fmt: skip
    n_unit = warehouse.query(one_unit).num_rows
    timed(f"one unit ({unit}) over all {n} dates, {n_unit:,} periods", warehouse, one_unit, repeat)
    top = (f"SELECT bm_unit_id, lead_party_id, SUM(net_balancing_revenue_gbp) AS net FROM p114.vlp_revenue_daily "
           f"WHERE {sql.dates_between('settlement_date', first, last)} GROUP BY bm_unit_id, lead_party_id ORDER BY net DESC LIMIT 20")  # fmt: skip
    timed(f"top 20 VLP units over {n} dates", warehouse, top, repeat)
    structure = ("SELECT settlement_date, class, SUM(a_tot_mwh) AS mwh, COUNT(*) AS units FROM p114.unit_classification "
                 f"WHERE {sql.dates_between('settlement_date', first, last)} GROUP BY settlement_date, class ORDER BY 1, 2")  # fmt: skip
    timed(f"daily market structure over {n} dates", warehouse, structure, repeat)
    day = dates[len(dates) // 2]
    one_date = ("SELECT bm_unit_id, SUM(metered_volume_mwh) AS mwh FROM p114.settlement_canonical "
                f"WHERE settlement_date = {sql.date_literal(day)} GROUP BY 1")  # fmt: skip
    timed(f"one date ({day}), every unit's metered energy (what a month clustered by unit costs a date's reads)", warehouse,
          one_date, repeat)  # fmt: skip
    scan = (f"SELECT settlement_date, run_type, {sql.unit_kind_case('bm_unit_id')} AS kind, SUM(metered_volume_mwh) / 1000 AS gwh "
            "FROM p114.bm_unit_period GROUP BY 1, 2, 3")  # fmt: skip
    timed("full scan: energy per date and unit kind (what the report read before bm_unit_period_daily)", warehouse, scan,
          max(1, min(repeat, 3)))  # fmt: skip
    if warehouse.table_exists("bm_unit_period_daily"):
        timed("the report's coverage and energy per unit kind, from bm_unit_period_daily", warehouse, REPORT_QUERIES, repeat)
    timed("`p114 report`: the whole page (HTML, charts)", warehouse, REPORT, max(1, min(repeat, 3)))
    print(f"load average after: {os.getloadavg()[0]:.1f}", flush=True)


def write_cost(n: int, units: int, run_type: str, first: dt.date) -> None:
    """Seconds a date of the raw write (replace_partition) into a file of 256 KiB blocks and into
    one of the warehouse's block size, date by date alternating (which goes first alternates too):
    n dates loaded, then the same n dates re-loaded (the old rows replaced)."""
    from p114_assets.warehouse.duckdb import DuckDBWarehouse

    block = DuckDBWarehouse.model_fields["block_size"].default
    days = realscale.Days(units, run_type, first)
    with tempfile.TemporaryDirectory(prefix="blocks-", dir=realscale.CACHE) as tmp:
        files = {size: DuckDBWarehouse(path=f"{tmp}/{size}.duckdb", block_size=size) for size in (262144, block)}
        seconds: dict[tuple[int, str], list[float]] = {}
        for step, (i, what) in enumerate([(i, "load") for i in range(n)] + [(i, "re-load") for i in range(n)]):
            day = first + dt.timedelta(days=i)
            tables = days.tables(day, i)
            for size in sorted(files, reverse=step % 2 == 1):
                started = time.perf_counter()
                files[size].replace_partition(tables, day, run_type)
                seconds.setdefault((size, what), []).append(time.perf_counter() - started)
        print(f"\nraw write, {n} real-scale dates ({units:,} units) loaded then re-loaded, load average {os.getloadavg()[0]:.1f}:")
        print("| blocks | load: median s a date | re-load: median s a date | file after |\n|---|---|---|---|")
        base = {what: statistics.median(seconds[(262144, what)]) for what in ("load", "re-load")}
        for size, warehouse in files.items():
            load, reload = (statistics.median(seconds[(size, w)]) for w in ("load", "re-load"))
            print(f"| {size // 1024} KiB | {load:.2f} ({load / base['load']:.2f}x) | {reload:.2f} ({reload / base['re-load']:.2f}x) | "
                  f"{Path(warehouse.path).stat().st_size / 2**20:.0f} MiB |", flush=True)  # fmt: skip


def reload_seconds(warehouse, dates: list[dt.date], i: int, units: int, run_type: str, repeat: int = 3) -> float:
    """Median seconds to re-load the i-th date of the year with its own rows (replace_partition, the raw write)."""
    day, tables = dates[i], realscale.Days(units, run_type, dates[0]).tables(dates[i], i)
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        warehouse.replace_partition(tables, day, run_type)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def cluster_months(warehouse, dates: list[dt.date], units: int, run_type: str) -> None:
    """Store each month of bm_unit_period by unit across its dates (cluster_dates), timed, with
    the raw write of a date re-loaded into a month before and after it is clustered."""
    probe = dates[14]  # mid-January: re-loaded before and after its month is clustered
    before = reload_seconds(warehouse, dates, 14, units, run_type)
    print(f"\nclustering bm_unit_period by unit a month at a time, load average {os.getloadavg()[0]:.1f}:", flush=True)
    wall, cpu = [], []
    for month in months(dates):
        started, used = time.perf_counter(), time.process_time()
        rows = warehouse.cluster_dates("bm_unit_period", month[0], month[-1])
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)
        print(f"  {month[0]:%Y-%m}: {rows:,} rows in {wall[-1]:.1f} s ({cpu[-1]:.1f} CPU s, {wall[-1] / len(month):.2f} s a date), "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    after = reload_seconds(warehouse, dates, 14, units, run_type)
    warehouse.cluster_dates("bm_unit_period", probe.replace(day=1), months(dates)[0][-1])  # the month clustered again after it
    print(f"clustering: {sum(wall):.0f} s for {len(dates)} dates ({sum(wall) / len(dates):.2f} s, {sum(cpu) / len(dates):.2f} CPU s a "
          f"date); re-loading a date: {before:.2f} s into its month as loaded, {after:.2f} s into it clustered "
          f"({after / before:.2f}x)", flush=True)  # fmt: skip


def year_dates(warehouse) -> list[dt.date]:
    """The dates a year file holds (loaded_runs)."""
    return [r["d"] for r in warehouse.query("SELECT DISTINCT settlement_date AS d FROM p114.loaded_runs ORDER BY 1").to_pylist()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dates", type=int, default=365)
    parser.add_argument("--units", type=int, default=8000)
    parser.add_argument("--run", default="SF")
    parser.add_argument("--first", type=dt.date.fromisoformat, default=dt.date(2024, 1, 1))
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--file", type=Path, help="time the queries on this year file (built before, opened read-only) instead")
    parser.add_argument("--upgrade", action="store_true",
                        help="with --file: bring the file up to this release first (bm_unit_period_daily from its rows), timed")
    parser.add_argument("--cluster", action="store_true",
                        help="with --file: store each month of bm_unit_period by unit across its dates first (cluster_dates), "
                        "timed; this re-writes the file, so give it a copy")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes (and warm runs) a query is timed over")
    parser.add_argument("--checkpoints", default="60", help="also time the queries after this many dates (comma-separated)")
    parser.add_argument("--write-dates", type=int, help="only measure the raw write's cost by block size, over this many dates")
    args = parser.parse_args()

    from p114_assets.warehouse import sql
    from p114_assets.warehouse.duckdb import DuckDBWarehouse
    from p114_assets.warehouse.stored import stored_rows

    print(f"{dt.date.today()}: {os.cpu_count()} cores, load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())} (1/5/15 min)")
    if args.write_dates:
        write_cost(args.write_dates, args.units, args.run, args.first)
        return
    if args.file:
        path = args.file
        warehouse = DuckDBWarehouse(path=str(path))
        if args.upgrade:
            started = time.perf_counter()
            warehouse.create_tables(["bm_unit_period", "bm_unit_period_daily"])
            print(f"brought up to date (bm_unit_period_daily from every partition) in {time.perf_counter() - started:.1f} s")
        dates = year_dates(warehouse)
        if args.cluster:
            cluster_months(warehouse, dates, args.units, args.run)
    else:
        dates = [args.first + dt.timedelta(days=i) for i in range(args.dates)]
        path = realscale.CACHE / f"year_{args.units}u_{args.run}_{args.first}_{args.dates}d.duckdb"
        checkpoints = [int(n) for n in args.checkpoints.split(",") if n and int(n) < args.dates]
        if args.rebuild or not path.exists():
            build(path, dates, args.run, args.units, checkpoints, measure)
        warehouse = DuckDBWarehouse(path=str(path))
    size = path.stat().st_size
    measure(warehouse, dates, size, args.repeat)
    first, last = dates[0], dates[-1]
    tables = stored_rows(realscale.Days(args.units, args.run, first).tables(first, 0))
    raw = sum(logical_bytes(t) for t in tables.values())
    derived = sum(logical_bytes(warehouse.query(f"SELECT * FROM p114.{name} WHERE settlement_date = {sql.date_literal(last)}"))
                  for name in ("settlement_canonical_runs", "vlp_revenue_period", "vlp_revenue_daily", "vlp_party_daily",
                               "unit_classification"))  # fmt: skip
    print(f"BigQuery logical bytes: {(raw + derived) / 2**20:.0f} MiB a date of one run with its derived tables -> "
          f"{365 * (raw + derived) / 2**30:.1f} GiB a year of one run (each further run: {365 * raw / 2**30:.1f} GiB); "
          f"DuckDB: {size * 365 / len(dates) / 2**30:.1f} GiB a year of one run")  # fmt: skip


if __name__ == "__main__":
    main()
