"""What the engines add to the rows they are given, and how they bring a warehouse an earlier
release built up to date. Shared by DuckDB and BigQuery, in the portable SQL of sql.py.

- Raw rows get each period's UTC start and end (core.s0142.tables.add_period_times) as they are
  written, and a partition of bm_unit_period its row in `loaded_runs` and its totals per unit kind
  in `bm_unit_period_daily`, in the same transaction.
- An earlier release's tables: rows without period times get them (computed by core, per distinct
  date and period); `loaded_runs` and `bm_unit_period_daily` start from what bm_unit_period holds; a copied
  settlement_canonical table becomes pointer rows (the run it holds for each date) and the view.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import pyarrow as pa
import pyarrow.compute as pc

from p114_assets.core.s0142.tables import PERIOD_TIMES, add_period_times, period_times
from p114_assets.warehouse import sql
from p114_assets.warehouse.tables import BM_UNIT_PERIOD_DAILY, SETTLEMENT_CANONICAL_RUNS
from p114_assets.warehouse.tables import LOADED_RUNS as LOADED_RUNS_SPEC

LOADED_RUNS = LOADED_RUNS_SPEC.name
DAILY = BM_UNIT_PERIOD_DAILY.name
CANONICAL_RUNS = SETTLEMENT_CANONICAL_RUNS.name
PERIOD_START, PERIOD_END = (c.name for c in PERIOD_TIMES)


def stored_rows(tables: Mapping[str, pa.Table], release: bool = False) -> dict[str, pa.Table]:
    """The parsed rows of each raw table as stored: with period_start_utc and period_end_utc.
    `release`: the caller hands its rows over: `tables` (a dict) is emptied, so only the returned
    dict holds them and each table's memory can go as soon as its holder drops it."""
    as_stored = {name: add_period_times(rows) for name, rows in tables.items()}
    if release:
        tables.clear()  # type: ignore[attr-defined]
    return as_stored


def loaded_run(bm_unit_period: pa.Table, loaded_at: dt.datetime | None = None) -> pa.Table | None:
    """The loaded_runs row of a partition's bm_unit_period rows (None: no rows, nothing loaded)."""
    if bm_unit_period.num_rows == 0:
        return None
    first = {name: bm_unit_period.column(name)[0].as_py() for name in ("settlement_date", "run_type", "flow_version")}
    stamp = pc.max(bm_unit_period.column("publication_ts")).as_py()
    row = {**first, "publication_ts": stamp, "loaded_at": loaded_at or dt.datetime.now(dt.timezone.utc)}
    schema = LOADED_RUNS_SPEC.arrow_schema()
    return pa.Table.from_pylist([{name: row[name] for name in schema.names}], schema=schema)


def loaded_runs_from_rows(schema: str) -> str:
    """Fill a new loaded_runs table with the runs bm_unit_period already holds."""
    return f"""
    INSERT INTO {schema}.{LOADED_RUNS} (settlement_date, run_type, publication_ts, flow_version)
    SELECT settlement_date, run_type, MAX(publication_ts), MAX(flow_version)
    FROM {schema}.bm_unit_period GROUP BY settlement_date, run_type
    """


# the bm_unit_period columns bm_unit_period_daily is computed from (all daily_from_rows reads)
DAILY_FROM = ("settlement_date", "run_type", "bm_unit_id", "settlement_period", "metered_volume_mwh")


def daily_from_rows(schema: str, where: str = "TRUE", source: str | None = None) -> str:
    """Add bm_unit_period_daily's rows of the bm_unit_period partitions `where` selects (a partition
    just written, in its transaction; or every partition, when the table is new), read from
    `source` (default: the stored bm_unit_period; DuckDB's raw write: the partition's rows in hand)."""
    return f"""
    INSERT INTO {schema}.{DAILY} (settlement_date, run_type, unit_kind, bm_units, periods, row_count, metered_volume_mwh)
    SELECT settlement_date, run_type, unit_kind, COUNT(DISTINCT bm_unit_id), COUNT(DISTINCT settlement_period), COUNT(*),
           SUM(metered_volume_mwh)
    FROM (SELECT {", ".join(DAILY_FROM)}, {sql.unit_kind_case("bm_unit_id")} AS unit_kind
          FROM {source or f"{schema}.bm_unit_period"} WHERE {where}) AS k
    GROUP BY settlement_date, run_type, unit_kind
    """


def pointer_from_copy(schema: str) -> str:
    """Pointer rows from the canonical table an earlier release copied: the run it holds for each
    date it holds (dates the pointer already covers keep their pointer)."""
    return f"""
    INSERT INTO {schema}.{CANONICAL_RUNS} (settlement_date, run_type, publication_ts)
    SELECT settlement_date, MAX(run_type), MAX(publication_ts)
    FROM {schema}.settlement_canonical_copy
    WHERE settlement_date NOT IN (SELECT settlement_date FROM {schema}.{CANONICAL_RUNS})
    GROUP BY settlement_date
    """


def periods_without_times(schema: str, table: str) -> str:
    """The distinct (date, period) of a table's rows that have no period times yet."""
    return (f"SELECT DISTINCT settlement_date, settlement_period FROM {schema}.{table} "
            f"WHERE {PERIOD_START} IS NULL")  # fmt: skip


def fill_period_times(schema: str, table: str, times: str) -> str:
    """Set the period times of rows without them from a (date, period, start, end) table."""
    return f"""
    UPDATE {schema}.{table} AS t SET {PERIOD_START} = p.{PERIOD_START}, {PERIOD_END} = p.{PERIOD_END}
    FROM {times} AS p
    WHERE t.settlement_date = p.settlement_date AND t.settlement_period = p.settlement_period
      AND t.{PERIOD_START} IS NULL
    """
