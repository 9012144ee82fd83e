"""Market data assets: one daily partition per settlement date (from P114_START_DATE), one warehouse
table per asset, each date replaced whole (delete that date, insert its rows, one transaction).

A run covering several dates (a chunk of a backfill) loads every date it can, then fails naming
the dates that did not load; a date that fails keeps its earlier rows.
"""


import datetime as dt

import dagster as dg
import polars as pl
import pyarrow as pa

from p114_assets.core.insights import ENDPOINTS, InsightsError
from p114_assets.core.market_data import DAILY_TABLES, bm_unit_snapshot, fetch_day, time_span
from p114_assets.core.s0142.tables import TableSpec
from p114_assets.defs.table_assets import table_metadata
from p114_assets.defs.market.resources import InsightsResource
from p114_assets.defs.partitions import backfill_policy, dates_of, settlement_date_partitions
from p114_assets.warehouse import market_queries, market_sql
from p114_assets.warehouse.base import Warehouse
from p114_assets.warehouse.market_tables import (
    ACCEPTANCE,
    BALANCING_ADJUSTMENT,
    BID_OFFER,
    BM_UNIT_SNAPSHOT,
    BM_UNITS,
    INDICATIVE_CASHFLOW,
    INDICATIVE_SYSTEM_PRICE,
    MARKET_INDEX_PRICE,
    PHYSICAL_NOTIFICATION,
)

GROUP = "market"
# A snapshot of the reference list stands for the date it was fetched on or soon after; fetched
# later (a backfill), it is written only where the date has none yet: the API serves the current
# list only, and a real observation of a date is never overwritten by a later one.
TIMELY_DAYS = 2


def to_table(spec: TableSpec, frame: pl.DataFrame) -> pa.Table:
    """A frame as the table's Arrow rows: its columns, in order, of its types (floats rounded to the
    scale of the table's exact columns first)."""
    missing = [c for c in spec.column_names if c not in frame.columns]
    if missing:
        raise ValueError(f"{spec.name}: rows lack column(s) {', '.join(missing)}")
    return spec.exact_decimals(frame.select(spec.column_names)).to_arrow().cast(spec.arrow_schema())


def _collected(errors: list[str], what: str) -> None:
    if errors:
        raise dg.Failure(description=f"{len(errors)} date(s) failed to {what}:\n" + "\n".join(errors),
                         metadata={"failed": len(errors)})  # fmt: skip


def _metadata(loaded: list[tuple[dt.date, int, str | None, dict]], extra: dict | None = None) -> dict:
    """Row count and time span: one date's as Dagster's row count; a range run's as a table."""
    metadata: dict = dict(extra or {})
    if len(loaded) == 1:
        day, rows, span, notes = loaded[0]
        metadata.update({"dagster/row_count": rows, "time_span": span or "no rows", **notes})
    else:
        metadata["rows_in_run"] = sum(rows for _, rows, _, _ in loaded)
        metadata["dates"] = dg.MetadataValue.md("| date | rows | time span (UTC) | notes |\n|---|---|---|---|\n" + "\n".join(
            f"| {day} | {rows:,} | {span or '-'} | {', '.join(f'{k} {v}' for k, v in notes.items())} |"
            for day, rows, span, notes in loaded))  # fmt: skip
    return metadata


SOURCES = {
    "market_index_price": "MID", "balancing_adjustment": "DISBSAD", "bid_offer": "BOD", "acceptance": "BOALF",
    "physical_notification": "PN", "indicative_cashflow": "EBOCF", "indicative_system_price": "DISEBSP",
}  # fmt: skip
SEGMENT_TABLES = {"bid_offer", "acceptance", "physical_notification"}


def _market_asset(spec: TableSpec) -> dg.AssetsDefinition:
    dataset = SOURCES[spec.name]
    endpoint = ENDPOINTS[dataset]
    periods = endpoint.window_periods
    window = f" Asked for {periods} settlement periods per request." if spec.name in DAILY_TABLES and periods and periods < 46 else ""

    @dg.asset(
        name=spec.name,
        partitions_def=settlement_date_partitions,
        backfill_policy=backfill_policy,
        group_name=GROUP,
        kinds={"api", "table"},
        metadata=table_metadata(spec),
        description=f"{spec.description} From the Elexon Insights API {endpoint.path}, one settlement date per "
        f"partition, replaced whole.{window}",
    )
    def _asset(context: dg.AssetExecutionContext, warehouse: Warehouse, insights: InsightsResource) -> dg.MaterializeResult:
        loaded, errors = [], []
        span_columns = ("time_from_utc", "time_to_utc") if spec.name in SEGMENT_TABLES else ("period_start_utc", "period_end_utc")
        with insights.client() as client:
            for day in dates_of(context):
                try:
                    converted = fetch_day(client, spec.name, day)
                except InsightsError as exc:
                    errors.append(f"{day}: {exc}")
                    continue
                rows = warehouse.replace_date_rows(spec.name, day, day, to_table(spec, converted.frame))
                loaded.append((day, rows, time_span(converted.frame, span_columns), converted.notes))
                context.log.info(f"{spec.name} {day}: {rows:,} rows in {converted.requests} request(s)"
                                 + (f"; {converted.notes}" if converted.notes else ""))  # fmt: skip
        _collected(errors, f"load {dataset}")
        return dg.MaterializeResult(metadata=_metadata(loaded, {"source": f"{insights.base_url}{endpoint.path}"}))

    return _asset


MARKET_DATASET_ASSETS = [
    _market_asset(spec)
    for spec in (MARKET_INDEX_PRICE, BALANCING_ADJUSTMENT, BID_OFFER, ACCEPTANCE, PHYSICAL_NOTIFICATION, INDICATIVE_CASHFLOW,
                 INDICATIVE_SYSTEM_PRICE)  # fmt: skip
]


@dg.asset(
    partitions_def=settlement_date_partitions,
    backfill_policy=backfill_policy,
    group_name=GROUP,
    kinds={"api", "table"},
    metadata=table_metadata(BM_UNITS),
)
def bm_units(context: dg.AssetExecutionContext, warehouse: Warehouse, insights: InsightsResource) -> dg.MaterializeResult:
    """Elexon's BM unit reference list (/reference/bmunits/all) with its history: type, lead
    party, fuel type and capacities as of any date.

    Each partition stores the list as observed for its date (table bm_unit_snapshot), and
    bm_units is rebuilt from the snapshots as intervals (valid_from inclusive, valid_to exclusive,
    NULL while current) over which the list said the same thing about a unit. The API serves only
    the current list: a date's snapshot is taken when its partition runs; run later than
    2 days after the date (a backfill), it fills only dates that have none, so history p114 saw
    is never rewritten. VLP units: bmUnitType V, or the V__ prefix where the list lacks the unit.
    """
    dates = dates_of(context)
    fetched = dt.datetime.now(dt.timezone.utc)
    try:
        with insights.client() as client:
            rows = client.bm_units()
    except InsightsError as exc:
        raise dg.Failure(description=str(exc), allow_retries=True) from None
    warehouse.create_tables([BM_UNIT_SNAPSHOT.name])
    existing = market_queries.snapshot_dates(warehouse, dates[0], dates[-1])
    loaded, kept = [], []
    notes: dict[str, int] = {}
    for day in dates:
        if day in existing and fetched.date() > day + dt.timedelta(days=TIMELY_DAYS):
            kept.append(day)
            continue
        frame = bm_unit_snapshot(rows, day, fetched, notes)
        written = warehouse.replace_date_rows(BM_UNIT_SNAPSHOT.name, day, day, to_table(BM_UNIT_SNAPSHOT, frame))
        loaded.append((day, written, None, {}))
    if kept:
        context.log.info(f"kept the snapshots already taken for {len(kept)} date(s) ({kept[0]}..{kept[-1]}): a list fetched "
                         f"on {fetched.date()} does not say what it was then")  # fmt: skip
    intervals = warehouse.replace_table(BM_UNITS.name, market_sql.bm_unit_intervals())
    history = market_queries.bm_unit_history(warehouse)
    metadata = {
        "dagster/row_count": intervals,
        "units_listed": len(rows),
        "snapshots_written": len(loaded),
        "snapshots_kept": len(kept),
        "history": f"{history['units'] or 0:,} units, {history['intervals'] or 0:,} intervals, "
                   f"{history['first_date']} .. {history['last_date']}",
        **notes,
    }  # fmt: skip
    return dg.MaterializeResult(metadata=metadata)


MARKET_ASSETS = [bm_units, *MARKET_DATASET_ASSETS]
