"""The shape of table assets: the column schema and table name every table asset shows (raw and
derived), and the daily derived asset (computed in the warehouse, a month per backfill run,
re-materialized when a run of its dates lands)."""

import datetime as dt
from collections.abc import Callable, Sequence

import dagster as dg

from p114_assets.core.s0142.tables import TableSpec
from p114_assets.defs.automation import derived_automation
from p114_assets.defs.partitions import dates_of, derived_backfill_policy, settlement_date_partitions
from p114_assets.warehouse.base import SCHEMA, Warehouse

WAREHOUSE_POOL = "warehouse"  # DuckDB allows one writer: dagster_home/dagster.yaml limits this pool to 1


def column_schema(table: TableSpec) -> dg.TableSchema:
    """The table's columns for the UI, descriptions prefixed with their confidence mark."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(c.name, c.type,
                           description=f"[{c.confidence}] {c.description}".strip() if c.confidence else c.description,
                           constraints=dg.TableColumnConstraints(nullable=c.nullable))  # fmt: skip
            for c in table.columns
        ]
    )


def table_metadata(table: TableSpec) -> dict:
    return {"dagster/column_schema": column_schema(table), "dagster/table_name": f"{SCHEMA}.{table.name}"}


def derived_asset(table: TableSpec, deps: Sequence[dg.AssetDep], group_name: str, kinds: frozenset[str] = frozenset({"sql"}),
                  automation_condition: dg.AutomationCondition = derived_automation, **kwargs) -> Callable:  # fmt: skip
    """A daily asset that (re)computes `table` for its settlement dates in the warehouse: a month
    per run in backfills, re-materialized on its own when a run of its dates lands."""
    return dg.asset(
        name=table.name,
        partitions_def=settlement_date_partitions,
        deps=list(deps),
        backfill_policy=derived_backfill_policy,
        automation_condition=automation_condition,
        pool=WAREHOUSE_POOL,
        group_name=group_name,
        kinds=set(kinds),
        metadata=table_metadata(table),
        **kwargs,
    )


def refresh(context: dg.AssetExecutionContext, warehouse: Warehouse, table: TableSpec,
            select: Callable[[dt.date, dt.date], str]) -> tuple[list[dt.date], int]:  # fmt: skip
    """Replace the run's dates of `table` with the rows of `select(first, last)`."""
    dates = dates_of(context)
    return dates, warehouse.replace_dates(table.name, dates[0], dates[-1], select(dates[0], dates[-1]))


def row_count_metadata(dates: list[dt.date], rows: int) -> dict:
    """Rows as Dagster's row count for one date; for a range run, labelled as the run's total."""
    return {"dagster/row_count" if len(dates) == 1 else "rows_in_run": rows}
