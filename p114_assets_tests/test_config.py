"""Settings from the environment: read in config.py only, defaults where unset, and a value that
cannot be used stops with one line naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from p114_assets import config


@pytest.mark.parametrize("reader, name, value, message", [
    (config.backfill_chunk, "P114_BACKFILL_CHUNK", "x", "P114_BACKFILL_CHUNK='x': expected a whole number >= 1"),
    (config.backfill_chunk, "P114_BACKFILL_CHUNK", "0", "P114_BACKFILL_CHUNK='0': expected a whole number >= 1"),
    (config.start_date, "P114_START_DATE", "01/01/2022", "P114_START_DATE='01/01/2022': expected a date YYYY-MM-DD"),
    (config.warehouse_kind, "P114_WAREHOUSE", "Postgres", "P114_WAREHOUSE='postgres': expected one of duckdb, bigquery"),
    (config.source_kind, "P114_SOURCE", "ftp", "P114_SOURCE='ftp': expected one of portal, folder, generator"),
    (config.bigquery_storage_api, "P114_BQ_STORAGE_API", "yes", "P114_BQ_STORAGE_API='yes': expected 1 (on) or 0 (off)"),
    (config.portal_poll_seconds, "P114_PORTAL_POLL_SECONDS", "-5", "P114_PORTAL_POLL_SECONDS='-5': expected a whole number >= 1"),
    (config.alert_grace_working_days, "P114_ALERT_GRACE_WORKING_DAYS", "two", "P114_ALERT_GRACE_WORKING_DAYS='two': expected a whole number >= 0"),
    (config.generator_units, "P114_GENERATOR_UNITS", "3", "P114_GENERATOR_UNITS='3': expected a whole number >= 9"),
])  # fmt: skip
def test_an_unusable_value_is_one_line_naming_the_variable(reader, name, value, message):
    with pytest.raises(config.ConfigError) as caught:
        reader({name: value})
    assert str(caught.value) == message


def test_an_unusable_calendar_file_names_the_variable(tmp_path):
    bad = tmp_path / "calendar.csv"
    bad.write_text("settlement_date,run_type,publication_date\n2024-06-03,SF,20/06/2024\n")
    with pytest.raises(config.ConfigError, match=r"^P114_CALENDAR_CSV: calendar.csv, line 2: dates must be YYYY-MM-DD$"):
        config.calendar({"P114_CALENDAR_CSV": str(bad)})
    with pytest.raises(config.ConfigError, match=r"^P114_CALENDAR_CSV: cannot read calendar"):
        config.calendar({"P114_CALENDAR_CSV": str(tmp_path / "missing.csv")})


def test_defaults_and_the_one_switch():
    assert (config.warehouse_kind({}), config.source_kind({}), config.backfill_chunk({})) == ("duckdb", "folder", 7)
    assert config.source_kind({"P114_WAREHOUSE": "BigQuery"}) == "portal"  # production fetches from the Portal
    assert config.duckdb_path({"P114_DATA_DIR": "/srv/p114"}) == str(Path("/srv/p114") / "p114.duckdb")
    assert config.landing_dir({"P114_DATA_DIR": "/srv/p114", "P114_LANDING_DIR": "/mnt/landing"}) == "/mnt/landing"
    assert config.backfill_chunk({"P114_BACKFILL_CHUNK": ""}) == 7  # empty counts as unset
    assert config.bigquery_location({}) is None and config.bigquery_storage_api({"P114_BQ_STORAGE_API": "0"}) is False


def test_no_environment_is_read_outside_config():
    package = Path(config.__file__).parent
    readers = [str(p.relative_to(package)) for p in package.rglob("*.py")
               if p.name != "config.py" and ("os.getenv" in p.read_text() or "os.environ" in p.read_text())]  # fmt: skip
    assert readers == []


def test_the_cli_says_which_variable_is_wrong_in_one_line(tmp_path):
    env = {**os.environ, "P114_BACKFILL_CHUNK": "seven"}
    done = subprocess.run([sys.executable, "-c", "from p114_assets.app.cli import main; main()", "materialize",
                           "--source", str(tmp_path)], env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == "p114 materialize: P114_BACKFILL_CHUNK='seven': expected a whole number >= 1\n"
