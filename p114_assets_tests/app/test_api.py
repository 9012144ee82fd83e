"""The Python API on DuckDB: frames of the caller's choice, filters bound as parameters, clear
errors. (On BigQuery: test_warehouse_switch.py.)"""

from __future__ import annotations

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import p114_assets
from p114_assets.app.api import Warehouse
from p114_assets_tests.conftest import VLP_DAY


def test_frames_of_the_callers_choice(vlp_warehouse):
    wh = Warehouse(vlp_warehouse)
    assert isinstance(wh.read("vlp_party_daily"), pl.DataFrame)
    assert isinstance(wh.read("vlp_party_daily", frame="pandas"), pd.DataFrame)
    assert isinstance(wh.read("vlp_party_daily", frame="arrow"), pa.Table)
    assert wh.tables()["bm_unit_period"] == 7 * 2 * 2  # 7 units, 2 periods, II and SF


def test_filters(vlp_warehouse):
    rows = p114_assets.read("bm_unit_period", start=VLP_DAY, end="2024-06-05", run_type=["SF"], units="V__AFLEX001",
                            columns=["settlement_period", "run_type", "bm_unit_id"], warehouse=vlp_warehouse)  # fmt: skip
    assert rows.to_dicts() == [{"settlement_period": p, "run_type": "SF", "bm_unit_id": "V__AFLEX001"} for p in (1, 2)]
    assert p114_assets.read("bm_unit_period", end="2024-06-04", warehouse=vlp_warehouse).height == 0
    both = p114_assets.read("bm_unit_period", run_type=("II", "SF"), units=[], warehouse=vlp_warehouse)
    assert both.height == 0  # no units asked for: no rows


@pytest.mark.parametrize("unit", ["V__A'); DROP TABLE p114.bm_unit_period; --", "O'Brien", "%", "V__%", "\\", '"'])
def test_a_unit_id_is_only_a_unit_id(vlp_warehouse, unit):
    assert p114_assets.read("bm_unit_period", units=[unit, "V__AFLEX001"], warehouse=vlp_warehouse).height == 4
    assert Warehouse(vlp_warehouse).tables()["bm_unit_period"] == 28  # the table is still whole


@pytest.mark.parametrize("call, error, message", [
    (dict(table="nope"), ValueError, "no table 'nope'; the tables are system_period, "),
    (dict(table="vlp_party_daily", units=["X"]), ValueError, "vlp_party_daily has no bm_unit_id column to filter on"),
    (dict(table="run_reconciliation", run_type="SF"), ValueError, "run_reconciliation has no run_type column to filter on"),
    (dict(table="bm_unit_period", run_type="XX"), ValueError, "run_type 'XX': expected II, SF, R1, R2, R3, RF, DF"),
    (dict(table="bm_unit_period", start="5 June"), ValueError, "start='5 June': expected a date (YYYY-MM-DD)"),
    (dict(table="bm_unit_period", start="2024-06-06", end="2024-06-05"), ValueError, "end=2024-06-05 is before start=2024-06-06"),
    (dict(table="bm_unit_period", columns=["nope"]), ValueError, "bm_unit_period has no column 'nope'"),
    (dict(table="bm_unit_period", frame="excel"), ValueError, "frame='excel': expected 'polars', 'pandas' or 'arrow'"),
])  # fmt: skip
def test_clear_errors(vlp_warehouse, call, error, message):
    with pytest.raises(error) as caught:
        p114_assets.read(**call, warehouse=vlp_warehouse)
    assert str(caught.value).startswith(message)


def test_a_warehouse_that_is_not_one(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"^no warehouse at {tmp_path / 'none.duckdb'}$"):
        Warehouse(tmp_path / "none.duckdb")
    (tmp_path / "x.gz").write_bytes(b"\x1f\x8b\x08\x00" + b"\x00" * 20)
    with pytest.raises(ValueError, match=r"x.gz is not a DuckDB database \(a gzip file\)$"):
        Warehouse(tmp_path / "x.gz")


def test_the_default_warehouse_is_the_switchs(vlp_warehouse, monkeypatch):
    monkeypatch.setenv("P114_DUCKDB_PATH", str(vlp_warehouse))
    assert repr(p114_assets.Warehouse()) == f"Warehouse(duckdb:{vlp_warehouse})"
    monkeypatch.setenv("P114_WAREHOUSE", "sqlite")
    from p114_assets.config import ConfigError

    with pytest.raises(ConfigError, match="P114_WAREHOUSE='sqlite'"):
        p114_assets.Warehouse()


def test_the_tables_are_listed_with_one_ask_of_which_exist(vlp_warehouse, duckdb_connections):
    """Each DuckDB connection costs ~40 ms of CPU (ATTACH reads the catalog): which tables exist is
    asked once, then each existing table's rows are counted (asking table by table made a
    connection for each of the ~30 tables the warehouse may hold)."""
    wh = Warehouse(vlp_warehouse)
    duckdb_connections.clear()
    tables = wh.tables()
    assert tables["bm_unit_period"] == 28 and "market_index_price" not in tables  # a table never written is left out
    assert len(duckdb_connections) == 1 + len(tables)
