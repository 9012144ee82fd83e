"""`p114 fetch` against a fake Portal, and `p114 plan-backfill` (summary, --local, --launch on a
real Dagster webserver)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time

import httpx
import pytest
from click.testing import CliRunner

from p114_assets.app.cli import main
from p114_assets.core.synthetic import SyntheticMarket, generate_file, generate_files
from p114_assets.warehouse.duckdb import DuckDBWarehouse
from p114_assets_tests.conftest import PORTAL_KEY, FakePortal, free_port


def invoke(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)


def test_fetch_downloads_a_range_of_publication_dates(httpserver, tmp_path):
    fake = FakePortal(httpserver)
    market = SyntheticMarket.build(10, seed=1)
    names = [fake.publish(generate_file(market, dt.date(2024, 6, d), run)) for d in (3, 4) for run in ("II", "SF")]
    env = {"ELEXON_PORTAL_KEY": PORTAL_KEY, "P114_PORTAL_URL": fake.url}
    result = invoke("fetch", "--published-from", "2024-06-01", "--published-to", "2024-06-30", "--dest", tmp_path / "in",
                    "--run-types", "SF", env=env)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == sorted(n for n in names if "_SF_" in n)
    assert "2 files listed; 2 downloaded" in result.stdout and "0 failed" in result.stdout
    again = invoke("fetch", "--published-from", "2024-06-01", "--published-to", "2024-06-30", "--dest", tmp_path / "in", env=env)
    assert "4 files listed; 2 downloaded" in again.stdout and "2 already present" in again.stdout
    for output in (result.stdout, result.stderr, again.stdout, again.stderr):
        assert PORTAL_KEY not in output


def test_fetch_reports_failures_and_a_missing_or_refused_key(httpserver, tmp_path):
    fake = FakePortal(httpserver)
    fake.publish(generate_file(SyntheticMarket.build(10, seed=1), dt.date(2024, 6, 3), "II"))
    fake.files["S0142_20240603_SF_20240610120000.gz"] = b"\x1f\x8b broken"  # listed, but the body is cut off
    env = {"ELEXON_PORTAL_KEY": PORTAL_KEY, "P114_PORTAL_URL": fake.url}
    result = invoke("fetch", "--published-from", "2024-06-10", "--dest", tmp_path, env=env)
    assert result.exit_code == 1 and "1 downloaded" in result.stdout and "1 failed" in result.stdout
    assert "S0142_20240603_SF_20240610120000.gz: the body was cut off" in result.stderr
    missing = invoke("fetch", "--published-from", "2024-06-10", "--dest", tmp_path, env={"ELEXON_PORTAL_KEY": ""})
    assert missing.exit_code == 2 and "set ELEXON_PORTAL_KEY" in missing.stderr
    refused = invoke("fetch", "--published-from", "2024-06-10", "--dest", tmp_path,
                     env={"ELEXON_PORTAL_KEY": "Wr0ng-key-12345", "P114_PORTAL_URL": fake.url})  # fmt: skip
    assert refused.exit_code == 1 and "refused the scripting key" in refused.stderr and "Wr0ng" not in refused.stderr


def test_plan_backfill_summary_on_a_fixed_date():
    result = invoke("plan-backfill", "--start", "2022-01-01", "--end", "2025-12-31", "--as-of", "2025-12-31")
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in result.stdout.splitlines() if line.startswith("│")}
    assert set(rows) == {"II", "SF", "R1", "R2", "R3", "RF", "none yet"}
    assert sum(int(v.replace(",", "")) for v in rows.values()) == 1461


def test_plan_backfill_local_loads_the_plan_and_reports_a_failed_chunk(tmp_path):
    # as of 1 July 2024, SF is the best available run of 3-5 June (published 25-27 June), R1 is not yet due
    paths = generate_files(dt.date(2024, 6, 3), dt.date(2024, 6, 5), ["SF"], tmp_path / "in", units=12, seed=2)
    paths[1].write_bytes(paths[1].read_bytes()[:2000])  # 4 June arrives cut off
    env = {"P114_SOURCE": "folder", "P114_INCOMING_DIR": str(tmp_path / "in"), "P114_DATA_DIR": str(tmp_path / "data"),
           "P114_WAREHOUSE": "duckdb", "DAGSTER_HOME": ""}  # fmt: skip
    result = invoke("plan-backfill", "--start", "2024-06-03", "--end", "2024-06-05", "--as-of", "2024-07-01", "--local", env=env)
    assert result.exit_code == 1
    assert "failed 2024-06-04 SF" in result.stderr and "truncated" in result.stderr
    loaded = DuckDBWarehouse(path=str(tmp_path / "data" / "p114.duckdb")).query(
        "SELECT DISTINCT settlement_date, run_type FROM p114.bm_unit_period ORDER BY 1").to_pylist()
    assert [(r["settlement_date"].day, r["run_type"]) for r in loaded] == [(3, "SF"), (5, "SF")]  # the others still loaded


@pytest.mark.slow
def test_plan_backfill_launches_an_asset_backfill_on_a_real_webserver(tmp_path):
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), "P114_DATA_DIR": str(tmp_path / "data")}
    (tmp_path / "home").mkdir()
    server = subprocess.Popen([sys.executable, "-m", "dagster_webserver", "-h", "127.0.0.1", "-p", str(port),
                               "-m", "p114_assets.definitions"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        else:
            pytest.fail("the webserver did not start")
        result = invoke("plan-backfill", "--start", "2024-06-03", "--end", "2024-06-05", "--as-of", "2024-07-01",
                        "--launch", url, env={"DAGSTER_HOME": str(tmp_path / "home")})  # fmt: skip
        assert result.exit_code == 0, result.output
        printed = " ".join(result.stdout.split())  # the console wraps long lines
        assert "launched backfill" in printed and "3 partitions of 7 raw assets, and their 3 dates of 6 daily assets" in printed
        answer = httpx.post(f"{url}/graphql", json={"query": """{ partitionBackfillsOrError { ... on PartitionBackfills {
            results { id title assetBackfillData { assetBackfillStatuses { ... on AssetPartitionsStatusCounts {
              assetKey { path } numPartitionsTargeted } } } } } } }"""}, timeout=30).json()  # fmt: skip
        (backfill,) = answer["data"]["partitionBackfillsOrError"]["results"]
        targeted = {s["assetKey"]["path"][0]: s["numPartitionsTargeted"] for s in backfill["assetBackfillData"]["assetBackfillStatuses"]}
        # the raw assets of the three SF partitions, and the daily assets of exactly their dates
        assert targeted == {**dict.fromkeys(["s0142_file", "system_period", "market_index", "bm_unit_period", "bid_offer_pair",
                                              "party_period", "account_period"], 3),
                            **dict.fromkeys(["settlement_canonical", "run_reconciliation", "vlp_revenue_period", "vlp_revenue_daily",
                                             "vlp_party_daily", "unit_classification"], 3)}  # fmt: skip
        bad = invoke("plan-backfill", "--start", "2024-06-03", "--end", "2024-06-03", "--as-of", "2024-07-01",
                     "--launch", f"http://127.0.0.1:{free_port()}")  # fmt: skip
        assert bad.exit_code == 1 and "could not reach the Dagster webserver" in bad.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
