"""Insights rows (validated by core/insights.py) -> frames with the market tables' columns.

Every time is a UTC instant. Every row with a settlement period carries `settlement_date` and
`settlement_period` derived here by the clock-change rules of core.settlement (from the row's own
time where it has one: BOD, BOALF and PN from `timeFrom`, MID, EBOCF and DISEBSP from
`startTime`; DISBSAD has none and keeps the API's), plus `period_start_utc` / `period_end_utc`.
A row whose derived settlement date is not the partition's is dropped and counted, so no row is
ever written into two partitions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import polars as pl

from p114_assets.core.insights import PAIRS, InsightsClient
from p114_assets.core.settlement import period_bounds_exprs, periods_in_day, settlement_period_exprs

UTC = pl.Datetime("us", "UTC")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%#z"  # RFC 3339 as the API writes it: "2022-07-01T13:34:00Z"


@dataclass
class Converted:
    """One date of one dataset, ready for its table, and what was left out on the way."""

    frame: pl.DataFrame
    requests: int = 0
    notes: dict[str, int] = field(default_factory=dict)  # e.g. rows_outside_date, api_period_disagrees


def _columns(rows: list[dict], names: dict[str, str], types: dict[str, pl.DataType]) -> pl.DataFrame:
    """A frame of the given API fields (absent -> null), renamed to table columns."""
    schema = {api: types.get(column, pl.String) for api, column in names.items()}
    return pl.from_dicts(rows, schema=schema).rename(names) if rows else pl.DataFrame(schema=schema).rename(names)


def _utc(*columns: str) -> list[pl.Expr]:
    return [pl.col(c).str.to_datetime(TIME_FORMAT, time_unit="us", strict=True).dt.convert_time_zone("UTC") for c in columns]


def _keep_date(df: pl.DataFrame, settlement_date: dt.date, notes: dict[str, int]) -> pl.DataFrame:
    outside = df.filter(pl.col("settlement_date") != settlement_date)
    if outside.height:
        notes["rows_outside_date"] = notes.get("rows_outside_date", 0) + outside.height
    return df.filter(pl.col("settlement_date") == settlement_date)


def _periods_from(df: pl.DataFrame, time_column: str, notes: dict[str, int]) -> pl.DataFrame:
    """settlement_date / settlement_period from a UTC time column (the API's own are compared,
    and disagreements counted: the derived ones are kept)."""
    derived = df.with_columns(settlement_period_exprs(time_column))
    if "api_settlement_date" in df.columns:
        disagree = derived.filter((pl.col("api_settlement_date") != pl.col("settlement_date"))
                                  | (pl.col("api_settlement_period") != pl.col("settlement_period"))).height  # fmt: skip
        if disagree:
            notes["api_period_disagrees"] = notes.get("api_period_disagrees", 0) + disagree
        derived = derived.drop("api_settlement_date", "api_settlement_period")
    return derived


def _with_bounds(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns(period_bounds_exprs())


_API_PERIOD = {"settlementDate": "api_settlement_date", "settlementPeriod": "api_settlement_period"}
_API_PERIOD_TYPES = {"api_settlement_date": pl.Date, "api_settlement_period": pl.Int64}
_UNIT = {"bmUnit": "bm_unit_id", "nationalGridBmUnit": "national_grid_bm_unit"}


def _timed(rows: list[dict], names: dict[str, str], types: dict[str, pl.DataType], time_columns: tuple[str, ...],
           period_from: str, settlement_date: dt.date, notes: dict[str, int]) -> pl.DataFrame:  # fmt: skip
    df = _columns(rows, {**_API_PERIOD, **names}, {**_API_PERIOD_TYPES, **types}).with_columns(_utc(*time_columns))
    return _with_bounds(_keep_date(_periods_from(df, period_from, notes), settlement_date, notes))


def market_index_price(rows: list[dict], settlement_date: dt.date, notes: dict[str, int]) -> pl.DataFrame:
    return _timed(rows, {"startTime": "start_utc", "dataProvider": "data_provider", "price": "market_index_price_gbp_per_mwh",
                         "volume": "market_index_volume_mwh"},
                  {"market_index_price_gbp_per_mwh": pl.Float64, "market_index_volume_mwh": pl.Float64},
                  ("start_utc",), "start_utc", settlement_date, notes).drop("start_utc")  # fmt: skip


def balancing_adjustment(rows: list[dict], settlement_date: dt.date, notes: dict[str, int]) -> pl.DataFrame:
    """DISBSAD rows carry no time: their settlement date and period are the API's, checked against
    the periods of the date."""
    df = _columns(rows, {"settlementDate": "settlement_date", "settlementPeriod": "settlement_period", "id": "action_id",
                         "cost": "cost_gbp", "volume": "volume_mwh", "soFlag": "so_flag", "storFlag": "stor_flag",
                         "partyId": "party_name", "assetId": "asset_id", "isTendered": "is_tendered", "service": "service"},
                  {"settlement_date": pl.Date, "settlement_period": pl.Int64, "action_id": pl.Int64, "cost_gbp": pl.Float64,
                   "volume_mwh": pl.Float64, "so_flag": pl.Boolean, "stor_flag": pl.Boolean, "is_tendered": pl.Boolean})  # fmt: skip
    df = _keep_date(df, settlement_date, notes)
    bad = df.filter(~pl.col("settlement_period").is_between(1, periods_in_day(settlement_date)))
    if bad.height:
        notes["period_out_of_day"] = bad.height
    return _with_bounds(df.filter(pl.col("settlement_period").is_between(1, periods_in_day(settlement_date))))


def bid_offer(rows: list[dict], settlement_date: dt.date, notes: dict[str, int]) -> pl.DataFrame:
    return _timed(rows, {**_UNIT, "pairId": "pair_number", "timeFrom": "time_from_utc", "timeTo": "time_to_utc",
                         "levelFrom": "level_from_mw", "levelTo": "level_to_mw", "offer": "offer_price_gbp_per_mwh",
                         "bid": "bid_price_gbp_per_mwh"},
                  {"pair_number": pl.Int64, "level_from_mw": pl.Float64, "level_to_mw": pl.Float64,
                   "offer_price_gbp_per_mwh": pl.Float64, "bid_price_gbp_per_mwh": pl.Float64},
                  ("time_from_utc", "time_to_utc"), "time_from_utc", settlement_date, notes)  # fmt: skip


def acceptance(rows: list[dict], settlement_date: dt.date, notes: dict[str, int]) -> pl.DataFrame:
    """BOALF: one row per segment of an acceptance's profile; its period is the one its timeFrom
    falls in (the API's settlementPeriodFrom, derived again here)."""
    api = {"settlementDate": "api_settlement_date", "settlementPeriodFrom": "api_settlement_period"}
    df = _columns(rows, {**api, **_UNIT, "acceptanceNumber": "acceptance_number", "acceptanceTime": "acceptance_time_utc",
                         "timeFrom": "time_from_utc", "timeTo": "time_to_utc", "levelFrom": "level_from_mw",
                         "levelTo": "level_to_mw", "deemedBoFlag": "deemed_bo_flag", "soFlag": "so_flag",
                         "storFlag": "stor_flag", "rrFlag": "rr_flag", "amendmentFlag": "amendment_flag"},
                  {**_API_PERIOD_TYPES, "acceptance_number": pl.Int64, "level_from_mw": pl.Float64, "level_to_mw": pl.Float64,
                   "deemed_bo_flag": pl.Boolean, "so_flag": pl.Boolean, "stor_flag": pl.Boolean, "rr_flag": pl.Boolean},
                  ).with_columns(_utc("acceptance_time_utc", "time_from_utc", "time_to_utc"))  # fmt: skip
    return _with_bounds(_keep_date(_periods_from(df, "time_from_utc", notes), settlement_date, notes))


def physical_notification(rows: list[dict], settlement_date: dt.date, notes: dict[str, int]) -> pl.DataFrame:
    return _timed(rows, {**_UNIT, "timeFrom": "time_from_utc", "timeTo": "time_to_utc", "levelFrom": "level_from_mw",
                         "levelTo": "level_to_mw"},
                  {"level_from_mw": pl.Float64, "level_to_mw": pl.Float64},
                  ("time_from_utc", "time_to_utc"), "time_from_utc", settlement_date, notes)  # fmt: skip


def pair_number(key: str) -> int:
    """'positive2' -> 2, 'negative3' -> -3 (EBOCF's names for bid-offer pair numbers)."""
    return int(key[8:]) if key.startswith("positive") else -int(key[8:])


def indicative_cashflow(rows_by_side: dict[str, list[dict]], settlement_date: dt.date, notes: dict[str, int]) -> pl.DataFrame:
    """EBOCF, one row per unit, period, side (bid / offer) and pair with a cashflow (+ = paid to
    the party, as BO4). A unit-period whose pairs are all null but whose total is not keeps its
    total on a row with pair_number NULL; pairs that do not add up to the total are counted."""
    flat: list[dict] = []
    for side, rows in rows_by_side.items():
        for row in rows:
            pairs = row.get("bidOfferPairCashflows") or {}
            base = {k: row.get(k) for k in ("settlementDate", "settlementPeriod", "startTime", "createdDateTime", "bmUnit",
                                            "nationalGridBmUnit", "bmUnitType", "leadPartyName")}  # fmt: skip
            values = [(pair_number(k), pairs[k]) for k in PAIRS if pairs.get(k) is not None]
            total = row.get("totalCashflow")
            if values and total is not None and abs(sum(v for _, v in values) - total) > 0.005:
                notes["pairs_not_adding_to_total"] = notes.get("pairs_not_adding_to_total", 0) + 1
            if not values and total:
                values = [(None, total)]
            flat += [{**base, "bidOffer": side, "pair": pair, "cashflow": value} for pair, value in values]
    return _timed(flat, {**_UNIT, "startTime": "start_utc", "createdDateTime": "created_utc", "bmUnitType": "bm_unit_type",
                         "leadPartyName": "lead_party_name", "bidOffer": "bid_offer", "pair": "pair_number",
                         "cashflow": "cashflow_gbp"},
                  {"pair_number": pl.Int64, "cashflow_gbp": pl.Float64},
                  ("start_utc", "created_utc"), "start_utc", settlement_date, notes).drop("start_utc")  # fmt: skip


_SYSTEM_PRICE = {
    "systemSellPrice": "system_sell_price_gbp_per_mwh", "systemBuyPrice": "system_buy_price_gbp_per_mwh",
    "bsadDefaulted": "bsad_defaulted", "priceDerivationCode": "price_derivation_code",
    "reserveScarcityPrice": "reserve_scarcity_price_gbp_per_mwh", "netImbalanceVolume": "net_imbalance_volume_mwh",
    "sellPriceAdjustment": "sell_price_adjustment_gbp_per_mwh", "buyPriceAdjustment": "buy_price_adjustment_gbp_per_mwh",
    "replacementPrice": "replacement_price_gbp_per_mwh",
    "replacementPriceReferenceVolume": "replacement_price_reference_volume_mwh",
    "totalAcceptedOfferVolume": "total_accepted_offer_volume_mwh", "totalAcceptedBidVolume": "total_accepted_bid_volume_mwh",
    "totalAdjustmentSellVolume": "total_adjustment_sell_volume_mwh", "totalAdjustmentBuyVolume": "total_adjustment_buy_volume_mwh",
    "totalSystemTaggedAcceptedOfferVolume": "total_system_tagged_accepted_offer_volume_mwh",
    "totalSystemTaggedAcceptedBidVolume": "total_system_tagged_accepted_bid_volume_mwh",
    "totalSystemTaggedAdjustmentSellVolume": "total_system_tagged_adjustment_sell_volume_mwh",
    "totalSystemTaggedAdjustmentBuyVolume": "total_system_tagged_adjustment_buy_volume_mwh",
}  # fmt: skip


def indicative_system_price(rows: list[dict], settlement_date: dt.date, notes: dict[str, int]) -> pl.DataFrame:
    types = {c: pl.Float64 for c in _SYSTEM_PRICE.values() if c.endswith(("_mwh", "_gbp_per_mwh"))} | {"bsad_defaulted": pl.Boolean}
    return _timed(rows, {"startTime": "start_utc", "createdDateTime": "created_utc", **_SYSTEM_PRICE}, types,
                  ("start_utc", "created_utc"), "start_utc", settlement_date, notes).drop("start_utc")  # fmt: skip


_BM_UNIT = {
    "elexonBmUnit": "bm_unit_id", "nationalGridBmUnit": "national_grid_bm_unit", "eic": "eic", "bmUnitName": "bm_unit_name",
    "bmUnitType": "bm_unit_type", "fuelType": "fuel_type", "leadPartyId": "lead_party_id", "leadPartyName": "lead_party_name",
    "fpnFlag": "fpn_flag", "generationCapacity": "generation_capacity_mw", "demandCapacity": "demand_capacity_mw",
    "productionOrConsumptionFlag": "production_or_consumption_flag", "transmissionLossFactor": "transmission_loss_factor",
    "gspGroupId": "gsp_group_id", "gspGroupName": "gsp_group_name", "interconnectorId": "interconnector_id",
    "creditQualifyingStatus": "credit_qualifying_status", "demandInProductionFlag": "demand_in_production_flag",
    "workingDayCreditAssessmentImportCapability": "working_day_credit_import_mw",
    "nonWorkingDayCreditAssessmentImportCapability": "non_working_day_credit_import_mw",
    "workingDayCreditAssessmentExportCapability": "working_day_credit_export_mw",
    "nonWorkingDayCreditAssessmentExportCapability": "non_working_day_credit_export_mw",
}  # fmt: skip
# The reference list writes numbers as text ("demandCapacity": "-50.000"): parsed here, and a value
# that is not a number becomes NULL and is counted.
_BM_UNIT_NUMBERS = ("generation_capacity_mw", "demand_capacity_mw", "transmission_loss_factor", "working_day_credit_import_mw",
                    "non_working_day_credit_import_mw", "working_day_credit_export_mw", "non_working_day_credit_export_mw")  # fmt: skip


def bm_unit_snapshot(rows: list[dict], settlement_date: dt.date, fetched: dt.datetime, notes: dict[str, int]) -> pl.DataFrame:
    """The reference list as observed for a date: one row per Elexon BM unit id (units the list
    gives only a National Grid id for cannot meet settlement data and are counted, not kept;
    a unit listed twice keeps its first entry)."""
    df = _columns(rows, _BM_UNIT, {"fpn_flag": pl.Boolean, "credit_qualifying_status": pl.Boolean,
                                   "demand_in_production_flag": pl.Boolean})  # fmt: skip
    unnamed = df.filter(pl.col("bm_unit_id").is_null() | (pl.col("bm_unit_id").str.strip_chars() == ""))
    if unnamed.height:
        notes["units_without_elexon_id"] = unnamed.height
    df = df.filter(pl.col("bm_unit_id").is_not_null() & (pl.col("bm_unit_id").str.strip_chars() != ""))
    duplicates = df.height - df["bm_unit_id"].n_unique()
    if duplicates:
        notes["units_listed_twice"] = duplicates
    df = df.unique("bm_unit_id", keep="first", maintain_order=True)
    parsed = df.with_columns([pl.col(c).str.strip_chars().cast(pl.Float64, strict=False) for c in _BM_UNIT_NUMBERS])
    unparsable = sum(parsed[c].null_count() - df[c].null_count() for c in _BM_UNIT_NUMBERS)
    if unparsable:
        notes["numbers_not_parsed"] = unparsable
    return parsed.with_columns(settlement_date=pl.lit(settlement_date, pl.Date),
                               fetched_utc=pl.lit(fetched.astimezone(dt.timezone.utc), UTC))  # fmt: skip


# ---------------------------------------------------------------------------------------------
# One date of one table: fetch, validate, convert.

DAILY_TABLES: dict[str, tuple[str, Callable[[list[dict], dt.date, dict[str, int]], pl.DataFrame]]] = {
    "market_index_price": ("MID", market_index_price),
    "balancing_adjustment": ("DISBSAD", balancing_adjustment),
    "bid_offer": ("BOD", bid_offer),
    "acceptance": ("BOALF", acceptance),
    "physical_notification": ("PN", physical_notification),
}


def fetch_day(client: InsightsClient, table: str, settlement_date: dt.date) -> Converted:
    """Everything the API has for one market table and settlement date, with the table's columns
    (time-filtered datasets window by window: only one window's rows are held as dicts at once)."""
    notes: dict[str, int] = {}
    before = client.requests
    if table in DAILY_TABLES:
        dataset, convert = DAILY_TABLES[table]
        frames = [convert(rows, settlement_date, notes) for rows in client.by_periods(dataset, settlement_date)]
        frame = pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()
    elif table == "indicative_cashflow":
        frame = indicative_cashflow({side: client.for_date("EBOCF", settlement_date, side) for side in ("bid", "offer")},
                                    settlement_date, notes)  # fmt: skip
    elif table == "indicative_system_price":
        frame = indicative_system_price(client.for_date("DISEBSP", settlement_date), settlement_date, notes)
    else:
        raise KeyError(f"{table} is not a daily market table")
    return Converted(frame, client.requests - before, notes)


def time_span(frame: pl.DataFrame, columns: Iterable[str] = ("period_start_utc", "period_end_utc")) -> str | None:
    """'first .. last' over the given UTC columns of a frame, for metadata; None when empty."""
    present = [c for c in columns if c in frame.columns]
    if not frame.height or not present:
        return None
    first = min(frame[c].min() for c in present)
    last = max(frame[c].max() for c in present)
    return f"{first:%Y-%m-%d %H:%M} .. {last:%Y-%m-%d %H:%M} UTC"

