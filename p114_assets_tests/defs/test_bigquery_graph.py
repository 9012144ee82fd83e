"""The whole asset graph on BigQuery (the local emulator, real client) and on DuckDB: the same files
give the same tables, money to the penny."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from p114_assets.core.synthetic import SyntheticMarket, generate_files
from p114_assets.app.runner import folder_partitions, folder_resources, materialize_partitions
from p114_assets.warehouse.duckdb import DuckDBWarehouse
from p114_assets.warehouse.tables import DERIVED_TABLES, SETTLEMENT_TABLES, TABLES


def frame(warehouse, name: str) -> pl.DataFrame:
    df = pl.from_arrow(warehouse.query(f"SELECT * FROM p114.{name}"))
    df = df.with_columns([pl.col(c).cast(pl.Datetime("us")) for c, t in df.schema.items() if isinstance(t, pl.Datetime)])
    return df.sort(list(TABLES[name].key))


@pytest.mark.slow
def test_the_full_graph_on_bigquery_agrees_with_duckdb(tmp_path, bq_warehouse):
    folder = tmp_path / "incoming"
    market = SyntheticMarket.build(20, seed=5)
    generate_files(dt.date(2024, 6, 10), dt.date(2024, 6, 10), ["II", "SF"], folder, market=market)
    generate_files(dt.date(2024, 6, 11), dt.date(2024, 6, 11), ["II"], folder, market=market)
    partitions = folder_partitions(folder)
    duck = DuckDBWarehouse(path=str(tmp_path / "p114.duckdb"))
    for name, warehouse in (("duckdb", duck), ("bigquery", bq_warehouse)):
        summary = materialize_partitions(partitions, folder_resources(folder, warehouse, landing=tmp_path / f"landing_{name}"))
        assert summary.ok, (name, summary.failures, summary.check_failures)
        assert summary.derived_dates == [dt.date(2024, 6, 10), dt.date(2024, 6, 11)]

    for name, spec in SETTLEMENT_TABLES.items():  # market tables: test_market_runner.py
        a, b = frame(duck, name), frame(bq_warehouse, name)
        assert a.height == b.height > 0, name
        assert a.columns == b.columns == spec.column_names, name
        for column in spec.column_names:
            if column == "loaded_at":  # the wall clock of each load
                continue
            x, y = a[column], b[column]
            if x.dtype.is_decimal():  # money and volumes: exactly equal (BigQuery's NUMERIC has scale 9)
                assert x.cast(pl.Decimal(38, 9)).equals(y.cast(pl.Decimal(38, 9))), (name, column)
            elif x.dtype == pl.Float64:
                tolerance = 1e-9
                assert ((x - y).abs().fill_null(0) <= tolerance).all() and x.null_count() == y.null_count(), (name, column)
            else:
                assert x.cast(y.dtype).equals(y), (name, column)
    assert frame(bq_warehouse, "run_reconciliation").height > 0  # II -> SF on 10 June
    canonical = frame(bq_warehouse, "settlement_canonical")
    assert set(canonical["run_type"]) == {"SF", "II"} and not canonical["is_stale"].any()
    assert frame(bq_warehouse, "settlement_canonical_runs").select("settlement_date", "run_type").rows() == [
        (dt.date(2024, 6, 10), "SF"), (dt.date(2024, 6, 11), "II")]
    assert set(DERIVED_TABLES) <= set(TABLES)
