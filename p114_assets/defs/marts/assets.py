"""Marts: Virtual Lead Party revenue and the self-balancing classification of BM units.

Formulas and sign conventions: docs/marts.md (and PRODUCT.md sections 4 and 5). Everything is
computed in the warehouse with SQL (warehouse/sql.py) from the canonical run of each date.
"""

import base64
import datetime as dt

import dagster as dg
from pydantic import Field

from p114_assets.core.classification import Thresholds, market_structure, window_label
from p114_assets.core.plots import market_structure_png
from p114_assets.defs.automation import window_automation
from p114_assets.defs.marts.resources import ReportStore
from p114_assets.defs.partitions import date_mapping, dates_of
from p114_assets.defs.table_assets import derived_asset, refresh, row_count_metadata
from p114_assets.warehouse import queries, sql
from p114_assets.warehouse.base import Warehouse
from p114_assets.warehouse.tables import UNIT_CLASSIFICATION, VLP_PARTY_DAILY, VLP_REVENUE_DAILY, VLP_REVENUE_PERIOD

DEFAULTS = Thresholds()  # the rule's defaults live in core/classification.py, not here
DEFAULT_WINDOW = DEFAULTS.window_days


@derived_asset(VLP_REVENUE_PERIOD, [dg.AssetDep("settlement_canonical"),
                                    dg.AssetDep("bid_offer_pair", partition_mapping=date_mapping())], "marts")  # fmt: skip
def vlp_revenue_period(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """Balancing revenue of every Virtual Lead Party secondary BM unit (V__) per settlement period,
    from the canonical run of the date.

    BM cashflow CB = sum over the unit's BO4 pairs of bid + offer cashflow (+ = paid to the party);
    non-delivery charge CND = BP7 3 (+ = paid by the party); net balancing revenue = CB - CND; with
    accepted offer and bid volumes, metered (delivered) volume, balancing services volume and the
    delivery ratio metered / balancing services volume. Supplier units (2__, C__) and T_, E_, I_
    units are never VLP units.
    """
    dates, rows = refresh(context, warehouse, VLP_REVENUE_PERIOD, sql.vlp_revenue_period)
    totals = queries.vlp_revenue_totals(warehouse, dates[0], dates[-1])
    return dg.MaterializeResult(metadata={**row_count_metadata(dates, rows), **totals})


@derived_asset(VLP_REVENUE_DAILY, [dg.AssetDep("vlp_revenue_period")], "marts")
def vlp_revenue_daily(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """vlp_revenue_period summed per VLP unit and settlement date (delivery ratio of the day's
    sums, and the number of periods with an accepted bid or offer)."""
    dates, rows = refresh(context, warehouse, VLP_REVENUE_DAILY, sql.vlp_revenue_daily)
    top = queries.top_vlp_units(warehouse, dates[0], dates[-1], limit=10)
    return dg.MaterializeResult(metadata={
        **row_count_metadata(dates, rows),
        "top_units": dg.MetadataValue.md("| unit | party | net balancing revenue GBP |\n|---|---|---|\n"
                                         + "\n".join(f"| {r['bm_unit_id']} | {r['lead_party_id']} | {r['net']:,.2f} |" for r in top)),
    })  # fmt: skip


@derived_asset(VLP_PARTY_DAILY, [dg.AssetDep("settlement_canonical"),
                                 dg.AssetDep("party_period", partition_mapping=date_mapping())], "marts")  # fmt: skip
def vlp_party_daily(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """Each Virtual Lead Party's settlement position for a day: every party that leads at least
    one V__ unit on the date, with its PPC items of the canonical run summed over the day (BM unit
    cashflow, + = credit; non-delivery charge, + = debit; energy imbalance cashflow, + = debit;
    RCRC, + = credit) and net settlement position = BM cashflow - non-delivery charge - energy
    imbalance cashflow + RCRC (+ = the party is paid)."""
    dates, rows = refresh(context, warehouse, VLP_PARTY_DAILY, sql.vlp_party_daily)
    totals = queries.vlp_party_totals(warehouse, dates[0], dates[-1])
    return dg.MaterializeResult(metadata={**row_count_metadata(dates, rows), **totals})


class ClassificationConfig(dg.Config):
    """Thresholds of the self-balancing classification (every one is recorded on every row)."""

    window_days: int = Field(default=DEFAULT_WINDOW, description="dates in the window, ending on the partition's date")
    min_activity_mwh: float = Field(default=DEFAULTS.min_activity_mwh, description="below this A_tot in the window a unit is inactive")
    so_directed_min_share: float = Field(default=DEFAULTS.so_directed_min_share, description="so_directed if so_share >= this")
    self_dispatched_max_so_share: float = Field(default=DEFAULTS.self_dispatched_max_so_share, description="self_dispatched if so_share <= this ...")
    self_dispatched_max_dev_share: float = Field(default=DEFAULTS.self_dispatched_max_dev_share, description="... and dev_share <= this")
    imbalance_exposed_min_dev_share: float = Field(default=DEFAULTS.imbalance_exposed_min_dev_share, description="imbalance_exposed if dev_share > this")

    def thresholds(self) -> Thresholds:
        return Thresholds(**self.model_dump())


@derived_asset(
    UNIT_CLASSIFICATION,
    # the window reaches back over the previous 29 dates (the default window; a longer configured
    # window still reads its dates, but automation re-runs a date only within this reach)
    [dg.AssetDep("settlement_canonical", partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-(DEFAULT_WINDOW - 1)))],
    "marts",
    automation_condition=window_automation,
)
def unit_classification(
    context: dg.AssetExecutionContext, config: ClassificationConfig, warehouse: Warehouse, reports: ReportStore
) -> dg.MaterializeResult:
    """How each non-supplier BM unit balanced over a rolling window (default 30 days) ending on the
    partition's date, from the canonical run of each date.

    A_self = sum |FPN|, A_so = sum |QBS| (BP7 5), A_dev = sum |QM - FPN - QBS|; so_share and
    dev_share of their total; classes in order: inactive (A_tot under the minimum activity),
    so_directed (so_share >= 0.5), self_dispatched (so_share <= 0.1 and dev_share <= 0.2),
    imbalance_exposed (dev_share > 0.2), else mixed. Thresholds are run config and are recorded on
    every row. Metadata: the market structure of the last date, weighted by MWh, never row counts.
    """
    thresholds = config.thresholds()
    dates = dates_of(context)
    rows = warehouse.replace_dates("unit_classification", dates[0], dates[-1], sql.unit_classification(dates, thresholds))
    last = dates[-1]
    units = queries.classified_units(warehouse, last)
    shares = market_structure((u["class"], u["a_tot_mwh"]) for u in units)
    table = "| class | MWh | share | units |\n|---|---|---|---|\n" + "\n".join(
        f"| {s['class']} | {s['mwh']:,.1f} | {s['share']:.2%} | {s['units']} |" for s in shares)
    metadata: dict = {**row_count_metadata(dates, rows), "thresholds": dg.MetadataValue.json(thresholds.as_dict()),
                      "market_structure": dg.MetadataValue.md(f"Window of {thresholds.window_days} days ending {last}, "
                                                              f"weighted by MWh:\n\n{table}")}  # fmt: skip
    if units:
        window = thresholds.window_days
        days = queries.days_with_data(warehouse, "settlement_canonical", last - dt.timedelta(days=window - 1), last)
        png = market_structure_png(shares, f"Market structure, {window_label(window, days, last)} (MWh-weighted)")
        path = reports.save(f"market_structure_{last}.png", png)
        metadata["market_structure_plot"] = dg.MetadataValue.md(f"![market structure](data:image/png;base64,{base64.b64encode(png).decode()})")
        metadata["market_structure_png"] = dg.MetadataValue.path(str(path.resolve()))
    return dg.MaterializeResult(metadata=metadata)


ASSETS = [vlp_revenue_period, vlp_revenue_daily, vlp_party_daily, unit_classification]
