"""Check before swap in real Dagster runs on a DuckDB file (issue 15.1, 13.3): a parseable but bad
file re-published over a loaded partition leaves its rows whole, is kept in quarantine, and
partition_status and the valid views say what happened."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import dagster as dg
import pytest

from p114_assets.app.runner import RAW_KEYS
from p114_assets.core.synthetic import SyntheticMarket, generate_file
from p114_assets.definitions import ASSET_CHECKS, ASSETS
from p114_assets.defs.settlement.assets import s0142_file
from p114_assets_tests.conftest import local_resources

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
DAY, RUN = dt.date(2024, 6, 5), "SF"
KEY = f"{DAY}|{RUN}"
FIRST_STAMP, LATER_STAMP = "20240612101500", "20240613101500"


@pytest.fixture
def env(tmp_path):
    folder = tmp_path / "incoming"
    folder.mkdir()
    resources = local_resources(folder, tmp_path / "p114.duckdb", landing=tmp_path / "landing")
    with dg.instance_for_test() as instance:
        yield {"folder": folder, "resources": resources, "instance": instance, "warehouse": resources["warehouse"]}


def run(env, key=KEY):
    return dg.materialize([*ASSETS, *ASSET_CHECKS], selection=[s0142_file.key, *RAW_KEYS], partition_key=key,
                          resources=env["resources"], instance=env["instance"], run_config=QUIET, raise_on_error=False)  # fmt: skip


def publish(env, text: bytes, stamp: str) -> None:
    """A file of the partition under this stamp: text's AAA stamp rewritten to match its name."""
    lines = text.decode().split("\n")
    fields = lines[0].split("|")
    fields[fields.index(next(f for f in fields if len(f) == 14 and f.isdigit()))] = stamp
    lines[0] = "|".join(fields)
    (env["folder"] / f"S0142_{DAY:%Y%m%d}_{RUN}_{stamp}.gz").write_bytes(gzip.compress("\n".join(lines).encode(), mtime=0))


def query(env, sql: str) -> list[dict]:
    return env["warehouse"].query(sql).to_pylist()


def values(env, table: str = "bm_unit_period") -> list[dict]:
    return query(env, f"SELECT * FROM p114.{table} ORDER BY ALL")


@pytest.fixture
def loaded(env):
    """The partition loaded from a good file of 10 BM units (480 bm_unit_period rows)."""
    publish(env, generate_file(SyntheticMarket.build(10, seed=5), DAY, RUN).text, FIRST_STAMP)
    assert run(env).success
    return {"bm_unit_period": values(env), "bid_offer_pair": values(env, "bid_offer_pair")}


def status(env) -> list[dict]:
    return query(env, "SELECT version, file_name, publication_ts, blocking_passed, failed_checks, row_counts "
                      "FROM p114.partition_status ORDER BY version")  # fmt: skip


def test_a_good_load_records_its_checks_in_partition_status(env, loaded):
    assert len(loaded["bm_unit_period"]) == 10 * 48
    row = query(env, "SELECT * FROM p114.partition_status")
    assert len(row) == 1
    row = row[0]
    assert (row["settlement_date"], row["run_type"], row["version"]) == (DAY, RUN, "loaded")
    assert row["file_name"] == f"S0142_{DAY:%Y%m%d}_{RUN}_{FIRST_STAMP}.gz"
    assert row["publication_ts"] == dt.datetime(2024, 6, 12, 10, 15)
    assert row["blocking_passed"] is True and row["failed_checks"] is None
    assert json.loads(row["row_counts"])["bm_unit_period"] == 480
    checks = {(c["asset"], c["check"]): (c["severity"], c["passed"]) for c in json.loads(row["checks"])}
    assert len(checks) == 21  # every raw-table check of the partition (the two file checks are s0142_file's)
    assert checks[("bm_unit_period", "periods_per_day")] == ("ERROR", True)
    assert checks[("bm_unit_period", "rows_vs_previous_version")] == ("ERROR", True)
    assert checks[("party_period", "rcrc_matches_accounts")] == ("WARN", True)
    assert dt.datetime.now(dt.timezone.utc) - row["loaded_at"] < dt.timedelta(minutes=10)
    # the valid view holds the loaded partition; the quarantine nothing
    assert query(env, "SELECT count(*) AS n FROM p114.bm_unit_period_valid") == [{"n": 480}]
    assert query(env, "SELECT count(*) AS n FROM p114.bm_unit_period_quarantine") == [{"n": 0}]


def test_a_republished_header_and_trailer_only_file_keeps_the_loaded_rows(env, loaded):
    # The case: a later file of the run that parses (AAA, SRH, ZZZ|3|) but holds no record.
    good = generate_file(SyntheticMarket.build(10, seed=5), DAY, RUN).text.decode().split("\n")
    publish(env, "\n".join([good[0], next(line for line in good if line.startswith("SRH|")), "ZZZ|3|", ""]).encode(), LATER_STAMP)
    result = run(env)
    assert not result.success
    assert values(env) == loaded["bm_unit_period"]  # count and values: untouched
    assert values(env, "bid_offer_pair") == loaded["bid_offer_pair"]
    failed = {(e.asset_key.to_user_string(), e.check_name) for e in result.get_asset_check_evaluations() if not e.passed}
    assert ("bm_unit_period", "rows_vs_previous_version") in failed and ("bm_unit_period", "periods_per_day") in failed
    rows = status(env)
    assert [r["version"] for r in rows] == ["loaded", "quarantined"]
    assert rows[0]["file_name"].endswith(f"{FIRST_STAMP}.gz") and rows[0]["blocking_passed"] is True
    assert rows[1]["file_name"].endswith(f"{LATER_STAMP}.gz") and rows[1]["blocking_passed"] is False
    assert "bm_unit_period.rows_vs_previous_version" in rows[1]["failed_checks"]
    assert "bm_unit_period.periods_per_day" in rows[1]["failed_checks"]
    assert json.loads(rows[1]["row_counts"]) == {"system_period": 0, "market_index": 0, "bm_unit_period": 0,
                                                 "bid_offer_pair": 0, "party_period": 0, "account_period": 0}  # fmt: skip
    assert query(env, "SELECT count(*) AS n FROM p114.bm_unit_period_valid") == [{"n": 480}]  # the good version is still valid


def test_a_well_formed_file_with_far_fewer_units_is_quarantined(env, loaded, monkeypatch):
    # Nine units of another market: every per-table check passes; only the row count gives it away.
    smaller = generate_file(SyntheticMarket.build(9, seed=6), DAY, RUN)
    publish(env, smaller.text, LATER_STAMP)
    monkeypatch.setenv("P114_MIN_ROW_RATIO", "0.95")  # 432 of 480 rows is 0.9
    result = run(env)
    assert not result.success
    failed = [(e.asset_key.to_user_string(), e.check_name) for e in result.get_asset_check_evaluations() if not e.passed and
              e.severity == dg.AssetCheckSeverity.ERROR]  # fmt: skip
    assert failed == [("bm_unit_period", "rows_vs_previous_version")]
    check = next(e for e in result.get_asset_check_evaluations() if e.check_name == "rows_vs_previous_version")
    assert "bm_unit_period 432 against 480" in check.description
    assert values(env) == loaded["bm_unit_period"]
    quarantined = query(env, "SELECT bm_unit_id, count(*) AS n, max(publication_ts) AS stamp FROM p114.bm_unit_period_quarantine "
                             "GROUP BY ALL ORDER BY ALL")  # fmt: skip
    assert len(quarantined) == 9 and {r["n"] for r in quarantined} == {48}
    assert {r["stamp"] for r in quarantined} == {dt.datetime(2024, 6, 13, 10, 15)}
    rows = status(env)
    assert rows[1]["failed_checks"] == "bm_unit_period.rows_vs_previous_version"
    # with the default ratio (0.5) the same file passes and replaces the rows; its quarantine goes
    monkeypatch.delenv("P114_MIN_ROW_RATIO")
    assert run(env).success
    assert query(env, "SELECT count(*) AS n FROM p114.bm_unit_period") == [{"n": 432}]
    assert query(env, "SELECT count(*) AS n FROM p114.bm_unit_period_quarantine") == [{"n": 0}]
    assert [(r["version"], r["file_name"][-17:]) for r in status(env)] == [("loaded", f"{LATER_STAMP}.gz")]


def test_a_first_load_that_fails_writes_nothing_to_the_raw_tables(env):
    text = generate_file(SyntheticMarket.build(10, seed=5), DAY, RUN).text.decode().split("\n")
    bp7 = next(i for i, line in enumerate(text) if line.startswith("BP7|"))
    text.insert(bp7 + 1, text[bp7])  # one unit-period twice: a duplicate
    text[-2 if text[-1] == "" else -1] = f"ZZZ|{len([t for t in text if t])}|0|"
    publish(env, "\n".join(text).encode(), FIRST_STAMP)
    assert not run(env).success
    assert query(env, "SELECT count(*) AS n FROM p114.bm_unit_period") == [{"n": 0}]
    assert query(env, "SELECT count(*) AS n FROM p114.bm_unit_period_quarantine") == [{"n": 481}]
    assert [(r["version"], r["blocking_passed"], r["failed_checks"]) for r in status(env)] == [
        ("quarantined", False, "bm_unit_period.no_duplicate_unit_periods")]
    assert not env["warehouse"].table_exists("loaded_runs")  # canonical never sees it
