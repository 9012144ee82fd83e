"""VLP revenue and self-balancing classification against hand-written files and hand-computed figures.

fixtures/vlp_ii.s0142 and vlp_sf.s0142 (2024-06-05, periods 1 and 2), by hand:

  V__AFLEX001 (party FLEX), period 1: offer pair  +2.0 MWh x 100.00 = 200.00
                                      bid pair    -1.0 MWh x -30.50 = +30.50  (a negative bid price: paid to reduce)
                                      CB = 230.50; non-delivery charge 4.25 (II) / 1.10 (SF)
                                      metered 0.8 (II) / 0.95 (SF) of a balancing services volume of 1.0
  V__BFLEX002 (party FLEX), period 2: offer pair  +1.5 MWh x 95.50 = 143.25; metered 1.2 of 1.5
  T_BIGG-1 (party BIGGEN), period 1:  offer 100 MWh x 80.00 = 8,000.00: not a VLP unit
  2__AGOLD000 (party GOLD): a supplier unit, never VLP, never classified
  FLEX PPC (BM cashflow, energy imbalance, non-delivery, RCRC):
      II: p1 230.50, 12.40, 4.25, 1.10; p2 143.25, -3.00, 0, 0.40
      SF: p1 230.50, 11.90, 1.10, 1.05; p2 unchanged
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import dagster as dg
import pyarrow as pa
import pytest

from p114_assets.core.classification import Thresholds, classify, market_structure
from p114_assets.core.s0142.parser import parse_file
from p114_assets.definitions import ASSET_CHECKS, ASSETS
from p114_assets_tests.conftest import FIXTURES, local_resources

DAY = dt.date(2024, 6, 5)
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
DAILY = ["settlement_canonical", "run_reconciliation", "vlp_revenue_period", "vlp_revenue_daily", "vlp_party_daily",
         "unit_classification"]  # fmt: skip


@pytest.fixture
def env(tmp_path):
    resources = local_resources(tmp_path, tmp_path / "p114.duckdb")
    warehouse = resources["warehouse"]
    with dg.instance_for_test() as instance:
        yield {"warehouse": warehouse, "resources": resources, "instance": instance, "reports": tmp_path / "reports"}


def load(env, fixture: str, day: dt.date = DAY) -> None:
    """Raw tables of a hand-written file straight into the warehouse (optionally as another date)."""
    parsed = parse_file(FIXTURES / fixture)
    tables = parsed.tables
    if day != DAY:
        tables = {n: t.set_column(t.schema.get_field_index("settlement_date"), t.schema.field("settlement_date"),
                                  pa.array([day] * t.num_rows, pa.date32())) for n, t in tables.items()}  # fmt: skip
    env["warehouse"].replace_partition(tables, day, parsed.header.run_type)


def materialize(env, key: str = str(DAY), config: dict | None = None, tags: dict | None = None):
    run_config = {**QUIET, "ops": {"unit_classification": {"config": config}}} if config else QUIET
    result = dg.materialize([*ASSETS, *ASSET_CHECKS], selection=[dg.AssetKey(a) for a in DAILY], partition_key=key, tags=tags,
                            resources=env["resources"], instance=env["instance"], run_config=run_config)  # fmt: skip
    assert result.success
    return result


def rows(env, table: str) -> list[dict]:
    return env["warehouse"].query(f"SELECT * FROM p114.{table} ORDER BY ALL").to_pylist()


def test_vlp_revenue_to_the_penny(env):
    load(env, "vlp_ii.s0142")
    materialize(env)
    period = {(r["bm_unit_id"], r["settlement_period"]): r for r in rows(env, "vlp_revenue_period")}
    assert set(period) == {("V__AFLEX001", 1), ("V__AFLEX001", 2), ("V__BFLEX002", 1), ("V__BFLEX002", 2)}  # no T_, no 2__
    a1 = period[("V__AFLEX001", 1)]
    assert (a1["accepted_offer_volume_mwh"], a1["accepted_bid_volume_mwh"]) == (D("2.000"), D("-1.000"))
    assert (a1["bm_cashflow_gbp"], a1["non_delivery_charge_gbp"], a1["net_balancing_revenue_gbp"]) == (D("230.50"), D("4.25"), D("226.25"))
    assert (a1["metered_volume_mwh"], a1["balancing_services_volume_mwh"], a1["delivery_ratio"]) == (D("0.800"), D("1.000"), 0.8)
    assert (a1["lead_party_id"], a1["run_type"]) == ("FLEX", "II")
    idle = period[("V__AFLEX001", 2)]
    assert (idle["bm_cashflow_gbp"], idle["net_balancing_revenue_gbp"], idle["delivery_ratio"]) == (0.0, 0.0, None)
    b2 = period[("V__BFLEX002", 2)]
    assert (b2["bm_cashflow_gbp"], b2["net_balancing_revenue_gbp"]) == (D("143.25"), D("143.25"))
    assert b2["delivery_ratio"] == pytest.approx(1.2 / 1.5)

    daily = {r["bm_unit_id"]: r for r in rows(env, "vlp_revenue_daily")}
    assert set(daily) == {"V__AFLEX001", "V__BFLEX002"}
    assert (daily["V__AFLEX001"]["bm_cashflow_gbp"], daily["V__AFLEX001"]["non_delivery_charge_gbp"],
            daily["V__AFLEX001"]["net_balancing_revenue_gbp"], daily["V__AFLEX001"]["periods_with_acceptances"]) == (D("230.50"), D("4.25"), D("226.25"), 1)  # fmt: skip
    assert daily["V__BFLEX002"]["net_balancing_revenue_gbp"] == D("143.25")

    (party,) = rows(env, "vlp_party_daily")  # FLEX only: BIGGEN and GOLD lead no V__ unit
    assert party["party_id"] == "FLEX" and party["vlp_units"] == 2
    # 230.50 + 143.25 = 373.75; 4.25; 12.40 - 3.00 = 9.40; 1.10 + 0.40 = 1.50
    assert (party["bm_cashflow_gbp"], party["non_delivery_charge_gbp"], party["energy_imbalance_cashflow_gbp"],
            party["residual_cashflow_reallocation_gbp"]) == (D("373.75"), D("4.25"), D("9.40"), D("1.50"))  # fmt: skip
    assert party["net_settlement_position_gbp"] == D("361.60")  # 373.75 - 4.25 - 9.40 + 1.50
    # PPC 9 (VLP compensation, + = debit): 2.50 + 1.25; PPC 10 (supplier compensation, + = credit): blank + 0.40
    assert (party["vlp_compensation_cashflow_gbp"], party["supplier_compensation_cashflow_gbp"]) == (D("3.75"), D("0.40"))
    assert party["net_position_after_compensation_gbp"] == D("358.25")  # 361.60 - 3.75 + 0.40


def test_a_more_mature_run_moves_the_marts_to_its_figures(env):
    load(env, "vlp_ii.s0142")
    materialize(env)
    load(env, "vlp_sf.s0142")
    result = materialize(env)
    daily = {r["bm_unit_id"]: r for r in rows(env, "vlp_revenue_daily")}
    a = daily["V__AFLEX001"]
    assert a["run_type"] == "SF"
    assert (a["non_delivery_charge_gbp"], a["net_balancing_revenue_gbp"], a["metered_volume_mwh"]) == (D("1.10"), D("229.40"), D("0.950"))
    assert a["delivery_ratio"] == pytest.approx(0.95)
    (party,) = rows(env, "vlp_party_daily")
    # 373.75 - 1.10 - (11.90 - 3.00) + (1.05 + 0.40) = 365.20
    assert (party["run_type"], party["net_settlement_position_gbp"]) == ("SF", D("365.20"))
    assert (party["vlp_compensation_cashflow_gbp"], party["supplier_compensation_cashflow_gbp"]) == (D("0.0"), D("0.0"))  # printed 0
    assert party["net_position_after_compensation_gbp"] == D("365.20")
    check = next(e for e in result.get_asset_check_evaluations() if e.check_name == "vlp_cashflow_reconciles")
    assert check.passed and check.metadata["parties_compared"].value == 1


def test_the_cashflow_check_catches_units_that_do_not_add_up_to_ppc(env):
    load(env, "vlp_ii.s0142")
    with env["warehouse"].connect() as con:  # FLEX's PPC says one pound more than its units' BO4 pairs
        con.execute("UPDATE p114.party_period SET bm_unit_cashflow_gbp = bm_unit_cashflow_gbp + 1 "
                    "WHERE party_id = 'FLEX' AND settlement_period = 1")  # fmt: skip
    result = dg.materialize([*ASSETS, *ASSET_CHECKS], selection=[dg.AssetKey(a) for a in DAILY], partition_key=str(DAY),
                            resources=env["resources"], instance=env["instance"], run_config=QUIET)  # fmt: skip
    assert result.success  # WARN: reported, not blocking
    check = next(e for e in result.get_asset_check_evaluations() if e.check_name == "vlp_cashflow_reconciles")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert "| 2024-06-05 |" not in check.metadata["first_failing_rows"].value  # per-date rows, then:
    assert "| FLEX | 374.75 | 373.75 |" in check.metadata["first_failing_rows"].value


HAND = {  # unit: (a_self, a_so, a_dev, class) over the one date of the fixture
    "E_SELF-1": (20.0, 0.0, 0.7, "self_dispatched"),  # |10.5-10| + |9.8-10|
    "E_WILD-1": (10.0, 0.0, 8.0, "imbalance_exposed"),  # |9-5| + |1-5|; dev_share 8/18
    "M_TINY-1": (0.1, 0.0, 0.2, "inactive"),  # A_tot 0.3 < 1 MWh
    "T_BIGG-1": (600.0, 100.0, 0.0, "mixed"),  # so_share 100/700 = 0.143: neither <= 0.1 nor >= 0.5
    "V__AFLEX001": (0.0, 1.0, 0.2, "so_directed"),  # |0.8 - 0 - 1| ; so_share 1/1.2
    "V__BFLEX002": (0.0, 1.5, 0.3, "so_directed"),
}


def test_classification_by_hand(env):
    load(env, "vlp_ii.s0142")
    result = materialize(env)
    got = {r["bm_unit_id"]: r for r in rows(env, "unit_classification")}
    assert set(got) == set(HAND)  # 2__AGOLD000 is a supplier unit: excluded
    for unit, (a_self, a_so, a_dev, cls) in HAND.items():
        r = got[unit]
        assert (r["a_self_mwh"], r["a_so_mwh"], r["a_dev_mwh"]) == tuple(D(str(v)) for v in (a_self, a_so, a_dev)), unit
        assert r["a_tot_mwh"] == D(str(a_self)) + D(str(a_so)) + D(str(a_dev))  # exact MWh
        assert r["so_share"] == pytest.approx(a_so / (a_self + a_so + a_dev))
        assert r["class"] == cls == classify(a_self, a_so, a_dev), unit  # the SQL and the reference rule agree
        assert (r["window_start"], r["window_end"], r["window_days"]) == (DAY - dt.timedelta(days=29), DAY, 30)
        assert (r["days_with_data"], r["run_types_used"], r["min_activity_mwh"], r["so_directed_min_share"]) == (1, "II", 1.0, 0.5)
    event = next(e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey("unit_classification"))
    table = event.materialization.metadata["market_structure"].value
    # MWh-weighted: 700 + 20.7 + 18 + 3.0 + 0.3 = 742.0
    assert "| mixed | 700.0 | 94.34% | 1 |" in table and "| so_directed | 3.0 | 0.40% | 2 |" in table
    assert "| self_dispatched | 20.7 | 2.79% | 1 |" in table and "| inactive | 0.3 | 0.04% | 1 |" in table
    png = env["reports"] / f"market_structure_{DAY}.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert event.materialization.metadata["market_structure_plot"].value.startswith("![market structure](data:image/png;base64,")


def test_classification_thresholds_and_window_are_run_config(env):
    load(env, "vlp_ii.s0142")
    load(env, "vlp_sf.s0142", day=DAY + dt.timedelta(days=1))  # a second date: SF values
    tags = {"dagster/asset_partition_range_start": str(DAY), "dagster/asset_partition_range_end": str(DAY + dt.timedelta(days=1))}
    materialize(env, key=None, tags=tags)
    second = {r["bm_unit_id"]: r for r in rows(env, "unit_classification") if r["settlement_date"] == DAY + dt.timedelta(days=1)}
    # a 30-day window reaches both dates: V__AFLEX001 a_so 1 + 1, a_dev 0.2 + |0.95 - 1| = 0.25
    assert (second["V__AFLEX001"]["a_so_mwh"], second["V__AFLEX001"]["a_dev_mwh"]) == (2.0, 0.25)
    assert second["V__AFLEX001"]["run_types_used"] == "II,SF" and second["V__AFLEX001"]["days_with_data"] == 2

    materialize(env, key=str(DAY + dt.timedelta(days=1)), config={"window_days": 1, "min_activity_mwh": 2.0})
    narrow = {r["bm_unit_id"]: r for r in rows(env, "unit_classification") if r["settlement_date"] == DAY + dt.timedelta(days=1)}
    assert narrow["V__AFLEX001"]["a_dev_mwh"] == D("0.05") and narrow["V__AFLEX001"]["run_types_used"] == "SF"
    assert narrow["V__AFLEX001"]["class"] == narrow["V__BFLEX002"]["class"] == "inactive"  # 1.05 and 1.8 MWh < 2
    assert narrow["T_BIGG-1"]["min_activity_mwh"] == 2.0 and narrow["T_BIGG-1"]["window_days"] == 1


def test_thresholds_are_validated():
    with pytest.raises(ValueError, match="window_days must be at least 1"):
        Thresholds(window_days=0)
    with pytest.raises(ValueError, match="so_directed_min_share is a share"):
        Thresholds(so_directed_min_share=1.5)


def test_rule_order_and_boundaries():
    t = Thresholds()
    assert classify(0.5, 0.5, 0.0, t) == "so_directed"  # so_share exactly 0.5
    assert classify(0.8, 0.0, 0.2, t) == "self_dispatched"  # dev_share exactly 0.2: not > 0.2
    assert classify(0.7, 0.0, 0.3, t) == "imbalance_exposed"
    assert classify(0.0, 0.9, 0.0, Thresholds(min_activity_mwh=1.0)) == "inactive"  # activity first
    assert classify(0.0, 0.0, 0.0, Thresholds(min_activity_mwh=0.0)) == "inactive"


def test_market_shares_are_weighted_by_mwh_not_rows():
    shares = {s["class"]: s for s in market_structure([("self_dispatched", 900.0)] + [("so_directed", 100.0 / 9)] * 9)}
    assert shares["self_dispatched"]["share"] == pytest.approx(0.9) and shares["so_directed"]["share"] == pytest.approx(0.1)
    assert shares["so_directed"]["units"] == 9 and shares["mixed"] == {"class": "mixed", "mwh": 0.0, "share": 0.0, "units": 0}
