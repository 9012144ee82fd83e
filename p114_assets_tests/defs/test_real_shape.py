"""A hand-written file in the shape of the real 2026 files (fixtures/real_shape_sf.s0142, see
fixtures/README.md) through Dagster and the CLI, and files built to break each settlement identity.

The file, 2025-06-04 SF, 48 periods: parties 20222033 (a numeric-looking id: T_CNQPS-1 and T_CNQPS-2
in CONNAH'S QUAY PS TRADING  UNIT, T__JKENT001, E__BLSBY-1), EZPD (I_I2D-EZPD1), FLEX (V__AFLEX001)
and GOLD (2__AGOLD000 and C__AGOLD001 in DEFAULT__A). BPI 2 is blank for the units that are their
own trading unit, and their BP7 13 holds their own id. Period 1 (by hand):
  PPC 2 (BM cashflow):  20222033 160.00 + 20.50 = 180.50; FLEX 200.00 + 30.50 = 230.50
  PPC 3 (energy imbalance): 20222033 -9.45, GOLD 29.33, FLEX 13.89, EZPD 0        sum 33.77
  PPC 6 (RCRC):          20222033 27.66, EZPD 4.64, GOLD 1.32, FLEX 0.15 (RCRP -0.000006 on one account) sum 33.77
  PPC 9: FLEX 0.05; PPC 10: GOLD 21.31 = BP7 25 = 0.25 MWh x 85.23
Periods 2-48 (each): PPC 3 20222033 -66.00, GOLD -28.50; PPC 6 20222033 -90.47, GOLD -4.03 (sum -94.50).
"""

from __future__ import annotations

import datetime as dt
import gzip
import re
from decimal import Decimal as D

import dagster as dg
import pytest
from click.testing import CliRunner

from p114_assets.app.cli import main
from p114_assets.core import quality
from p114_assets.core.s0142.tables import RAW_TABLES
from p114_assets.app.runner import RAW_KEYS, materialize_folder
from p114_assets_tests.conftest import FIXTURES
from p114_assets_tests.defs.test_derived_and_checks import env, run  # noqa: F401  (the same fixture and runner)

DAY, RUN = dt.date(2025, 6, 4), "SF"
NAME = "S0142_20250604_SF_20250626103015.gz"
TEXT = (FIXTURES / "real_shape_sf.s0142").read_text()
UNITS = 8


def put(env, text: str) -> None:
    (env["folder"] / NAME).write_bytes(gzip.compress(text.encode(), mtime=0))


def raw_run(env) -> dg.ExecuteInProcessResult:
    return run(env, RAW_KEYS, key=f"{DAY}|{RUN}")


def query(env, sql: str) -> list[dict]:
    return env["warehouse"].query(sql).to_pylist()


def test_real_shaped_file_passes_every_check_and_builds_every_table(env):
    put(env, TEXT)
    result = raw_run(env)
    assert result.success
    found = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    expected = 2 + sum(len(quality.rules_for(t)) for t in RAW_TABLES.values()) + len(quality.IDENTITIES) + 1  # + rows_vs_previous_version
    assert len(found) == expected == 23
    assert all(e.passed for e in found.values()), {n: e.description for n, e in found.items() if not e.passed}  # no FAIL, no WARN
    assert found[("bm_unit_period", "bpi_matches_bp7")].passed  # the trading-unit rule: BPI 2 blank, BP7 13 its own id
    file_event = next(e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey("s0142_file"))
    assert file_event.materialization.metadata["trailer_checksum"].value == "differs"  # informational only

    summary = materialize_folder(env["folder"], env["warehouse"])  # what `p114 materialize` runs: raw, then derived
    assert summary.ok and summary.check_failures == [] and summary.derived_dates == [DAY]
    canonical = query(env, "SELECT count(*) AS n, min(information_imbalance_volume_mwh) AS iiv FROM p114.settlement_canonical")
    assert canonical == [{"n": UNITS * 48, "iiv": 0.0}]  # units x periods; no negative information imbalance volume
    names = {r["bm_unit_id"]: r["trading_unit_name"] for r in query(
        env, "SELECT DISTINCT bm_unit_id, trading_unit_name FROM p114.settlement_canonical")}  # fmt: skip
    assert names["E__BLSBY-1"] == "E__BLSBY-1" and names["I_I2D-EZPD1"] == "I_I2D-EZPD1"  # its own trading unit
    assert names["T_CNQPS-1"] == names["T_CNQPS-2"] == "CONNAH'S QUAY PS TRADING  UNIT"  # printed name kept exactly
    assert names["2__AGOLD000"] == "DEFAULT__A"
    parties = {r["party_id"] for r in query(env, "SELECT DISTINCT party_id FROM p114.party_period")}
    assert parties == {"20222033", "EZPD", "FLEX", "GOLD"}  # a numeric-looking id stays text
    (flex,) = query(env, "SELECT * FROM p114.vlp_party_daily")
    assert (flex["party_id"], flex["bm_cashflow_gbp"], flex["non_delivery_charge_gbp"], flex["energy_imbalance_cashflow_gbp"],
            flex["residual_cashflow_reallocation_gbp"]) == ("FLEX", D("230.50"), D("5.90"), D("13.89"), D("0.15"))  # fmt: skip
    assert flex["net_settlement_position_gbp"] == D("210.86")  # 230.50 - 5.90 - 13.89 + 0.15
    assert (flex["vlp_compensation_cashflow_gbp"], flex["supplier_compensation_cashflow_gbp"]) == (D("0.05"), None)  # PPC 10 blank
    assert flex["net_position_after_compensation_gbp"] == D("210.81")  # 210.86 - 0.05
    for table in ("run_reconciliation", "vlp_revenue_period", "vlp_revenue_daily", "unit_classification"):
        assert query(env, f"SELECT count(*) AS n FROM p114.{table}") != [{"n": -1}]  # built (queries a table that exists)
    assert query(env, "SELECT count(*) AS n FROM p114.vlp_revenue_period") == [{"n": 48}]


def test_cli_validate_and_materialize_on_the_real_shaped_file(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    (source / NAME).write_bytes(gzip.compress(TEXT.encode(), mtime=0))
    validate = CliRunner().invoke(main, ["validate", str(source / NAME)], catch_exceptions=False)
    assert validate.exit_code == 0, validate.output
    assert "FAIL" not in validate.stdout
    assert re.search(r"^INFO  -      trailer_checksum +differs: ZZZ 2 is 985979", validate.stdout, re.M)
    for check in ("rcrc_balances_energy_imbalance", "rcrc_matches_accounts", "bm_cashflow_matches_bo4"):
        assert re.search(rf"^PASS  WARN   party_period\.{check}", validate.stdout, re.M), check
    result = CliRunner().invoke(main, ["materialize", "--source", str(source), "--warehouse", str(tmp_path / "w.duckdb")],
                                catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"{UNITS * 48:,}" in result.stdout and "p114.vlp_party_daily" in result.stdout
    assert "check" not in result.stderr  # no check failed, not even a WARN


def _edit(text: str, party: str, period: int, record: str, position: int, value: str) -> str:
    """`text` with field `position` of the first `record` line in `party`'s block of `period` set to `value`."""
    lines = text.split("\n")
    block = lines.index(next(line for line in lines if line.startswith("BPH|") and line.endswith(f"|{party}|")))
    start = lines.index(f"SP7|{period}|", block)
    at = next(i for i in range(start, len(lines)) if lines[i].startswith(record + "|"))
    fields = lines[at].split("|")
    fields[position] = value
    lines[at] = "|".join(fields)
    return "\n".join(lines)


def _gold_rcrc_up(text: str) -> str:
    """GOLD's RCRC one pound less negative in period 2, in PPC 6 and its APD 5 alike: the parties' RCRC
    no longer sums to their energy imbalance cashflows, while PPC 6 still equals the APD 5."""
    return _edit(_edit(text, "GOLD", 2, "PPC", 6, "-3.03"), "GOLD", 2, "APD|C", 5, "-3.03")


BROKEN = {
    "rcrc_balances_energy_imbalance": _gold_rcrc_up,
    # FLEX's production account says 0.25 of RCRC in period 1, its PPC 6 says 0.15
    "rcrc_matches_accounts": lambda t: _edit(t, "FLEX", 1, "APD|P", 5, "0.25"),
    # 20222033's BM cashflow one pound more than its units' BO4 cashflows (160.00 + 20.50)
    "bm_cashflow_matches_bo4": lambda t: _edit(t, "20222033", 1, "PPC", 2, "181.5"),
}


@pytest.mark.parametrize("check", sorted(BROKEN))
def test_a_file_built_to_break_an_identity_fails_that_check_only(env, check):
    broken = BROKEN[check](TEXT)
    assert broken != TEXT
    put(env, broken)
    result = raw_run(env)
    assert result.success  # WARN: reported, never blocking
    found = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    failed = {name for name, e in found.items() if not e.passed}
    assert failed == {("party_period", check)}
    assert found[("party_period", check)].severity == dg.AssetCheckSeverity.WARN
    assert "first_failing_rows" in found[("party_period", check)].metadata
    validate = CliRunner().invoke(main, ["validate", str(env["folder"] / NAME)], catch_exceptions=False)
    assert validate.exit_code == 0  # a WARN fails nothing
    assert re.search(rf"^FAIL  WARN   party_period\.{check}", validate.stdout, re.M)


@pytest.mark.slow
def test_a_calibrated_real_scale_file_validates_and_materializes(real_scale_file, tmp_path):
    """The acceptance of issue 9 on a calibrated real-scale file (8,000 units, SF): `p114 validate`
    prints no FAIL, and materializing builds every derived table with canonical rows = units x
    periods, own-unit trading unit names, named trading units as printed, no negative information
    imbalance volume."""
    validate = CliRunner().invoke(main, ["validate", str(real_scale_file.path)], catch_exceptions=False)
    assert validate.exit_code == 0, validate.output
    assert "FAIL" not in validate.stdout, [line for line in validate.stdout.splitlines() if "FAIL" in line]
    assert re.search(r"^INFO  -      trailer_checksum +matches", validate.stdout, re.M)
    source = tmp_path / "in"
    source.mkdir()
    (source / real_scale_file.path.name).symlink_to(real_scale_file.path)
    from p114_assets.warehouse.duckdb import DuckDBWarehouse

    warehouse = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    summary = materialize_folder(source, warehouse)
    assert summary.ok and summary.check_failures == [], summary.check_failures
    assert all(summary.rows.get(t, 0) > 0 for t in ("settlement_canonical", "vlp_revenue_period", "vlp_party_daily",
                                                     "unit_classification")), summary.rows  # fmt: skip
    (canonical,) = warehouse.query(
        "SELECT count(*) AS n, count(DISTINCT bm_unit_id) AS units, count(DISTINCT settlement_period) AS periods, "
        "min(information_imbalance_volume_mwh) AS iiv, "
        "count(*) FILTER (WHERE trading_unit_name = bm_unit_id) AS own, "
        "count(*) FILTER (WHERE trading_unit_name = 'CONNAH''S QUAY PS TRADING  UNIT') AS connahs "
        "FROM p114.settlement_canonical").to_pylist()  # fmt: skip
    assert canonical["n"] == canonical["units"] * canonical["periods"] == 8000 * 48
    assert canonical["iiv"] >= 0 and canonical["own"] > 0.2 * canonical["n"] and canonical["connahs"] >= 2 * 48
