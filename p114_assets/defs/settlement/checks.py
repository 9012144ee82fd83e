"""Per-partition asset checks on the settlement assets, visible in the UI.

The rules themselves live in core/quality.py (shared with `p114 validate`); here they are read
from the warehouse one partition at a time and reported to Dagster. ERROR rules are blocking:
downstream assets do not materialize from a partition that failed one.

A run that covers several partitions (a chunk of a backfill) records one evaluation per partition
and yields an overall result for the run (passed only if every partition passed), because Dagster
attributes a check result to a partition only in single-partition runs.
"""

import datetime as dt
from collections.abc import Iterator

import dagster as dg
import polars as pl

from p114_assets.core import quality
from p114_assets.core.quality import Outcome
from p114_assets.defs.check_results import report
from p114_assets.core.s0142.layout import RAW_TABLES, TableSpec
from p114_assets.core.s0142.parser import S0142Error, check_header_matches, inspect_file
from p114_assets.defs.partitions import dates_of, partitions_of, settlement_date_partitions, settlement_run_partitions
from p114_assets.defs.derived import WAREHOUSE_POOL
from p114_assets.defs.settlement.resources import LandingZone
from p114_assets.warehouse import sql
from p114_assets.warehouse.base import SCHEMA, Warehouse

def _raw_table_checks(table: TableSpec) -> dg.AssetChecksDefinition:
    specs = [
        dg.AssetCheckSpec(rule.name, asset=table.name, partitions_def=settlement_run_partitions,
                          blocking=rule.severity == "ERROR", description=f"[{rule.severity}] {_DESCRIPTIONS[rule.name]}")
        for rule in quality.rules_for(table)
    ]  # fmt: skip

    @dg.multi_asset_check(specs=specs, name=f"{table.name}_checks", pool=WAREHOUSE_POOL)
    def _checks(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> Iterator[dg.AssetCheckResult]:
        outcomes = {}
        for settlement_date, run_type in partitions_of(context):
            rows = pl.from_arrow(warehouse.read_partition(table.name, settlement_date, run_type))
            outcomes[f"{settlement_date}|{run_type}"] = quality.partition_outcomes(table, rows, settlement_date)
        yield from report(context, table.name, outcomes)

    return _checks


_DESCRIPTIONS = {
    "periods_per_day": "periods 1..N present, N = 46 / 48 / 50 from the length of the day in Europe/London",
    "every_unit_every_period": "every BM unit has every period of the day",
    "no_duplicate_unit_periods": "no (BM unit, period) appears twice",
    "bpi_matches_bp7": "every BPI has its BP7 twin and agrees with it",
    "schema": "pandera: column types, nullability, periods in 1..50, run type in the seven codes",
    "value_ranges": "pandera: TLM near 1, prices within sane bounds, non-delivery >= 0, volumes of the right sign",
}


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec("header_matches_partition", asset="s0142_file", partitions_def=settlement_run_partitions,
                          blocking=True, description="[ERROR] AAA/SRH date and run type equal the partition and the file name"),
        dg.AssetCheckSpec("trailer_line_count", asset="s0142_file", partitions_def=settlement_run_partitions,
                          blocking=True, description="[ERROR] the ZZZ trailer counts the lines of the file"),
    ],  # fmt: skip
    name="s0142_file_checks",
)
def s0142_file_checks(context: dg.AssetCheckExecutionContext, landing: LandingZone) -> Iterator[dg.AssetCheckResult]:
    outcomes = {}
    for settlement_date, run_type in partitions_of(context):
        outcomes[f"{settlement_date}|{run_type}"] = _file_outcomes(landing, settlement_date, run_type)
    yield from report(context, "s0142_file", outcomes)


def _file_outcomes(landing: LandingZone, settlement_date: dt.date, run_type: str) -> list[Outcome]:
    path = landing.latest(settlement_date, run_type)
    if path is None:
        missing = f"no landed file for {settlement_date} {run_type}"
        return [Outcome("header_matches_partition", False, "ERROR", missing), Outcome("trailer_line_count", False, "ERROR", missing)]
    try:
        header = inspect_file(path)
    except S0142Error as exc:
        failed = Outcome(exc.check if exc.check == "trailer_line_count" else "header_matches_partition", False, "ERROR", str(exc))
        other = "header_matches_partition" if failed.check == "trailer_line_count" else "trailer_line_count"
        return [failed, Outcome(other, False, "ERROR", f"not checked: {exc.reason}")]
    trailer = Outcome("trailer_line_count", True, "ERROR", f"ZZZ counts {header.line_count:,} lines, as the file has",
                      metadata={"line_count": header.line_count})  # fmt: skip
    try:
        check_header_matches(header, settlement_date, run_type)
    except S0142Error as exc:
        return [Outcome("header_matches_partition", False, "ERROR", exc.reason), trailer]
    return [Outcome("header_matches_partition", True, "ERROR", f"{path.name}: header {header.settlement_date} {header.run_type}",
                    metadata={"file_name": path.name, "publication_stamp": header.publication_stamp}), trailer]  # fmt: skip


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec("one_run_per_date", asset="settlement_canonical", partitions_def=settlement_date_partitions,
                          blocking=True, description="[ERROR] exactly one run type per settlement date"),
        dg.AssetCheckSpec("vlp_units_still_present", asset="settlement_canonical", partitions_def=settlement_date_partitions,
                          description="[WARN] VLP (V__) units seen on the previous canonical date are still present"),
    ],  # fmt: skip
    name="settlement_canonical_checks",
    pool=WAREHOUSE_POOL,
)
def settlement_canonical_checks(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> Iterator[dg.AssetCheckResult]:
    dates = dates_of(context)
    units = _units_by_date(warehouse, dates[0] - dt.timedelta(days=1), dates[-1])
    runs = warehouse.query(
        f"SELECT DISTINCT settlement_date, run_type FROM {SCHEMA}.settlement_canonical "
        f"WHERE {sql.dates_between('settlement_date', dates[0], dates[-1])}"
    )
    runs_df = pl.from_arrow(runs) if runs.num_rows else pl.DataFrame(schema={"settlement_date": pl.Date, "run_type": pl.String})
    outcomes = {}
    for day in dates:
        previous = units.get(day - dt.timedelta(days=1))
        outcomes[day.isoformat()] = [
            quality.one_run_per_date(runs_df.filter(pl.col("settlement_date") == day), [day]),
            quality.vlp_units_still_present(units.get(day, set()), previous, day),
        ]
    yield from report(context, "settlement_canonical", outcomes)


def _units_by_date(warehouse: Warehouse, start: dt.date, end: dt.date) -> dict[dt.date, set[str]]:
    rows = warehouse.query(
        f"SELECT DISTINCT settlement_date, bm_unit_id FROM {SCHEMA}.settlement_canonical "
        f"WHERE {sql.dates_between('settlement_date', start, end)}"
    ).to_pylist()
    by_date: dict[dt.date, set[str]] = {}
    for row in rows:
        by_date.setdefault(row["settlement_date"], set()).add(row["bm_unit_id"])
    return by_date


RAW_TABLE_CHECKS = [_raw_table_checks(table) for table in RAW_TABLES.values()]
CHECKS: list[dg.AssetChecksDefinition] = [s0142_file_checks, *RAW_TABLE_CHECKS, settlement_canonical_checks]
