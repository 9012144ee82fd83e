"""Per-partition asset checks on the settlement assets, visible in the UI.

The rules themselves live in core/quality.py (shared with `p114 validate`); here they are applied
one partition at a time and reported to Dagster (defs/check_results.py). ERROR rules are blocking.

The checks of the S0142 file and of the raw tables run inside the step that fetches or loads
them, so a partition that fails one is not materialized: its run fails, its backfill says so, and
nothing downstream is built from it, in a backfill as in a run. The other partitions of the same
chunk are materialized one by one and carry on. Canonical settlement is checked by a step of its own.
"""

import datetime as dt
from collections.abc import Iterator

import dagster as dg
import polars as pl

from p114_assets.core import partition_checks, quality
from p114_assets.core.quality import Outcome
from p114_assets.core.s0142.tables import RAW_TABLES
from p114_assets.defs.check_results import report, spec
from p114_assets.defs.partitions import dates_of, settlement_date_partitions, settlement_run_partitions
from p114_assets.defs.table_assets import WAREHOUSE_POOL
from p114_assets.warehouse import queries
from p114_assets.warehouse.base import Warehouse

# The checks the load step of the raw tables runs on a partition's rows before they replace the old ones
# (core/partition_checks.py): every rule of core/quality.py for each table, the settlement identities
# across tables (WARN, never blocking), and rows_vs_previous_version, each on the asset it names.
RAW_CHECK_SPECS = [
    *(spec(rule, table.name, settlement_run_partitions) for table in RAW_TABLES.values() for rule in quality.rules_for(table)),
    *(spec(identity.rule, identity.asset, settlement_run_partitions) for identity in quality.IDENTITIES),
    spec(partition_checks.ROWS_VS_PREVIOUS, partition_checks.ROWS_VS_PREVIOUS_ASSET, settlement_run_partitions),
]
# The checks the fetch step of the file runs, on the fetched file, before it enters the landing zone.
FILE_CHECK_SPECS = [spec(rule, "s0142_file", settlement_run_partitions) for rule in (quality.HEADER_MATCHES_PARTITION, quality.TRAILER_LINE_COUNT)]


def unreadable_outcomes(reason: str) -> list[Outcome]:
    """The file checks of a partition whose source answered with something that is not a file
    (a Portal error page, a body cut off): it cannot be an S0142 file."""
    return [quality.HEADER_MATCHES_PARTITION.outcome(False, f"no S0142 file: {reason}"),
            quality.TRAILER_LINE_COUNT.outcome(False, f"not checked: {reason}")]  # fmt: skip


@dg.multi_asset_check(
    specs=[spec(rule, "settlement_canonical", settlement_date_partitions)
           for rule in (quality.ONE_RUN_PER_DATE, quality.VLP_UNITS_STILL_PRESENT)],  # fmt: skip
    name="settlement_canonical_checks",
    pool=WAREHOUSE_POOL,
)
def settlement_canonical_checks(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> Iterator:
    dates = dates_of(context)
    units = queries.units_by_date(warehouse, "settlement_canonical", dates[0] - dt.timedelta(days=1), dates[-1])
    runs = queries.runs_by_date(warehouse, "settlement_canonical", dates[0], dates[-1])
    runs_df = pl.from_arrow(runs) if runs.num_rows else pl.DataFrame(schema={"settlement_date": pl.Date, "run_type": pl.String})
    outcomes = {}
    for day in dates:
        previous = units.get(day - dt.timedelta(days=1))
        outcomes[day.isoformat()] = [
            quality.one_run_per_date(runs_df.filter(pl.col("settlement_date") == day), [day]),
            quality.vlp_units_still_present(units.get(day, set()), previous, day),
        ]
    yield from report(context, "settlement_canonical", outcomes)


CHECKS: list[dg.AssetChecksDefinition] = [settlement_canonical_checks]
