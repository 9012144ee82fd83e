"""The data-quality rules on hand-built frames, and `validate_file` on real files."""

from __future__ import annotations

import datetime as dt
import gzip

import polars as pl
import pytest

from p114_assets.core import quality
from p114_assets.core.coverage import coverage_grid, incomplete, is_due, totals
from p114_assets.core.s0142.tables import RAW_TABLES
from p114_assets.core.s0142.parser import parse_file
from p114_assets_tests.conftest import FIXTURES, fixture_text

BM = RAW_TABLES["bm_unit_period"]


def unit_periods(units: list[str], periods: int) -> pl.DataFrame:
    return pl.DataFrame({"bm_unit_id": [u for u in units for _ in range(periods)],
                         "settlement_period": [p for _ in units for p in range(1, periods + 1)]})  # fmt: skip


@pytest.mark.parametrize("day, periods", [(dt.date(2024, 3, 31), 46), (dt.date(2024, 10, 27), 50), (dt.date(2024, 6, 5), 48)])
def test_clock_change_days_pass_with_their_own_period_count(day, periods):
    outcome = quality.periods_per_day(unit_periods(["T_A-1"], periods), day)
    assert outcome.passed and outcome.metadata == {"periods_expected": periods, "periods_present": periods}


def test_an_ordinary_day_with_47_periods_fails():
    outcome = quality.periods_per_day(unit_periods(["T_A-1"], 47), dt.date(2024, 6, 5))
    assert not outcome.passed and outcome.severity == "ERROR"
    assert outcome.description == "47 periods; 2024-06-05 has 48 (Europe/London); missing 48"
    assert outcome.failing_rows.to_dicts() == [{"expected_periods": 48, "periods_present": 47, "missing": "48", "unexpected": ""}]


def test_a_spring_day_with_48_periods_fails():
    outcome = quality.periods_per_day(unit_periods(["T_A-1"], 48), dt.date(2024, 3, 31))
    assert not outcome.passed and "unexpected 47-48" in outcome.description


def test_every_unit_every_period():
    df = unit_periods(["T_A-1", "T_B-1"], 48).filter(~((pl.col("bm_unit_id") == "T_B-1") & pl.col("settlement_period").is_in([3, 4])))
    outcome = quality.every_unit_every_period(df, dt.date(2024, 6, 5))
    assert not outcome.passed
    assert outcome.failing_rows.to_dicts() == [{"bm_unit_id": "T_B-1", "periods": 46, "expected": 48}]
    assert quality.every_unit_every_period(unit_periods(["T_A-1", "T_B-1"], 48), dt.date(2024, 6, 5)).passed


def test_duplicate_rows_fail():
    df = pl.concat([unit_periods(["T_A-1"], 48), unit_periods(["T_A-1"], 48).filter(pl.col("settlement_period") == 7)])
    outcome = quality.no_duplicate_unit_periods(df)
    assert not outcome.passed
    assert outcome.failing_rows.to_dicts() == [{"bm_unit_id": "T_A-1", "settlement_period": 7, "rows": 2}]


@pytest.fixture(scope="module")
def fixture_tables():
    return {name: pl.from_arrow(t) for name, t in parse_file(FIXTURES / "hand_written_ii.s0142").tables.items()}


def test_bpi_matches_bp7(fixture_tables):
    bm = fixture_tables["bm_unit_period"]
    assert quality.bpi_matches_bp7(bm).passed
    broken = bm.with_columns(bpi_bp7_mismatch=pl.when(pl.col("bm_unit_id") == "T_DRAX-1").then(pl.lit("metered_volume_mwh: BPI 99.0, BP7 98.5")))
    outcome = quality.bpi_matches_bp7(broken)
    assert not outcome.passed and outcome.metadata["pairs_disagreeing"] == 2
    assert outcome.failing_rows["problem"].to_list() == ["metered_volume_mwh: BPI 99.0, BP7 98.5"] * 2


def test_schema_structure_is_an_error_and_value_ranges_a_warning(fixture_tables):
    bm = fixture_tables["bm_unit_period"]
    day_length = ("periods_per_day", "every_unit_every_period")  # the fixture holds 2 of the day's 48 periods
    assert all(o.passed for o in quality.partition_outcomes(BM, bm, dt.date(2024, 1, 1)) if o.check not in day_length)
    bad = bm.with_columns(
        run_type=pl.when(pl.col("settlement_period") == 2).then(pl.lit("XX")).otherwise(pl.col("run_type")),
        transmission_loss_multiplier=pl.when(pl.col("bm_unit_id") == "T_DRAX-1").then(1.5).otherwise(pl.col("transmission_loss_multiplier")),
        non_delivery_charge_gbp=pl.when(pl.col("bm_unit_id") == "V__AFLEX001").then(pl.lit(-3, pl.Decimal(18, 2)))
        .otherwise(pl.col("non_delivery_charge_gbp")),
    )  # fmt: skip
    structure = quality.schema_outcome(BM, bad, "structure")
    assert not structure.passed and structure.severity == "ERROR"
    assert "run_type: isin" in structure.description and structure.metadata["failures"] == 3
    assert sorted(structure.failing_rows["bp7_line_number"].to_list()) == [29, 38, 46]  # the BP7 lines of period 2
    ranges = quality.schema_outcome(BM, bad, "value_ranges")
    assert not ranges.passed and ranges.severity == "WARN" and ranges.metadata["failures"] == 4
    assert set(ranges.failing_rows["column"]) == {"transmission_loss_multiplier", "non_delivery_charge_gbp"}
    nulls = quality.schema_outcome(BM, bm.with_columns(bm_unit_id=pl.lit(None, pl.String)), "structure")
    assert not nulls.passed and "bm_unit_id: not_nullable" in nulls.description


def test_canonical_rules():
    day = dt.date(2024, 6, 5)
    runs = pl.DataFrame({"settlement_date": [day, day], "run_type": ["II", "SF"]})
    assert not quality.one_run_per_date(runs, [day]).passed
    assert quality.one_run_per_date(runs.head(1), [day]).passed
    assert quality.one_run_per_date(runs.head(0), [day]).description == "1 date(s) without exactly one run: 2024-06-05: none"
    present = quality.vlp_units_still_present({"V__A1", "T_X"}, {"V__A1", "V__B2", "2__Z"}, day)
    assert not present.passed and present.severity == "WARN" and "V__B2" in present.description and "2__Z" not in present.description
    assert quality.vlp_units_still_present({"V__A1"}, None, day).passed


def test_validate_file_good_and_broken(tmp_path):
    good = quality.validate_file(FIXTURES / "hand_written_ii.s0142")
    by_name = dict(good)
    assert all(o is not None for _, o in good)
    assert not by_name["bm_unit_period.periods_per_day"].passed  # the fixture holds 2 of 48 periods
    assert by_name["trailer_line_count"].passed and by_name["records"].passed
    broken = tmp_path / "S0142_20240101_II_20240115103000.gz"
    broken.write_bytes(gzip.compress(fixture_text("hand_written_ii.s0142").replace("ZZZ|47|", "ZZZ|40|").encode()))
    results = quality.validate_file(broken)
    assert [(n, o.passed if o else None) for n, o in results] == [
        ("gzip_body", True), ("header", True), ("trailer_line_count", False), ("records", None)]
    assert "line 47: ZZZ says the file has 40 lines" in results[2][1].description


def test_coverage_grid_tells_missing_from_not_due():
    day = dt.date(2024, 6, 3)  # II nominally 10 June, SF 25 June
    assert not is_due(day, "II", dt.date(2024, 6, 7)) and is_due(day, "II", dt.date(2024, 6, 10))
    assert not is_due(day, "II", dt.date(2024, 6, 10), grace_working_days=1)
    assert not is_due(day, "DF", dt.date(2030, 1, 1))
    grid = coverage_grid([day], present={(day, "II")}, failed=set(), today=dt.date(2024, 7, 1))
    assert grid[(day, "II")] == "present" and grid[(day, "SF")] == "missing" and grid[(day, "R1")] == "not_due"
    grid = coverage_grid([day], present={(day, "II")}, failed={(day, "II")}, today=dt.date(2024, 7, 1))
    assert grid[(day, "II")] == "check_failed"
    assert incomplete(grid) == [(day, "II"), (day, "SF")]
    assert totals(grid)["R1"]["not_due"] == 1


def test_validate_and_the_file_check_judge_the_header_by_one_rule(tmp_path):
    misnamed = tmp_path / "S0142_20240102_II_20240115103000.gz"  # the header says 2024-01-01
    misnamed.write_bytes(gzip.compress(fixture_text("hand_written_ii.s0142").encode()))
    (header, trailer), _ = quality.file_outcomes(misnamed, (dt.date(2024, 1, 2), "II"))
    validated = dict(quality.validate_file(misnamed))["header_matches_partition"]
    assert header.check == validated.check == "header_matches_partition"
    assert not header.passed and not validated.passed and header.description == validated.description
    assert "file name says 2024-01-02 II" in header.description and trailer.passed
    missing, no_header = quality.file_outcomes(None, (dt.date(2024, 1, 2), "II"))
    assert [(o.check, o.passed, o.description) for o in missing] == [
        ("header_matches_partition", False, "no landed file for 2024-01-02 II"),
        ("trailer_line_count", False, "no landed file for 2024-01-02 II")]
    assert no_header is None


def test_every_rule_carries_its_own_description():
    rules = [quality.HEADER_MATCHES_PARTITION, quality.TRAILER_LINE_COUNT, quality.ONE_RUN_PER_DATE,
             quality.VLP_UNITS_STILL_PRESENT, quality.VLP_CASHFLOW_RECONCILES, *quality.RULES]  # fmt: skip
    assert all(r.description and r.severity in ("ERROR", "WARN") for r in rules)
    assert len({r.name for r in rules}) == len(rules)
    assert all(r.evaluate is not None for r in quality.RULES)
