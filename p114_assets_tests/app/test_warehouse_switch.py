"""One warehouse switch: `materialize`, `status`, `report`, `export` and the Python API on BigQuery
(the local emulator, the real client, credentials from a service-account file as a user sets them)
chosen by P114_WAREHOUSE alone, agreeing with the same commands on DuckDB."""

from __future__ import annotations

import csv
import datetime as dt
import uuid

import pytest
from click.testing import CliRunner

import p114_assets
from p114_assets.app.cli import main
from p114_assets.core.synthetic import SyntheticMarket, generate_files
from p114_assets_tests.conftest import bigquery_env

DAY = dt.date(2024, 6, 10)
UNITS = 12


def invoke(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)


def _csv_rows(path):
    with open(path, newline="") as handle:
        return sorted(tuple(row) for row in csv.reader(handle))


@pytest.mark.slow
def test_every_command_follows_the_switch_to_bigquery(tmp_path, bq_emulator, google_key_file, monkeypatch):
    folder = tmp_path / "incoming"
    generate_files(DAY, DAY, ["SF"], folder, market=SyntheticMarket.build(UNITS, seed=3))
    env = bigquery_env(bq_emulator, google_key_file, f"p114_{uuid.uuid4().hex[:8]}")
    duck = tmp_path / "p114.duckdb"

    loaded = invoke("materialize", "--source", folder, env=env)
    assert loaded.exit_code == 0, loaded.output
    assert f"into bigquery:p114-test.{env['P114_BQ_DATASET']}" in loaded.stdout
    assert not duck.exists() and not (tmp_path / "data").exists()  # nothing went to DuckDB
    assert invoke("materialize", "--source", folder, "--warehouse", duck).exit_code == 0  # the same files, DuckDB

    status = invoke("status", "--start", DAY, "--as-of", DAY + dt.timedelta(days=60), env=env)
    assert status.exit_code == 0, status.output
    row = next(line for line in status.stdout.splitlines() if line.startswith(f"│ {DAY}"))
    assert [cell.strip() for cell in row.split("│")[1:-1]] == [str(DAY), "miss", "ok", "miss", "-", "-", "-", "-"]

    report = invoke("report", "--out", tmp_path / "bq.html", env=env)
    assert report.exit_code == 0, report.output
    page = (tmp_path / "bq.html").read_text()
    assert f"bigquery:p114-test.{env['P114_BQ_DATASET']}" in page and f"{UNITS} units, 48 periods" in page

    for name, extra in (("bq", {"env": env}), ("duck", {})):
        args = ["export", "bm_unit_period", "--start", DAY, "--out", tmp_path / f"{name}.csv"]
        done = invoke(*args, *(["--warehouse", duck] if name == "duck" else []), **extra)
        assert done.exit_code == 0, done.output
        assert f"{UNITS * 48:,} rows of bm_unit_period" in done.stdout
    assert _csv_rows(tmp_path / "bq.csv") == _csv_rows(tmp_path / "duck.csv")

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    on_bigquery = p114_assets.read("vlp_revenue_daily", start=DAY, end=DAY).sort("bm_unit_id")
    on_duckdb = p114_assets.read("vlp_revenue_daily", start=DAY, end=DAY, warehouse=duck).sort("bm_unit_id")
    assert on_bigquery.height == on_duckdb.height > 0
    assert on_bigquery["net_balancing_revenue_gbp"].round(2).to_list() == on_duckdb["net_balancing_revenue_gbp"].round(2).to_list()
    quote = "V__A'); DROP TABLE p114.bm_unit_period; --"
    assert p114_assets.read("bm_unit_period", start=DAY, end=DAY, units=[quote]).height == 0  # bound, not spliced
    assert p114_assets.read("bm_unit_period", start=DAY, end=DAY).height == UNITS * 48  # and the table is still there
