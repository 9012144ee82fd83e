"""End to end on a generated S0142 date: `p114 materialize --with-market` and the in-process runner
load the settlement, then the market group from a fake Insights API (P114_INSIGHTS_URL), then the
comparison marts; and the same hand-built day on the BigQuery emulator agrees with DuckDB."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import dagster as dg
import polars as pl
import pytest
from click.testing import CliRunner

from p114_assets.app.cli import main
from p114_assets.core.synthetic import SyntheticMarket, generate_files
from p114_assets.core.s0142.parser import parse_file
from p114_assets.core.settlement import period_start_utc
from p114_assets.definitions import ASSET_CHECKS, ASSETS
from p114_assets.defs.market.resources import InsightsResource
from p114_assets.app.runner import COMPARISON_KEYS, DERIVED_KEYS, MARKET_KEYS, folder_resources
from p114_assets.warehouse.duckdb import DuckDBWarehouse
from p114_assets.warehouse.market_tables import COMPARISON_TABLES, MARKET_TABLES
from p114_assets.warehouse.tables import BIGQUERY_TYPES
from p114_assets_tests.fake_insights import FakeInsights, bm_unit, bod, boalf, ebocf, flat_pn
from p114_assets_tests.market_scenario import DAY, RUN, serve_market, settlement_tables

GENERATED_DAY = dt.date(2024, 6, 12)


def serve_for_generated(fake: FakeInsights, folder) -> tuple[str, int, D]:
    """Market data about one generated unit with settled offers: its acceptance, FPN, pairs and an
    EBOCF equal to its BO4 offer cashflow. Returns (unit, period, settled offer cashflow)."""
    parsed = parse_file(next(folder.glob("S0142_*_II_*.gz")))
    pairs = pl.from_arrow(parsed.tables["bid_offer_pair"])
    chosen = pairs.filter(pl.col("accepted_offer_volume_mwh") > 0).sort("bm_unit_id", "settlement_period").row(0, named=True)
    unit, period = chosen["bm_unit_id"], chosen["settlement_period"]
    settled = pairs.filter((pl.col("bm_unit_id") == unit) & (pl.col("settlement_period") == period))
    cash = (settled["offer_cashflow_gbp"].fill_null(0) + settled["bid_cashflow_gbp"].fill_null(0)).sum()  # exact, as printed
    start = period_start_utc(GENERATED_DAY, period)
    fake.rows["BOALF"] = [boalf(unit, 1, start, start, start + dt.timedelta(minutes=30), 10, 10)]
    fake.rows["PN"] = flat_pn(unit, GENERATED_DAY, range(1, 49), 0.0)
    fake.rows["BOD"] = [bod(unit, GENERATED_DAY, period, 1, 20, 100.0, 90.0)]
    fake.rows["EBOCF_offer"] = [ebocf(unit, GENERATED_DAY, period, {"positive1": float(cash)})]  # JSON: a float
    fake.bm_units = [bm_unit(unit, "PARTY", "Party", fuel="BATTERY", generation="50.000")]
    assert isinstance(cash, D)
    return unit, period, cash


def test_materialize_with_market_from_the_command_line(tmp_path, httpserver, monkeypatch):
    folder = tmp_path / "incoming"
    generate_files(GENERATED_DAY, GENERATED_DAY, ["II"], folder, market=SyntheticMarket.build(30, seed=4))
    fake = FakeInsights(httpserver)
    unit, period, cash = serve_for_generated(fake, folder)
    monkeypatch.setenv("P114_INSIGHTS_URL", fake.url)
    warehouse_path = tmp_path / "p114.duckdb"
    result = CliRunner().invoke(main, ["materialize", "--source", str(folder), "--warehouse", str(warehouse_path), "--with-market"],
                                catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    said = " ".join(result.stdout.split())
    assert f"market data from {fake.url}" in said and "market data and comparisons for 1 dates" in said
    assert "p114.bm_revenue_comparison " in result.stdout and "p114.acceptance " in result.stdout
    warehouse = DuckDBWarehouse(path=str(warehouse_path))
    compared = warehouse.query(f"SELECT * FROM p114.bm_revenue_comparison WHERE bm_unit_id = '{unit}' "
                               f"AND settlement_period = {period}").to_pylist()[0]  # fmt: skip
    assert (compared["settled_bm_cashflow_gbp"], compared["indicative_bm_cashflow_gbp"], compared["run_type"]) == (cash, cash, "II")
    # 10 MW over a full period on a 20 MW pair at GBP 100: 5 MWh, GBP 500
    assert (compared["acceptance_estimate_gbp"], compared["estimated_accepted_volume_mwh"]) == (D("500.00"), D("5.000"))
    # every settled unit with acceptances is compared; EBOCF is loaded for the date, so 0 (not NULL) where it has nothing
    others = warehouse.query("SELECT COUNT(DISTINCT bm_unit_id) AS units, COUNT(*) AS n, COUNT(indicative_bm_cashflow_gbp) AS i, "
                             "SUM(CASE WHEN indicative_bm_cashflow_gbp = 0 THEN 1 ELSE 0 END) AS zero "
                             "FROM p114.bm_revenue_comparison").to_pylist()[0]  # fmt: skip
    assert others["units"] > 1 and others["i"] == others["n"] and others["zero"] == others["n"] - 1
    capacity = warehouse.query(f"SELECT capacity_mw, fuel_type FROM p114.unit_revenue_daily WHERE bm_unit_id = '{unit}'").to_pylist()[0]
    assert capacity == {"capacity_mw": 50.0, "fuel_type": "BATTERY"}


def test_without_internet_the_market_step_fails_alone_and_says_why(tmp_path, monkeypatch):
    folder = tmp_path / "incoming"
    generate_files(GENERATED_DAY, GENERATED_DAY, ["II"], folder, market=SyntheticMarket.build(20, seed=4))
    monkeypatch.setenv("P114_INSIGHTS_URL", "http://127.0.0.1:9/bmrs/api/v1")
    result = CliRunner().invoke(main, ["materialize", "--source", str(folder), "--warehouse", str(tmp_path / "p.duckdb"),
                                       "--with-market"], catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 1
    assert "failed 2024-06-12 market:" in result.stderr and "ConnectError" in result.stderr
    assert "1 partitions and 1 settlement dates of derived tables" in " ".join(result.stdout.split())  # settlement is done


@pytest.mark.slow
def test_the_market_layout_and_the_comparison_on_bigquery_agree_with_duckdb(tmp_path, httpserver, bq_warehouse):
    fake = FakeInsights(httpserver)
    serve_market(fake)
    results = {}
    for name, warehouse in (("duckdb", DuckDBWarehouse(path=str(tmp_path / "p114.duckdb"))), ("bigquery", bq_warehouse)):
        resources = {**folder_resources(tmp_path, warehouse), "insights": InsightsResource(base_url=fake.url, max_tries=2)}
        warehouse.replace_partition(settlement_tables(), DAY, RUN)
        with dg.instance_for_test() as instance:
            for keys in (MARKET_KEYS, DERIVED_KEYS, COMPARISON_KEYS):
                result = dg.materialize([*ASSETS, *ASSET_CHECKS], selection=keys, partition_key=str(DAY), resources=resources,
                                        instance=instance, raise_on_error=False)  # fmt: skip
                assert result.success, (name, keys)
        results[name] = pl.from_arrow(warehouse.query(
            "SELECT * FROM p114.bm_revenue_comparison ORDER BY bm_unit_id, settlement_period"))  # fmt: skip
    duck, bq = results["duckdb"], results["bigquery"]
    assert duck.height == bq.height == 3
    money = [c for c in duck.columns if c.endswith(("_gbp", "_mwh"))]  # exact on both engines, compared exactly below
    assert all(isinstance(duck[c].dtype, pl.Decimal) and isinstance(bq[c].dtype, pl.Decimal) for c in money) and len(money) == 9
    for column in duck.columns:
        a, b = duck[column], bq[column]
        if a.dtype == pl.Float64:
            assert ((a - b).abs().fill_null(0) <= 0.005).all() and a.null_count() == b.null_count(), column
        elif isinstance(a.dtype, pl.Datetime):
            assert a.dt.convert_time_zone("UTC").equals(b.dt.convert_time_zone("UTC")), column
        else:
            assert a.cast(b.dtype).equals(b), column
    with bq_warehouse.bigquery.get_client() as client:
        for spec in [*MARKET_TABLES.values(), *COMPARISON_TABLES.values()]:
            if not bq_warehouse.table_exists(spec.name):
                continue
            table = client.get_table(f"{bq_warehouse.bigquery.project}.{bq_warehouse.dataset}.{spec.name}")
            assert [f.name for f in table.schema] == spec.column_names, spec.name
            assert [f.field_type for f in table.schema] == [BIGQUERY_TYPES[c.type] for c in spec.columns], spec.name
            assert (table.time_partitioning.field if table.time_partitioning else None) == (
                "settlement_date" if "settlement_date" in spec.column_names else None), spec.name  # fmt: skip
            assert table.clustering_fields == (list(spec.cluster_by) or None), spec.name
