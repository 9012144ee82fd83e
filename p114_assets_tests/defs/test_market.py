"""The market group and the comparison marts as real Dagster runs against a fake Insights API on
127.0.0.1 and a DuckDB warehouse: figures to the penny (p114_assets_tests/market_scenario.py says
how each was computed by hand), the BM unit history, checks, the sensor and the runner."""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from decimal import Decimal as D

import dagster as dg
import pytest
from pytest_httpserver import HTTPServer

from p114_assets.definitions import ASSET_CHECKS, ASSETS
from p114_assets.defs.market.resources import InsightsResource
from p114_assets.defs.market.sensors import market_run_request
from p114_assets.app.runner import COMPARISON_KEYS, DERIVED_KEYS, MARKET_KEYS, root_causes
from p114_assets_tests.conftest import local_resources
from p114_assets_tests.fake_insights import FakeInsights, bm_unit
from p114_assets_tests.market_scenario import DAY, RUN, serve_market, settlement_tables

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@contextmanager
def market_env(folder):
    """A fake Insights API of its own, a DuckDB warehouse and a Dagster instance."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    try:
        fake = FakeInsights(server)
        resources = local_resources(folder, folder / "p114.duckdb")
        resources["insights"] = InsightsResource(base_url=fake.url, max_tries=2, timeout_seconds=10)
        with dg.instance_for_test() as instance:
            yield {"fake": fake, "resources": resources, "warehouse": resources["warehouse"], "instance": instance}
    finally:
        server.clear()
        server.stop()


@pytest.fixture
def env(tmp_path):
    with market_env(tmp_path) as built:
        yield built


def run(env, keys, partition: str = str(DAY), run_config: dict | None = None, expect_success: bool = True):
    result = dg.materialize([*ASSETS, *ASSET_CHECKS], selection=keys, partition_key=partition, resources=env["resources"],
                            instance=env["instance"], run_config={**QUIET, **(run_config or {})}, raise_on_error=False)  # fmt: skip
    assert result.success == expect_success, [e.message for e in result.all_events if e.is_failure]
    return result


def rows(env, sql: str) -> list[dict]:
    return env["warehouse"].query(sql).to_pylist()


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    """The hand-built day: settlement loaded, market served, everything materialized (once)."""
    with market_env(tmp_path_factory.mktemp("scenario")) as env:
        env["warehouse"].replace_partition(settlement_tables(), DAY, RUN)
        serve_market(env["fake"])
        market = run(env, MARKET_KEYS)
        run(env, DERIVED_KEYS)
        comparison = run(env, COMPARISON_KEYS)
        yield {**env, "market": market, "comparison": comparison}


def test_market_tables_carry_utc_times_and_settlement_periods(scenario):
    counts = {r["t"]: r["n"] for r in rows(scenario, """
        SELECT 'bid_offer' AS t, COUNT(*) AS n FROM p114.bid_offer UNION ALL SELECT 'acceptance', COUNT(*) FROM p114.acceptance
        UNION ALL SELECT 'physical_notification', COUNT(*) FROM p114.physical_notification
        UNION ALL SELECT 'market_index_price', COUNT(*) FROM p114.market_index_price
        UNION ALL SELECT 'balancing_adjustment', COUNT(*) FROM p114.balancing_adjustment
        UNION ALL SELECT 'indicative_cashflow', COUNT(*) FROM p114.indicative_cashflow
        UNION ALL SELECT 'indicative_system_price', COUNT(*) FROM p114.indicative_system_price""")}  # fmt: skip
    assert counts == {"bid_offer": 48 * 5, "acceptance": 5, "physical_notification": 97, "market_index_price": 96,
                      "balancing_adjustment": 1, "indicative_cashflow": 8, "indicative_system_price": 48}  # fmt: skip
    ramp = rows(scenario, "SELECT * FROM p114.acceptance WHERE bm_unit_id = 'T_RAMP-1' ORDER BY time_from_utc")
    assert [(r["settlement_period"], r["time_from_utc"].strftime("%H:%M")) for r in ramp] == [(20, "08:50"), (21, "09:10"), (21, "09:20")]
    assert ramp[0]["period_start_utc"].strftime("%H:%M") == "08:30" and str(ramp[0]["time_from_utc"].tzinfo) == "UTC"
    events = {e.asset_key.to_user_string(): e for e in scenario["market"].get_asset_materialization_events()}
    bod = events["bid_offer"].step_materialization_data.materialization.metadata
    assert bod["dagster/row_count"].value == 240 and bod["time_span"].value == "2024-06-04 23:00 .. 2024-06-05 23:00 UTC"
    assert len(scenario["fake"].requests_to("/datasets/BOD/stream")) == 24  # one hour per request


def test_settled_indicative_and_estimate_side_by_side_to_the_penny(scenario):
    period = {(r["bm_unit_id"], r["settlement_period"]): r for r in rows(scenario, "SELECT * FROM p114.bm_revenue_comparison")}
    assert set(period) == {("T_RAMP-1", 20), ("T_RAMP-1", 21), ("T_DIFF-1", 30)}  # only units with acceptances
    diff = period[("T_DIFF-1", 30)]
    assert {type(v) for k, v in diff.items() if k.endswith(("_gbp", "_mwh"))} == {D}  # exact decimals, not floats
    assert (diff["settled_bm_cashflow_gbp"], diff["indicative_bm_cashflow_gbp"], diff["acceptance_estimate_gbp"]) == (D("1275.00"), D("1137.50"), D("1200.00"))
    assert (diff["indicative_minus_settled_gbp"], diff["estimate_minus_settled_gbp"]) == (D("-137.50"), D("-75.00"))
    assert (diff["settled_accepted_volume_mwh"], diff["estimated_accepted_volume_mwh"], diff["estimated_minus_settled_volume_mwh"]) == (D("17.500"), D("17.500"), D("0.000"))
    assert (diff["run_type"], diff["lead_party_id"], diff["estimate_unpriced_volume_mwh"]) == ("SF", "DIFFCO", D("0.000"))
    assert diff["period_start_utc"].strftime("%Y-%m-%d %H:%M") == "2024-06-05 13:30"
    ramp20, ramp21 = period[("T_RAMP-1", 20)], period[("T_RAMP-1", 21)]
    assert (ramp20["settled_bm_cashflow_gbp"], ramp20["indicative_bm_cashflow_gbp"], ramp20["acceptance_estimate_gbp"]) == (D("104.17"), D("104.17"), D("104.17"))
    # the estimate's rows are stored to the penny and the kWh (half away from zero) and summed exactly:
    # pair 1 4.0625 MWh -> 4.063, x 50 = 203.125 -> 203.13; pair 2 9.2708333 MWh -> 9.271, x 100 -> 927.08
    assert (ramp21["settled_bm_cashflow_gbp"], ramp21["acceptance_estimate_gbp"], ramp21["estimated_accepted_volume_mwh"]) == (D("1130.21"), D("1130.21"), D("13.334"))

    daily = {r["bm_unit_id"]: r for r in rows(scenario, "SELECT * FROM p114.bm_revenue_comparison_daily")}
    assert (daily["T_RAMP-1"]["settled_bm_cashflow_gbp"], daily["T_RAMP-1"]["periods"]) == (D("1234.38"), 2)
    parties = {r["lead_party_id"]: r for r in rows(scenario, "SELECT * FROM p114.bm_revenue_comparison_party_daily")}
    assert (parties["DIFFCO"]["acceptance_estimate_gbp"], parties["DIFFCO"]["units"], parties["DIFFCO"]["run_type"]) == (D("1200.00"), 1, "SF")

    estimate = rows(scenario, "SELECT pair_number, volume_mwh, cashflow_gbp FROM p114.acceptance_estimate "
                              "WHERE bm_unit_id = 'T_DIFF-1' ORDER BY pair_number")  # fmt: skip
    assert [(r["pair_number"], r["volume_mwh"], r["cashflow_gbp"]) for r in estimate] == [(1, D("10.000"), D("600.00")), (2, D("7.500"), D("600.00"))]


def test_settled_and_indicative_apart_raise_a_warning(scenario):
    evaluations = {e.check_name: e for e in scenario["comparison"].get_asset_check_evaluations()}
    check = evaluations["settled_vs_indicative"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert "1 of 2 units differ by more than 5% and GBP 10 between settled (SF) and indicative" in check.description
    relaxed = run(scenario, COMPARISON_KEYS, run_config={"ops": {"bm_revenue_comparison_checks": {"config": {"warn_share": 0.2}}}})
    assert {e.check_name: e.passed for e in relaxed.get_asset_check_evaluations()}["settled_vs_indicative"]


def test_unit_revenue_per_mw_and_the_leaderboard(scenario):
    units = {r["bm_unit_id"]: r for r in rows(scenario, "SELECT * FROM p114.unit_revenue_daily")}
    assert set(units) == {"T_RAMP-1", "T_DIFF-1", "2__AGOLD000", "T_IDLE-1"}
    battery = units["T_DIFF-1"]
    assert (battery["bm_cashflow_gbp"], battery["non_delivery_charge_gbp"], battery["net_revenue_gbp"]) == (D("1275.00"), D("12.34"), D("1262.66"))
    assert (battery["capacity_mw"], battery["fuel_type"], battery["unit_kind"], battery["days_30d"]) == (60.0, "BATTERY", "transmission", 1)
    assert battery["gbp_per_mw"] == pytest.approx(1262.66 / 60)
    assert battery["gbp_per_mw_year_30d"] == pytest.approx(1262.66 * 365 / 60) == battery["gbp_per_mw_year_365d"]
    assert units["T_RAMP-1"]["gbp_per_mw_year_30d"] == pytest.approx(1234.38 * 365 / 40)
    assert units["2__AGOLD000"]["unit_kind"] == "supplier" and units["2__AGOLD000"]["capacity_mw"] == 500.0
    board = rows(scenario, "SELECT * FROM p114.unit_revenue_leaderboard ORDER BY fuel_type_order, fuel_type, rank_in_fuel_type")
    assert [(r["fuel_type"], r["bm_unit_id"], r["rank_in_fuel_type"]) for r in board][:2] == [("BATTERY", "T_DIFF-1", 1), ("CCGT", "T_RAMP-1", 1)]


def test_self_balancing_old_figure_beside_p114s(scenario):
    (row,) = rows(scenario, "SELECT * FROM p114.self_balancing_comparison")
    # the old figure: T_IDLE-1 and the supplier unit 2__AGOLD000 have no acceptance: 96 of 192 rows
    assert (row["antijoin_units"], row["antijoin_units_without_acceptance"], row["antijoin_rows"]) == (4, 2, 192)
    assert row["antijoin_share_by_rows"] == 0.5 and row["antijoin_supplier_rows"] == 48
    # MWh (|FPN| + |QBS| + |DEV|): RAMP 15.0, DIFF 2,417.5, GOLD 480, IDLE 1,008
    assert row["antijoin_share_by_mwh"] == pytest.approx((480 + 1008) / (15 + 2417.5 + 480 + 1008))
    # p114 (suppliers excluded): DIFF and IDLE self_dispatched, RAMP so_directed
    assert row["self_dispatched_share"] == pytest.approx((2417.5 + 1008) / (15 + 2417.5 + 1008))
    assert row["so_directed_share"] == pytest.approx(15 / (15 + 2417.5 + 1008))
    assert (row["classified_units"], row["acceptance_dates"]) == (3, 1)


def test_reference_list_history_when_a_unit_changes_lead_party(env):
    fake, days = env["fake"], [dt.date(2024, 3, 1), dt.date(2024, 3, 2), dt.date(2024, 3, 3), dt.date(2024, 3, 4)]
    fake.bm_units = [bm_unit("V__AFLEX001", "FLEXA", "Flex A", unit_type="V", fuel=None, generation="5.000"),
                     bm_unit("T_GONE-1", "OLD", "Old Co")]  # fmt: skip
    for day in days[:2]:
        run(env, [dg.AssetKey("bm_units")], str(day))
    fake.bm_units = [bm_unit("V__AFLEX001", "FLEXB", "Flex B", unit_type="V", fuel=None, generation="5.000")]  # new party, T_GONE-1 left
    for day in days[2:]:
        run(env, [dg.AssetKey("bm_units")], str(day))
    history = rows(env, "SELECT bm_unit_id, valid_from, valid_to, last_seen, lead_party_id FROM p114.bm_units ORDER BY ALL")
    assert [(r["bm_unit_id"], r["lead_party_id"], r["valid_from"], r["valid_to"], r["last_seen"]) for r in history] == [
        ("T_GONE-1", "OLD", days[0], days[2], days[1]),
        ("V__AFLEX001", "FLEXA", days[0], days[2], days[1]),
        ("V__AFLEX001", "FLEXB", days[2], None, days[3]),
    ]
    as_of = "SELECT lead_party_id FROM p114.bm_units WHERE bm_unit_id = 'V__AFLEX001' AND valid_from <= DATE '{d}' " \
            "AND (valid_to IS NULL OR DATE '{d}' < valid_to)"  # fmt: skip
    assert [rows(env, as_of.format(d=d))[0]["lead_party_id"] for d in days] == ["FLEXA", "FLEXA", "FLEXB", "FLEXB"]
    # a later fetch never rewrites what was observed for a past date
    again = run(env, [dg.AssetKey("bm_units")], str(days[0]))
    metadata = again.get_asset_materialization_events()[0].step_materialization_data.materialization.metadata
    assert (metadata["snapshots_kept"].value, metadata["snapshots_written"].value) == (1, 0)
    assert rows(env, as_of.format(d=days[0]))[0]["lead_party_id"] == "FLEXA"


def test_a_failing_date_names_itself_and_keeps_its_rows(env):
    from werkzeug import Response

    env["warehouse"].replace_partition(settlement_tables(), DAY, RUN)
    serve_market(env["fake"])
    run(env, [dg.AssetKey("market_index_price")])
    for _ in range(2):
        env["fake"].fail_next("MID", Response("down", status=503))
    result = run(env, [dg.AssetKey("market_index_price")], expect_success=False)
    assert "2024-06-05: MID 2024-06-05 periods 1-48: gave up after 2 tries: HTTP 503" in root_causes(result)
    assert rows(env, "SELECT COUNT(*) AS n FROM p114.market_index_price")[0]["n"] == 96  # the earlier rows stay


# -- the sensor --------------------------------------------------------------------------------


def test_the_sensor_skips_with_a_reason_when_the_api_is_unreachable():
    with dg.instance_for_test() as instance:
        started = dt.datetime.now()
        answer = market_run_request(instance, dt.datetime(2024, 6, 6, 9, tzinfo=dt.timezone.utc), "http://127.0.0.1:9/bmrs/api/v1", probe=2)
        assert isinstance(answer, dg.SkipReason)
        assert "the Elexon Insights API at http://127.0.0.1:9/bmrs/api/v1 is unreachable (ConnectError" in answer.skip_message
        assert "market data for 2024-06-05 not requested" in answer.skip_message
        assert (dt.datetime.now() - started).total_seconds() < 5


def test_the_sensor_asks_for_yesterday_once_the_day_is_complete(httpserver):
    fake = FakeInsights(httpserver)
    with dg.instance_for_test() as instance:
        early = market_run_request(instance, dt.datetime(2024, 6, 6, 4, tzinfo=dt.timezone.utc), fake.url)  # 05:00 BST
        assert isinstance(early, dg.SkipReason) and "waiting until 06:00" in early.skip_message
        request = market_run_request(instance, dt.datetime(2024, 6, 6, 9, tzinfo=dt.timezone.utc), fake.url)
        assert isinstance(request, dg.RunRequest) and request.partition_key == "2024-06-05" and request.run_key == "market-2024-06-05"


def test_the_sensor_is_on_by_default_and_evaluates_without_internet(monkeypatch):
    from p114_assets.defs.market.sensors import p114_market

    monkeypatch.setenv("P114_INSIGHTS_URL", "http://127.0.0.1:9/bmrs/api/v1")
    assert p114_market.default_status == dg.DefaultSensorStatus.RUNNING
    with dg.instance_for_test() as instance:
        result = p114_market(dg.build_sensor_context(instance=instance))
    assert isinstance(result, dg.SkipReason)
