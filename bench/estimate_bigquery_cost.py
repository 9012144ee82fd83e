"""Estimate: what a year of P114 data costs on BigQuery (storage and on-demand query bytes).

Measures one real-scale settlement date: a real-scale S0142 file (8,000 BM units) is parsed and
loaded, every derived table of the date is computed (in DuckDB, by the same SQL BigQuery runs),
and each table's BigQuery *logical* size is counted with BigQuery's own rules (INT64, FLOAT64,
DATE, DATETIME: 8 bytes; STRING: 2 bytes + its UTF-8 length; NULL: nothing). Then scales it:

- storage: RUNS_PER_DATE runs of raw rows per date, one of each derived table, 365 dates;
- query bytes: a model of what p114 bills per date as the runs arrive one by one (printed below):
  on the k-th run, the DELETE of a (date, run) partition bills every column of the date's
  partition (k-1 runs already there), the INSERT bills the staged run; reconciliation re-reads the
  date's k runs of bm_unit_period; the marts and the canonical checks read the canonical view, which
  scans the date's k runs of bm_unit_period (the pointer picks one of them in a join); checks re-read
  the new run. An upper bound: BigQuery bills only the columns a query names.

Prices (USD, on-demand, US/EU multi-region, late 2026): logical storage $0.02/GiB-month active,
$0.01 long-term (a partition unmodified for 90 days); queries $6.25/TiB after 1 TiB a month free.

    python bench/estimate_bigquery_cost.py [--units 8000] [--runs-per-date 6]
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

GIB, TIB = 2**30, 2**40
ACTIVE_GIB_MONTH, LONG_TERM_GIB_MONTH, QUERY_TIB = 0.02, 0.01, 6.25
DERIVED = ("settlement_canonical_runs", "run_reconciliation", "vlp_revenue_period", "vlp_revenue_daily",
           "vlp_party_daily", "unit_classification")  # fmt: skip


def column_bytes(table: pa.Table) -> dict[str, int]:
    """Each column's size as BigQuery bills it (logical bytes): STRING 2 + its UTF-8 length, BOOL 1,
    NUMERIC 16, INT64 / FLOAT64 / DATE / DATETIME / TIMESTAMP 8; NULL nothing."""
    sizes = {}
    for name, column in zip(table.column_names, table.columns):
        valid = len(column) - column.null_count
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            sizes[name] = 2 * valid + int(pc.sum(pc.binary_length(column)).as_py() or 0)
        elif pa.types.is_boolean(column.type):
            sizes[name] = valid
        elif pa.types.is_decimal(column.type):
            sizes[name] = 16 * valid
        else:
            sizes[name] = 8 * valid
    return sizes


def logical_bytes(table: pa.Table) -> int:
    """A table's size as BigQuery bills it (logical bytes)."""
    return sum(column_bytes(table).values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=8000)
    parser.add_argument("--runs-per-date", type=int, default=6, help="II, SF, R1, R2, R3, RF (DF is rare)")
    args = parser.parse_args()

    from p114_assets.core.classification import Thresholds
    from p114_assets.core.synthetic import SyntheticMarket, generate_file
    from p114_assets.core.s0142.parser import parse_bytes
    from p114_assets.warehouse import sql
    from p114_assets.warehouse.duckdb import DuckDBWarehouse
    from p114_assets.warehouse.stored import stored_rows

    day = dt.date(2024, 10, 2)
    generated = generate_file(SyntheticMarket.build(args.units, seed=0), day, "SF")
    parsed = parse_bytes(generated.text, generated.file_name.name)
    raw = {name: logical_bytes(t) for name, t in stored_rows(parsed.tables).items()}  # with their period times
    with tempfile.TemporaryDirectory(prefix="p114-cost-") as tmp:
        warehouse = DuckDBWarehouse(path=str(Path(tmp) / "p114.duckdb"))
        warehouse.replace_partition(parsed.tables, day, "SF")
        selects = {"settlement_canonical_runs": sql.canonical_runs(day, day), "run_reconciliation": sql.run_reconciliation(day, day),
                   "vlp_revenue_period": sql.vlp_revenue_period(day, day), "vlp_revenue_daily": sql.vlp_revenue_daily(day, day),
                   "vlp_party_daily": sql.vlp_party_daily(day, day), "unit_classification": sql.unit_classification([day], Thresholds())}  # fmt: skip
        derived = {}
        for name in DERIVED:
            warehouse.replace_dates(name, day, day, selects[name])
            derived[name] = logical_bytes(warehouse.query(f"SELECT * FROM p114.{name} WHERE settlement_date = DATE '{day}'"))

    run = sum(raw.values())  # one run of one date, all raw tables
    bmu = raw["bm_unit_period"]  # settlement_canonical is a view over it: one pointer row a date is all it stores
    marts = sum(derived[n] for n in DERIVED[2:])
    date_storage = args.runs_per_date * run + sum(derived.values())
    year_storage = 365 * date_storage
    query = 0
    for k in range(1, args.runs_per_date + 1):
        query += (k - 1) * run + run  # DELETE the (date, run) partition (bills the date's partition), INSERT the staged run
        query += k * bmu  # reconciliation reads k runs (canonical's pointer reads loaded_runs: a few bytes)
        query += k * bmu + marts  # the marts read the canonical view (the date's k runs, all columns at most), their DELETEs
        query += run + k * bmu  # checks of the new run and of the canonical date (the view again)
    year_query = 365 * query

    print(f"one real-scale date ({args.units:,} BM units), BigQuery logical bytes:")
    for name, size in [*raw.items(), *derived.items()]:
        print(f"  {name:24} {size / 2**20:9.1f} MiB")
    print(f"one run (raw tables): {run / 2**20:.0f} MiB; one date with {args.runs_per_date} runs + derived: {date_storage / 2**20:.0f} MiB")
    print(f"a year of dates: storage {year_storage / GIB:.0f} GiB logical -> ${year_storage / GIB * ACTIVE_GIB_MONTH:.2f}/month active, "
          f"${year_storage / GIB * LONG_TERM_GIB_MONTH:.2f}/month once long-term -> ~${12 * year_storage / GIB * LONG_TERM_GIB_MONTH:.0f}/year")  # fmt: skip
    print(f"a year of loading: <= {year_query / TIB:.1f} TiB billed (upper bound) -> <= ${year_query / TIB * QUERY_TIB:.0f} on demand, "
          f"before the 1 TiB/month free tier; {year_query / run / 365:.0f} run-sizes billed per date")  # fmt: skip
    print(f"backfill 2022-2025 (4 years): storage ~{4 * year_storage / GIB:.0f} GiB (~${4 * year_storage / GIB * LONG_TERM_GIB_MONTH:.0f}/month "
          f"long-term), loading <= ${4 * year_query / TIB * QUERY_TIB:.0f} once")  # fmt: skip


if __name__ == "__main__":
    main()
