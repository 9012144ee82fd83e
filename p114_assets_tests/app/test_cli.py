"""The `p114` command as users and scripts call it: outputs, exit statuses, one-line errors."""

from __future__ import annotations

import datetime as dt
import gzip

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from p114_assets.app.cli import main
from p114_assets.core.s0142.files import scan_folder
from p114_assets.core.s0142.tables import RAW_TABLES
from p114_assets.warehouse.duckdb import DuckDBWarehouse
from p114_assets_tests.conftest import fixture_text


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_generate_writes_real_file_names(tmp_path):
    result = invoke("generate", "--start", "2024-10-26", "--end", "2024-10-27", "--run-types", "II,SF,RF",
                    "--units", 20, "--seed", 3, "--out", tmp_path)  # fmt: skip
    assert result.exit_code == 0, result.output
    found = scan_folder(tmp_path)
    assert sorted(found) == [(dt.date(2024, 10, d), r) for d in (26, 27) for r in ("II", "RF", "SF")]
    assert "wrote 6 files" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["--start", "2024-10-27", "--end", "2024-10-26"], "is before --start"),
    (["--start", "2024-10-27", "--run-types", "II,XX"], "unknown run type 'XX'"),
    (["--start", "27/10/2024"], "is not a date"),
])  # fmt: skip
def test_generate_rejects_bad_arguments(tmp_path, args, message):
    result = invoke("generate", *args, "--units", 10, "--out", tmp_path)
    assert result.exit_code == 2
    assert message in result.stderr
    assert not list(tmp_path.iterdir())


def test_parse_writes_one_parquet_per_table(tmp_path):
    source = tmp_path / "S0142_20240101_II_20240115103000.gz"
    source.write_bytes(gzip.compress(fixture_text("hand_written_ii.s0142").encode()))
    result = invoke("parse", source, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    written = {p.stem: pq.read_table(p).num_rows for p in (tmp_path / "out").glob("*.parquet")}
    assert written == {"system_period": 2, "market_index": 4, "bm_unit_period": 6, "bid_offer_pair": 3,
                       "party_period": 6, "account_period": 3}  # fmt: skip
    assert set(written) == set(RAW_TABLES)


@pytest.mark.parametrize("body, reason", [
    (b"Scripting Error 001", "not a gzip file and not S0142 text; the body begins 'Scripting Error 001'"),
    (gzip.compress(b"AAA|S0142013|D|20240115103000|SA|UKDC|PB|PORTAL|1|OPER|\nSRH|20240101|II|1|1|20240101|1|1|NGC|\nZZZ|9|0|\n"),
     "line 3: ZZZ says the file has 9 lines but it has 3"),
])  # fmt: skip
def test_parse_failure_is_one_line_and_writes_nothing(tmp_path, body, reason):
    source = tmp_path / "S0142_20240101_II_20240115103000.gz"
    source.write_bytes(body)
    result = invoke("parse", source, "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert result.stderr == f"p114 parse: {source}{', ' if reason.startswith('line') else ': '}{reason}\n"  # the full path
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == [source.name]


def test_materialize_a_folder_and_print_a_summary(tmp_path):
    invoke("generate", "--start", "2024-03-30", "--end", "2024-03-31", "--units", 15, "--out", tmp_path / "in")
    result = invoke("materialize", "--source", tmp_path / "in", "--warehouse", tmp_path / "w.duckdb",
                    "--start", "2024-03-31")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2 partitions" in result.stdout and "p114.bm_unit_period" in result.stdout
    assert f"{15 * 46 * 2:,}" in result.stdout  # II and SF of the 46-period day
    rows = DuckDBWarehouse(path=str(tmp_path / "w.duckdb")).query(
        "SELECT DISTINCT settlement_date FROM p114.bm_unit_period").to_pylist()
    assert rows == [{"settlement_date": dt.date(2024, 3, 31)}]


def test_materialize_reports_failed_partitions_and_exits_non_zero(tmp_path):
    invoke("generate", "--start", "2024-03-30", "--units", 10, "--run-types", "II", "--out", tmp_path / "in")
    broken = next((tmp_path / "in").glob("*.gz"))
    broken.write_bytes(broken.read_bytes()[:3000])
    result = invoke("materialize", "--source", tmp_path / "in", "--warehouse", tmp_path / "w.duckdb")
    assert result.exit_code == 1
    assert "failed 2024-03-30 II" in result.stderr and "truncated" in result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    result = invoke("materialize", "--source", empty, "--warehouse", tmp_path / "w.duckdb")
    assert result.exit_code == 1 and "no S0142 files in" in result.stderr


def test_demo_runs_the_main_job_and_writes_a_report(tmp_path):
    result = invoke("demo", "--data-dir", tmp_path, "--days", 1, "--units", 12)
    assert result.exit_code == 0, result.output
    assert "2 partitions" in result.stdout and "report:" in result.stdout
    report = (tmp_path / "report.html").read_text()
    assert "Coverage" in report and "2024-10-21" in report
    assert (tmp_path / "p114.duckdb").exists()


def _generated(tmp_path, day="2024-06-05", run="SF"):
    invoke("generate", "--start", day, "--units", 12, "--run-types", run, "--out", tmp_path / "in")
    return next((tmp_path / "in").glob("*.gz"))


def test_validate_a_good_file(tmp_path):
    result = invoke("validate", _generated(tmp_path))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("PASS  ERROR  gzip_body")
    assert any(line.startswith("PASS  ERROR  bm_unit_period.periods_per_day") and "48 periods" in line for line in lines)
    assert all(line.startswith("PASS") or line.startswith("INFO  -      trailer_checksum") for line in lines)
    assert any(line.startswith("INFO  -      trailer_checksum") and "matches" in line for line in lines)  # the generator writes it


def test_validate_fails_an_ordinary_day_with_47_periods(tmp_path, monkeypatch):
    from p114_assets.core.synthetic import economics as generator

    monkeypatch.setattr(generator, "periods_in_day", lambda _: 47)
    path = _generated(tmp_path)
    monkeypatch.undo()
    result = invoke("validate", path)
    assert result.exit_code == 1
    assert "FAIL  ERROR  bm_unit_period.periods_per_day" in result.stdout
    assert "47 periods; 2024-06-05 has 48 (Europe/London); missing 48" in result.stdout


def test_validate_reports_where_a_broken_file_stops(tmp_path):
    path = tmp_path / "S0142_20240605_SF_20240627120000.gz"
    path.write_bytes(b"Scripting Error 001")
    result = invoke("validate", path)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("FAIL  ERROR  gzip_body") and "Scripting Error 001" in lines[0]
    assert [line.split()[0] for line in lines[1:]] == ["SKIP", "SKIP", "SKIP"]


def test_validate_warnings_do_not_fail_the_exit_status(tmp_path):
    path = _generated(tmp_path)
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith("BP7|"))
    fields = lines[i].split("|")
    fields[3] = "-5"  # a negative non-delivery charge: out of range (WARN), not structural
    lines[i] = "|".join(fields)
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    result = invoke("validate", path)
    assert result.exit_code == 0, result.output
    assert "FAIL  WARN   bm_unit_period.value_ranges" in result.stdout
    assert "non_delivery_charge_gbp" in result.stdout
