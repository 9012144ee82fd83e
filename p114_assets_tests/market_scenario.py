"""One settlement day with market data, built by hand, shared by the DuckDB and BigQuery tests.

5 June 2024, canonical run SF. Four units present in settlement (bm_unit_period, every period):

  T_RAMP-1 (RAMPCO, CCGT, 40 MW): the ramped acceptance of core/test_acceptance_estimate.py,
      crossing from period 20 into 21, two offer pairs. Settled, indicative and estimate agree:
      period 20 GBP 104.17, period 21 GBP 1,130.21 (13.333 MWh).
  T_DIFF-1 (DIFFCO, BATTERY, 60 MW): period 30, FPN 100 MW, pairs +1 20 MW (offer 60 / bid 55),
      +2 40 MW (offer 80 / bid 70). Acceptance 11 to 150 MW for the period; acceptance 12, issued
      later, back to 120 MW for its second half. The three figures all differ, each for a stated
      reason:
        settled (S0142 BO4, SF): acceptance 11's offer, 10 MWh on +1 (600.00) and 15 MWh on +2
            (1,200.00), and acceptance 12's reduction booked as a bid on +2, -7.5 MWh at its bid
            price 70 (-525.00): GBP 1,275.00, 17.5 MWh net;
        estimate (BOALF - FPN, stacked, Modo/Enact style): the net deviation, 50 then 20 MW,
            priced at offer prices only: 10 MWh x 60 + 7.5 MWh x 80 = GBP 1,200.00, 17.5 MWh;
            it is GBP 75.00 short: the bid-back priced at the offer price 80, not the bid price 70;
        indicative (EBOCF): computed while acceptance 12 still ended at 110 MW (amended since):
            offers 600.00 + 1,200.00, bids -525.00 on +2 and -137.50 on +1 (-2.5 MWh at 55):
            GBP 1,137.50, GBP 137.50 below settlement;
      and a non-delivery charge of GBP 12.34 in period 30.
  2__AGOLD000 (a supplier unit, never accepted) and T_IDLE-1 (never accepted).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa

from p114_assets.core.s0142.tables import RAW_TABLES
from p114_assets.core.settlement import period_start_utc
from p114_assets_tests.fake_insights import (
    FakeInsights,
    bm_unit,
    bod,
    boalf,
    disbsad,
    ebocf,
    flat_pn,
    mid,
    pn,
    system_price,
)

DAY = dt.date(2024, 6, 5)
RUN = "SF"
STAMP = dt.datetime(2024, 6, 27, 9, 30)
PERIODS = range(1, 49)


def raw_table(name: str, rows: list[dict]) -> pa.Table:
    spec = RAW_TABLES[name]
    schema = spec.arrow_schema()
    base = {"settlement_date": DAY, "run_type": RUN, "publication_ts": STAMP, "flow_version": "S0142013"}

    def value(column: str, v):  # money and volumes are exact decimals: the figures as written here
        return Decimal(str(v)) if isinstance(v, float) and pa.types.is_decimal(schema.field(column).type) else v

    return pa.Table.from_pylist([{c: value(c, {**base, **r}.get(c)) for c in spec.column_names} for r in rows], schema=schema)


def settlement_tables() -> dict[str, pa.Table]:
    units = []
    for p in PERIODS:
        ramp_qbs = {20: 1.667, 21: 13.333}.get(p, 0.0)
        diff_qbs = 17.5 if p == 30 else 0.0
        units += [
            {"settlement_period": p, "bm_unit_id": "T_RAMP-1", "lead_party_id": "RAMPCO", "period_fpn_mwh": 0.0,
             "balancing_services_volume_mwh": ramp_qbs, "metered_volume_mwh": ramp_qbs, "non_delivery_charge_gbp": 0.0},
            {"settlement_period": p, "bm_unit_id": "T_DIFF-1", "lead_party_id": "DIFFCO", "period_fpn_mwh": 50.0,
             "balancing_services_volume_mwh": diff_qbs, "metered_volume_mwh": 50.0 + diff_qbs,
             "non_delivery_charge_gbp": 12.34 if p == 30 else 0.0},
            {"settlement_period": p, "bm_unit_id": "2__AGOLD000", "lead_party_id": "GOLD", "period_fpn_mwh": -10.0,
             "balancing_services_volume_mwh": 0.0, "metered_volume_mwh": -10.0, "non_delivery_charge_gbp": 0.0},
            {"settlement_period": p, "bm_unit_id": "T_IDLE-1", "lead_party_id": "IDLECO", "period_fpn_mwh": 20.0,
             "balancing_services_volume_mwh": 0.0, "metered_volume_mwh": 21.0, "non_delivery_charge_gbp": 0.0},
        ]  # fmt: skip
    pairs = [
        {"settlement_period": 20, "bm_unit_id": "T_RAMP-1", "pair_number": 1, "accepted_offer_volume_mwh": 1.25, "offer_cashflow_gbp": 62.50},
        {"settlement_period": 20, "bm_unit_id": "T_RAMP-1", "pair_number": 2, "accepted_offer_volume_mwh": 0.417, "offer_cashflow_gbp": 41.67},
        {"settlement_period": 21, "bm_unit_id": "T_RAMP-1", "pair_number": 1, "accepted_offer_volume_mwh": 4.062, "offer_cashflow_gbp": 203.13},
        {"settlement_period": 21, "bm_unit_id": "T_RAMP-1", "pair_number": 2, "accepted_offer_volume_mwh": 9.271, "offer_cashflow_gbp": 927.08},
        {"settlement_period": 30, "bm_unit_id": "T_DIFF-1", "pair_number": 1, "accepted_offer_volume_mwh": 10.0, "offer_cashflow_gbp": 600.0,
         "accepted_bid_volume_mwh": 0.0, "bid_cashflow_gbp": 0.0},
        {"settlement_period": 30, "bm_unit_id": "T_DIFF-1", "pair_number": 2, "accepted_offer_volume_mwh": 15.0, "offer_cashflow_gbp": 1200.0,
         "accepted_bid_volume_mwh": -7.5, "bid_cashflow_gbp": -525.0},
    ]  # fmt: skip
    given = {"bm_unit_period": raw_table("bm_unit_period", units), "bid_offer_pair": raw_table("bid_offer_pair", pairs)}
    return {name: given.get(name, raw_table(name, [])) for name in RAW_TABLES}


def serve_market(fake: FakeInsights) -> None:
    """The day's market data on the fake Insights API."""
    b = period_start_utc(DAY, 21)
    at = lambda minutes: b + dt.timedelta(minutes=minutes)  # noqa: E731
    t0 = period_start_utc(DAY, 30)
    half, end = t0 + dt.timedelta(minutes=15), t0 + dt.timedelta(minutes=30)
    fake.rows["BOALF"] = [
        boalf("T_RAMP-1", 7, at(-30), at(-10), at(10), 0, 40), boalf("T_RAMP-1", 7, at(-30), at(10), at(20), 40, 40),
        boalf("T_RAMP-1", 7, at(-30), at(20), at(25), 40, 0),
        boalf("T_DIFF-1", 11, t0 - dt.timedelta(minutes=20), t0, end, 150, 150),
        boalf("T_DIFF-1", 12, t0 - dt.timedelta(minutes=5), half, end, 120, 120, amendmentFlag="AMD"),
    ]  # fmt: skip
    fake.rows["PN"] = flat_pn("T_RAMP-1", DAY, PERIODS, 0.0) + flat_pn("T_DIFF-1", DAY, PERIODS, 100.0) + [pn("T_IDLE-1", t0, end, 40, 40)]
    fake.rows["BOD"] = [bod("T_RAMP-1", DAY, p, n, size, offer, bid) for p in PERIODS for n, size, offer, bid in ((1, 10, 50, 45), (2, 30, 100, 90))]
    fake.rows["BOD"] += [bod("T_DIFF-1", DAY, p, n, size, offer, bid) for p in PERIODS
                         for n, size, offer, bid in ((1, 20, 60, 55), (2, 40, 80, 70), (-1, -50, 40, 30))]  # fmt: skip
    fake.rows["EBOCF_offer"] = [ebocf("T_RAMP-1", DAY, 20, {"positive1": 62.5, "positive2": 41.67}),
                                ebocf("T_RAMP-1", DAY, 21, {"positive1": 203.13, "positive2": 927.08}),
                                ebocf("T_DIFF-1", DAY, 30, {"positive1": 600.0, "positive2": 1200.0})]  # fmt: skip
    fake.rows["EBOCF_bid"] = [ebocf("T_DIFF-1", DAY, 30, {"positive1": -137.5, "positive2": -525.0})]
    fake.rows["MID"] = [mid(DAY, p, provider, 70.0 + p, 500.0) for p in PERIODS for provider in ("APXMIDP", "N2EXMIDP")]
    fake.rows["DISBSAD"] = [disbsad(DAY, 30, 1, 1850.9, 5.0)]
    fake.rows["DISEBSP"] = [system_price(DAY, p, 80.0) for p in PERIODS]
    fake.bm_units = [bm_unit("T_RAMP-1", "RAMPCO", "Ramp Co", fuel="CCGT", generation="40.000"),
                     bm_unit("T_DIFF-1", "DIFFCO", "Diff Co", fuel="BATTERY", generation="60.000", demand="-60.000"),
                     bm_unit("2__AGOLD000", "GOLD", "Gold Supply", unit_type="G", fuel=None, generation="0", demand="-500.000"),
                     bm_unit("T_IDLE-1", "IDLECO", "Idle Co", fuel="WIND", generation="30.000")]  # fmt: skip
