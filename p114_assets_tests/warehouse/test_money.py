"""Exact money (issue 13): money, volumes and prices are decimals from the parse to the marts, sums
are exact to the penny, and a warehouse built with DOUBLE columns is converted on first use."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p114_assets.core.synthetic import SyntheticMarket, generate_file
from p114_assets.core.s0142.parser import parse_bytes
from p114_assets.core.s0142.tables import ARROW_TYPES, PRINTED_DECIMALS, RAW_TABLES, Column, TableSpec
from p114_assets.warehouse import sql
from p114_assets.warehouse.duckdb import DuckDBWarehouse
from p114_assets.warehouse.tables import BIGQUERY_TYPES, DUCKDB_TYPES, TABLES

JULY = [dt.date(2024, 7, 1) + dt.timedelta(days=i) for i in range(31)]


def test_money_volumes_and_prices_are_declared_once_as_exact_decimals():
    assert (DUCKDB_TYPES["gbp"], DUCKDB_TYPES["mwh"], DUCKDB_TYPES["price"]) == ("DECIMAL(18,2)", "DECIMAL(18,3)", "DECIMAL(18,5)")
    assert {BIGQUERY_TYPES[t] for t in PRINTED_DECIMALS.values()} == {"NUMERIC"}
    for name, spec in TABLES.items():  # raw, settlement, market and comparison tables alike
        for c in spec.columns:
            if c.name.endswith("_gbp_per_mwh"):
                assert c.type == "price", (name, c.name)
            elif c.name.endswith("_gbp"):
                assert c.type == "gbp", (name, c.name)
            elif c.name.endswith("_mwh") and c.name not in ("min_activity_mwh", "antijoin_share_by_mwh"):  # a threshold; a share
                assert c.type == "mwh", (name, c.name)
    assert RAW_TABLES["bm_unit_period"].arrow_schema().field("transmission_loss_factor").type == pa.float64()  # 7 dp: a factor
    ratios = TABLES["unit_revenue_daily"].arrow_schema()  # GBP per MW is a ratio, not money
    assert {ratios.field(c).type for c in ("gbp_per_mw", "gbp_per_mw_year_30d", "capacity_mw")} == {pa.float64()}


def test_insights_floats_become_the_decimals_they_were_published_as():
    """JSON gives binary floats: each is rounded to its column's decimals on the way to Arrow, so
    what Insights printed is stored exactly, and a computed product to the penny."""
    frame = pl.DataFrame({"cashflow_gbp": [0.1 + 0.2, 1502.2899999999995, -137.5, None, 203.12499999999997, -0.125],
                          "volume_mwh": [13.333333333333334, 0.1 + 0.2, 2417.5, 1.0, 4.0625, -4.0625],
                          "price_gbp_per_mwh": [85.123456, 0.1 + 0.2, -9999.0, 60.0, 0.000005, -0.000005]})  # fmt: skip
    spec = TableSpec("t", (Column("cashflow_gbp", "gbp"), Column("volume_mwh", "mwh"), Column("price_gbp_per_mwh", "price")), key=())
    exact = spec.exact_decimals(frame).to_arrow().cast(spec.arrow_schema()).to_pydict()
    assert 0.1 + 0.2 != 0.3 and exact["cashflow_gbp"] == [Decimal("0.30"), Decimal("1502.29"), Decimal("-137.50"), None,
                                                                Decimal("203.13"), Decimal("-0.13")]  # ties (or float noise below one) away from zero, as SQL ROUND
    assert exact["volume_mwh"] == [Decimal("13.333"), Decimal("0.300"), Decimal("2417.500"), Decimal("1.000"), Decimal("4.063"), Decimal("-4.063")]
    assert exact["price_gbp_per_mwh"] == [Decimal("85.12346"), Decimal("0.30000"), Decimal("-9999.00000"), Decimal("60.00000"),
                                         Decimal("0.00001"), Decimal("-0.00001")]


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(sorted(PRINTED_DECIMALS)))
def test_a_printed_value_cast_from_float_to_decimal_is_exact(units, scale):
    """Where a value was read as a float first, the cast to its decimal type gives back exactly
    what was printed, for anything printed with at most the column's decimals (|x| < 10^13 for
    money): the float is the nearest double to the printed text, and rounding it recovers it."""
    if abs(units) >= 10**13 * 10**scale // 100:
        units //= 10**scale
    printed = f"{Decimal(units).scaleb(-scale):f}"
    decimal_type = ARROW_TYPES[PRINTED_DECIMALS[scale]]
    assert pa.array([float(printed)]).cast(decimal_type)[0].as_py() == Decimal(printed)
    assert pa.array([printed]).cast(decimal_type)[0].as_py() == Decimal(printed)  # and straight from the text


def test_more_decimals_than_the_column_holds_is_rejected_from_text_but_rounded_from_a_float():
    """Why the parse must read money straight from the text: text with too many decimals is
    refused, while a float cast rounds it silently."""
    with pytest.raises(pa.ArrowInvalid, match="data loss"):
        pa.array(["12.345"]).cast(ARROW_TYPES["gbp"])
    assert pa.array([12.345]).cast(ARROW_TYPES["gbp"])[0].as_py() == Decimal("12.35")


@pytest.fixture(scope="module")
def july(tmp_path_factory):
    """A month of one small market's SF runs in DuckDB, with its VLP marts, and the BO4 cashflows
    of every VLP unit exactly as the files print them."""
    market = SyntheticMarket.build(40, seed=3)
    warehouse = DuckDBWarehouse(path=str(tmp_path_factory.mktemp("july") / "p114.duckdb"))
    printed: dict[str, list[Decimal]] = {}
    for day in JULY:
        generated = generate_file(market, day, "SF")
        for line in generated.text.decode().splitlines():
            if line.startswith("BPI|"):
                unit = line.split("|")[1]
            elif line.startswith("BO4|") and unit.startswith("V__"):
                fields = line.split("|")
                printed.setdefault(unit, []).extend(Decimal(v) for v in fields[14:16] if v)
        warehouse.replace_partition(parse_bytes(generated.text, generated.file_name.name).tables, day, "SF")
    a, b = JULY[0], JULY[-1]
    warehouse.replace_dates("settlement_canonical_runs", a, b, sql.canonical_runs(a, b))
    warehouse.replace_dates("vlp_revenue_period", a, b, sql.vlp_revenue_period(a, b))
    warehouse.replace_dates("vlp_revenue_daily", a, b, sql.vlp_revenue_daily(a, b))
    return warehouse, printed


def test_a_month_of_a_units_cashflows_sums_exactly_as_decimal_and_drifts_as_double(july):
    warehouse, printed = july
    unit = max(printed, key=lambda u: len(printed[u]))  # the VLP unit with the most cashflows
    exact = sum(printed[unit], Decimal(0))
    assert len(printed[unit]) > 100
    both = warehouse.query(
        "SELECT SUM(COALESCE(bid_cashflow_gbp, 0) + COALESCE(offer_cashflow_gbp, 0)) AS as_decimal, "
        "SUM(COALESCE(CAST(bid_cashflow_gbp AS DOUBLE), 0) + COALESCE(CAST(offer_cashflow_gbp AS DOUBLE), 0)) AS as_double "
        f"FROM p114.bid_offer_pair WHERE bm_unit_id = '{unit}'").to_pylist()[0]  # fmt: skip
    assert both["as_decimal"] == exact  # to the penny, and past it: nothing lost
    drift = Decimal(both["as_double"]) - exact
    assert drift != 0 and abs(drift) < Decimal("0.000001")  # the double is off, below a penny, but off
    print(f"{unit}: {len(printed[unit])} BO4 cashflows in July; DECIMAL {both['as_decimal']}, DOUBLE {both['as_double']!r} "
          f"(off by {drift:.3E})")
    # the marts: the month's daily rows add up to the printed cashflows exactly
    daily = warehouse.query(f"SELECT SUM(bm_cashflow_gbp) AS total FROM p114.vlp_revenue_daily WHERE bm_unit_id = '{unit}'")
    assert daily.column("total")[0].as_py() == exact
    assert daily.schema.field("total").type == pa.decimal128(38, 2)


def test_tables_built_with_double_money_are_converted_on_first_use(tmp_path, small_market):
    path = tmp_path / "p114.duckdb"
    warehouse = DuckDBWarehouse(path=str(path))
    day = dt.date(2024, 5, 1)
    generated = generate_file(small_market, day, "SF")
    tables = parse_bytes(generated.text, generated.file_name.name).tables
    warehouse.replace_partition(tables, day, "SF")
    exact = warehouse.query("SELECT SUM(offer_cashflow_gbp) AS s FROM p114.bid_offer_pair").column("s")[0].as_py()
    decimals = {name: [c.name for c in spec.columns if c.type in PRINTED_DECIMALS.values()] for name, spec in TABLES.items()
                if name in tables}  # fmt: skip
    with duckdb.connect(str(path)) as con:  # as an earlier release built them
        con.execute("DROP VIEW IF EXISTS p114.p114.settlement_canonical")
        for name, columns in decimals.items():
            for column in columns:
                con.execute(f"ALTER TABLE p114.p114.{name} ALTER COLUMN {column} SET DATA TYPE DOUBLE")
    later = generate_file(small_market, dt.date(2024, 5, 2), "SF")
    warehouse.replace_partition(parse_bytes(later.text, later.file_name.name).tables, dt.date(2024, 5, 2), "SF")  # first use
    types = {r["column_name"]: r["data_type"] for r in warehouse.query(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'bid_offer_pair'").to_pylist()}
    assert types["offer_cashflow_gbp"] == "DECIMAL(18,2)" and types["accepted_offer_volume_mwh"] == "DECIMAL(18,3)"
    assert types["offer_price_gbp_per_mwh"] == "DECIMAL(18,5)"
    again = warehouse.query("SELECT SUM(offer_cashflow_gbp) AS s FROM p114.bid_offer_pair WHERE settlement_date = DATE '2024-05-01'")
    assert again.column("s")[0].as_py() == exact


def test_a_money_value_printed_with_more_decimals_than_its_column_is_rejected_by_the_parse():
    from p114_assets.core.s0142.parser import S0142Error
    from p114_assets_tests.conftest import fixture_text

    text = fixture_text("hand_written_ii.s0142").replace("BP7|T_DRAX-1|0|12.3|100|", "BP7|T_DRAX-1|0|12.345|100|", 1)
    with pytest.raises(S0142Error, match=r"line 35.*non_delivery_charge_gbp"):
        parse_bytes(text.encode(), "S0142_20240101_II_20240115103000.gz")
