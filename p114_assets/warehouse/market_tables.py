"""Market tables (Elexon Insights data, one partition = one settlement date) and the marts that put
them beside the settlement truth. One definition for DuckDB and BigQuery, as warehouse/tables.py.

Names follow the table contract: units as suffixes, every time column a UTC instant (`_utc`),
every table with a settlement period also carrying `period_start_utc` and `period_end_utc`.
Money, volumes and prices have the exact types of the settlement tables ("gbp" DECIMAL(18,2),
"mwh" DECIMAL(18,3), "price" DECIMAL(18,5): core/s0142/tables.py ARROW_TYPES); Insights JSON floats
are rounded to the column's decimals on the way in (core.s0142.tables.exact_decimals). Ratios (GBP
per MW, shares) and MW levels are not money and stay float.
"""

from __future__ import annotations

from p114_assets.core.s0142.tables import Column, TableSpec


def _c(name: str, type_: str, description: str = "", nullable: bool = True) -> Column:
    return Column(name, type_, description, nullable=nullable)


PERIOD = (
    _c("settlement_date", "date", "settlement date (Europe/London)", nullable=False),
    _c("settlement_period", "int", "1..50 from local midnight; derived from the row's own UTC time by core.settlement", nullable=False),
    _c("period_start_utc", "timestamp_utc", "start of the settlement period", nullable=False),
    _c("period_end_utc", "timestamp_utc", "end of the settlement period (exclusive)", nullable=False),
)
UNIT = (
    _c("bm_unit_id", "text", "Elexon BM unit id (as in S0142)"),
    _c("national_grid_bm_unit", "text", "National Grid's id of the unit"),
)
SEGMENT = (
    _c("time_from_utc", "timestamp_utc", "start of the segment", nullable=False),
    _c("time_to_utc", "timestamp_utc", "end of the segment", nullable=False),
    _c("level_from_mw", "float", "MW at time_from"),
    _c("level_to_mw", "float", "MW at time_to"),
)

MARKET_INDEX_PRICE = TableSpec(
    "market_index_price",
    PERIOD + (
        _c("data_provider", "text", "APXMIDP or N2EXMIDP"),
        _c("market_index_price_gbp_per_mwh", "price", "MID price"),
        _c("market_index_volume_mwh", "mwh", "MID volume"),
    ),
    key=("settlement_date", "settlement_period", "data_provider"),
    description="MID: market index price and volume per data provider and settlement period (Insights /datasets/MID).",
)  # fmt: skip
BALANCING_ADJUSTMENT = TableSpec(
    "balancing_adjustment",
    PERIOD + (
        _c("action_id", "int", "DISBSAD action id within the period"),
        _c("cost_gbp", "gbp", "cost of the adjustment action"),
        _c("volume_mwh", "mwh", "volume of the adjustment action"),
        _c("so_flag", "bool", "system (SO) flagged"),
        _c("stor_flag", "bool", "STOR action"),
        _c("party_name", "text", "the API's partyId (a company name)"),
        _c("asset_id", "text"),
        _c("is_tendered", "bool"),
        _c("service", "text"),
    ),
    key=("settlement_date", "settlement_period", "action_id"),
    description="DISBSAD: disaggregated balancing services adjustment actions per settlement period.",
)  # fmt: skip
BID_OFFER = TableSpec(
    "bid_offer",
    PERIOD + UNIT + (_c("pair_number", "int", "bid-offer pair: +1, +2 ... offers outward from FPN; -1, -2 ... bids"),) + SEGMENT[:2] + (
        _c("level_from_mw", "float", "the pair's size in MW at time_from (offers positive, bids negative)"),
        _c("level_to_mw", "float", "the pair's size in MW at time_to"),
        _c("offer_price_gbp_per_mwh", "price", "price paid to the party per MWh of offer volume on this pair"),
        _c("bid_price_gbp_per_mwh", "price", "price paid by the party per MWh of bid volume on this pair"),
    ),
    key=("settlement_date", "settlement_period", "bm_unit_id", "pair_number", "time_from_utc"),
    cluster_by=("bm_unit_id",),
    description="BOD: bid-offer pairs per BM unit and settlement period (period of timeFrom).",
)  # fmt: skip
ACCEPTANCE = TableSpec(
    "acceptance",
    PERIOD + UNIT + (
        _c("acceptance_number", "int", "the acceptance (BOA) number", nullable=False),
        _c("acceptance_time_utc", "timestamp_utc", "when the system operator accepted"),
    ) + SEGMENT + (
        _c("deemed_bo_flag", "bool", "deemed bid-offer flag"),
        _c("so_flag", "bool", "system (SO) flagged"),
        _c("stor_flag", "bool", "STOR flag"),
        _c("rr_flag", "bool", "replacement reserve flag"),
        _c("amendment_flag", "text", "ORI, AMD, ..."),
    ),
    key=("bm_unit_id", "acceptance_number", "time_from_utc"),
    cluster_by=("bm_unit_id",),
    description="BOALF: one row per segment of each acceptance's MW profile (the Bid-Offer Acceptance Level); "
    "the settlement period is the one time_from falls in.",
)  # fmt: skip
PHYSICAL_NOTIFICATION = TableSpec(
    "physical_notification",
    PERIOD + UNIT + SEGMENT,
    key=("bm_unit_id", "time_from_utc"),
    cluster_by=("bm_unit_id",),
    description="PN: the final physical notification (FPN) of each BM unit, MW point to point.",
)
INDICATIVE_CASHFLOW = TableSpec(
    "indicative_cashflow",
    PERIOD + UNIT + (
        _c("bm_unit_type", "text", "Elexon BM unit type as EBOCF gives it"),
        _c("lead_party_name", "text"),
        _c("bid_offer", "text", "bid | offer: which EBOCF side the cashflow is", nullable=False),
        _c("pair_number", "int", "bid-offer pair (+k positive, -k negative); NULL: the unit's total without pair detail"),
        _c("cashflow_gbp", "gbp", "indicative cashflow; + = paid to the party, as BO4"),
        _c("created_utc", "timestamp_utc", "when Elexon calculated it"),
    ),
    key=("settlement_date", "settlement_period", "bm_unit_id", "bid_offer", "pair_number"),
    cluster_by=("bm_unit_id",),
    description="EBOCF: Elexon's indicative BM unit cashflows per unit, period, side and bid-offer pair "
    "(/balancing/settlement/indicative/cashflows/all/{bid|offer}/{date}).",
)  # fmt: skip
INDICATIVE_SYSTEM_PRICE = TableSpec(
    "indicative_system_price",
    PERIOD + tuple(_c(name, "price") for name in (
        "system_sell_price_gbp_per_mwh", "system_buy_price_gbp_per_mwh")) + (
        _c("bsad_defaulted", "bool"),
        _c("price_derivation_code", "text"),
    ) + tuple(_c(name, "price" if name.endswith("_gbp_per_mwh") else "mwh") for name in (
        "reserve_scarcity_price_gbp_per_mwh", "net_imbalance_volume_mwh", "sell_price_adjustment_gbp_per_mwh",
        "buy_price_adjustment_gbp_per_mwh", "replacement_price_gbp_per_mwh", "replacement_price_reference_volume_mwh",
        "total_accepted_offer_volume_mwh", "total_accepted_bid_volume_mwh", "total_adjustment_sell_volume_mwh",
        "total_adjustment_buy_volume_mwh", "total_system_tagged_accepted_offer_volume_mwh",
        "total_system_tagged_accepted_bid_volume_mwh", "total_system_tagged_adjustment_sell_volume_mwh",
        "total_system_tagged_adjustment_buy_volume_mwh")) + (
        _c("created_utc", "timestamp_utc", "when Elexon calculated them"),
    ),
    key=("settlement_date", "settlement_period"),
    description="DISEBSP: indicative system buy and sell prices per settlement period, from the latest run.",
)  # fmt: skip

# Everything the reference list says about a unit; a change in any of these opens a new interval.
BM_UNIT_ATTRIBUTES = (
    _c("national_grid_bm_unit", "text"),
    _c("eic", "text"),
    _c("bm_unit_name", "text"),
    _c("bm_unit_type", "text", "T E I G S V M (core.settlement.UNIT_TYPE_KINDS)"),
    _c("fuel_type", "text"),
    _c("lead_party_id", "text"),
    _c("lead_party_name", "text"),
    _c("fpn_flag", "bool"),
    _c("generation_capacity_mw", "float", "registered generation capacity"),
    _c("demand_capacity_mw", "float", "registered demand capacity (negative)"),
    _c("production_or_consumption_flag", "text"),
    _c("transmission_loss_factor", "float"),
    _c("gsp_group_id", "text"),
    _c("gsp_group_name", "text"),
    _c("interconnector_id", "text"),
    _c("credit_qualifying_status", "bool"),
    _c("demand_in_production_flag", "bool"),
    _c("working_day_credit_import_mw", "float"),
    _c("non_working_day_credit_import_mw", "float"),
    _c("working_day_credit_export_mw", "float"),
    _c("non_working_day_credit_export_mw", "float"),
)
BM_UNIT_SNAPSHOT = TableSpec(
    "bm_unit_snapshot",
    (_c("settlement_date", "date", "the date the snapshot stands for", nullable=False),
     _c("bm_unit_id", "text", "Elexon BM unit id", nullable=False)) + BM_UNIT_ATTRIBUTES
    + (_c("fetched_utc", "timestamp_utc", "when the list was fetched", nullable=False),),
    key=("settlement_date", "bm_unit_id"),
    cluster_by=("bm_unit_id",),
    description="Elexon's BM unit reference list (/reference/bmunits/all) as observed for each date: what bm_units is built from.",
)  # fmt: skip
BM_UNITS = TableSpec(
    "bm_units",
    (_c("bm_unit_id", "text", nullable=False),
     _c("valid_from", "date", "first date of the interval (inclusive)", nullable=False),
     _c("valid_to", "date", "first date no longer described by it (exclusive); NULL: still current"),
     _c("last_seen", "date", "last snapshot date inside the interval", nullable=False)) + BM_UNIT_ATTRIBUTES,
    key=("bm_unit_id", "valid_from"),
    cluster_by=("bm_unit_id",),
    description="BM units with their history: one row per interval over which the reference list said the same "
    "thing about a unit. As of a date D: valid_from <= D AND (valid_to IS NULL OR D < valid_to).",
)  # fmt: skip
SETTLEMENT_PERIODS = TableSpec(
    "settlement_periods",
    PERIOD,
    key=("settlement_date", "settlement_period"),
    description="The settlement periods of each date with their UTC bounds (46 / 48 / 50 a day, from core.settlement).",
)

MARKET_TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (BM_UNIT_SNAPSHOT, BM_UNITS, MARKET_INDEX_PRICE, BALANCING_ADJUSTMENT, BID_OFFER, ACCEPTANCE,
              PHYSICAL_NOTIFICATION, INDICATIVE_CASHFLOW, INDICATIVE_SYSTEM_PRICE, SETTLEMENT_PERIODS)  # fmt: skip
}


# ---------------------------------------------------------------------------------------------
# Marts beside the settlement truth (group marts; SQL in warehouse/market_sql.py)

_UNIT_DATE = (_c("bm_unit_id", "text", nullable=False), _c("lead_party_id", "text", "lead party in the canonical run (else the reference list)"))
_RUN = _c("run_type", "text", "the canonical run of the date; NULL where no run is loaded yet")
_COMPARED = (
    _c("settled_bm_cashflow_gbp", "gbp", "S0142 BO4 of the canonical run: sum of bid + offer cashflows over the unit's pairs; + = paid to the party"),
    _c("indicative_bm_cashflow_gbp", "gbp", "EBOCF: sum over sides and pairs; + = paid to the party"),
    _c("acceptance_estimate_gbp", "gbp", "BOALF level minus FPN, integrated and priced pair by pair at BOD prices (acceptance_estimate)"),
    _c("settled_accepted_volume_mwh", "mwh", "BO4 accepted offer + bid volumes (bids negative)"),
    _c("estimated_accepted_volume_mwh", "mwh", "the estimate's volume (offers positive, bids negative)"),
    _c("indicative_minus_settled_gbp", "gbp", "indicative - settled"),
    _c("estimate_minus_settled_gbp", "gbp", "estimate - settled"),
    _c("estimated_minus_settled_volume_mwh", "mwh", "estimated - settled volume"),
    _c("estimate_unpriced_volume_mwh", "mwh", "estimated volume with no BOD pair on its side to price it"),
)  # fmt: skip

ACCEPTANCE_ESTIMATE = TableSpec(
    "acceptance_estimate",
    PERIOD + (
        _c("bm_unit_id", "text", nullable=False),
        _c("pair_number", "int", "the BOD pair the volume is allocated to; NULL: no pair on that side (unpriced), "
                                 "or an acceptance that held the unit at its FPN (volume 0)"),
        _c("volume_mwh", "mwh", "integral of (BOALF level - FPN) allocated to the pair; offers +, bids -"),
        _c("price_gbp_per_mwh", "price", "the pair's offer price (offers) or bid price (bids), volume-weighted over the period"),
        _c("cashflow_gbp", "gbp", "volume x price; + = paid to the party"),
        _c("acceptances", "int", "acceptances whose profile set the unit's level in the period"),
    ),
    key=("settlement_date", "settlement_period", "bm_unit_id", "pair_number"),
    cluster_by=("bm_unit_id",),
    description="Acceptance-based estimate of BM volumes and cashflows per unit, period and BOD pair, as Modo "
    "and Enact estimate them (core/acceptance_estimate.py).",
)  # fmt: skip
BM_REVENUE_COMPARISON = TableSpec(
    "bm_revenue_comparison",
    _UNIT_DATE + PERIOD + (_RUN,) + _COMPARED,
    key=("settlement_date", "settlement_period", "bm_unit_id"),
    cluster_by=("run_type", "bm_unit_id"),
    description="Per BM unit and period, for every unit with acceptances: the settled BM cashflow (S0142 BO4, "
    "with its run) beside Elexon's indicative cashflow (EBOCF) and the acceptance-based estimate.",
)
BM_REVENUE_COMPARISON_DAILY = TableSpec(
    "bm_revenue_comparison_daily",
    _UNIT_DATE + (PERIOD[0], _RUN) + _COMPARED + (_c("periods", "int", "periods of the unit in bm_revenue_comparison"),),
    key=("settlement_date", "bm_unit_id"),
    cluster_by=("run_type", "bm_unit_id"),
    description="bm_revenue_comparison summed per unit and date.",
)
BM_REVENUE_COMPARISON_PARTY_DAILY = TableSpec(
    "bm_revenue_comparison_party_daily",
    (_c("lead_party_id", "text"), PERIOD[0], _RUN) + _COMPARED + (_c("units", "int", "units of the party compared"),),
    key=("settlement_date", "lead_party_id"),
    cluster_by=("run_type",),
    description="bm_revenue_comparison summed per lead party and date.",
)
UNIT_REVENUE_DAILY = TableSpec(
    "unit_revenue_daily",
    _UNIT_DATE + (PERIOD[0], _RUN) + (
        _c("unit_kind", "text", "from bm_units' bmUnitType where known, else the id's prefix (core.settlement)"),
        _c("fuel_type", "text", "bm_units as of the date"),
        _c("bm_cashflow_gbp", "gbp", "sum of BO4 bid + offer cashflows over the day; + = paid to the party"),
        _c("non_delivery_charge_gbp", "gbp", "sum of BP7 3 over the day; + = paid by the party"),
        _c("net_revenue_gbp", "gbp", "bm_cashflow - non_delivery_charge"),
        _c("capacity_mw", "float", "max(generation capacity, |demand capacity|) from bm_units as of the date"),
        _c("gbp_per_mw", "float", "net_revenue / capacity: GBP per MW for the day (a ratio, not money: float)"),
        _c("days_30d", "int", "dates of the unit in the 30 days ending on this date"),
        _c("gbp_per_mw_year_30d", "float", "sum of net revenue over the 30 days / days_30d x 365 / capacity (a ratio, not money: float)"),
        _c("days_365d", "int", "dates of the unit in the 365 days ending on this date"),
        _c("gbp_per_mw_year_365d", "float", "sum of net revenue over the 365 days / days_365d x 365 / capacity (a ratio, not money: float)"),
    ),
    key=("settlement_date", "bm_unit_id"),
    cluster_by=("run_type", "bm_unit_id"),
    description="Revenue of every BM unit per day from the settlement truth (canonical run): BM cashflow, "
    "non-delivery charge, net revenue, and per MW of capacity (bm_units), with rolling 30- and 365-day "
    "annualised figures.",
)  # fmt: skip
SELF_BALANCING_COMPARISON = TableSpec(
    "self_balancing_comparison",
    (PERIOD[0],
     _c("window_start", "date", nullable=False), _c("window_end", "date", nullable=False), _c("window_days", "int"),
     _c("classified_units", "int", "units in unit_classification for the window (supplier units excluded)"),
     _c("classified_mwh", "mwh", "their A_tot (|FPN| + |QBS| + |DEV|) in MWh"),
     _c("self_dispatched_share", "float", "MWh share of self_dispatched units (p114)"),
     _c("so_directed_share", "float", "MWh share of so_directed units"),
     _c("imbalance_exposed_share", "float", "MWh share of imbalance_exposed units"),
     _c("mixed_share", "float", "MWh share of mixed units"),
     _c("inactive_share", "float", "MWh share of inactive units"),
     _c("antijoin_units", "int", "units present in the canonical runs of the window (all kinds, as the old figure)"),
     _c("antijoin_units_without_acceptance", "int", "of those, units with no BOALF acceptance in the window"),
     _c("antijoin_rows", "int", "unit-periods present in the window"),
     _c("antijoin_rows_without_acceptance", "int", "unit-periods with no BOALF acceptance"),
     _c("antijoin_share_by_rows", "float", "the old figure: unit-periods without acceptance / all unit-periods"),
     _c("antijoin_share_by_mwh", "float", "the same criterion weighted by A_tot MWh instead of rows (a ratio: float)"),
     _c("antijoin_supplier_rows", "int", "unit-periods of supplier units (2__, C__): never accepted, counted by the old figure"),
     _c("acceptance_dates", "int", "dates of the window with BOALF data loaded (the anti-join means little without it)")),
    key=("settlement_date",),
    description="p114's MWh-weighted self-balancing classification beside the old anti-join figure (units in "
    "P114 without BOALF acceptances, counted by rows), with what separates them.",
)  # fmt: skip

COMPARISON_TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (ACCEPTANCE_ESTIMATE, BM_REVENUE_COMPARISON, BM_REVENUE_COMPARISON_DAILY, BM_REVENUE_COMPARISON_PARTY_DAILY,
              UNIT_REVENUE_DAILY, SELF_BALANCING_COMPARISON)  # fmt: skip
}
