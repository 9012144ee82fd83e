"""The file and raw-table assets in real Dagster runs, with a real DuckDB warehouse."""

from __future__ import annotations

import datetime as dt
import shutil
import threading
import time

import dagster as dg
import pytest

from p114_assets.core.synthetic import generate_files
from p114_assets.core.s0142.tables import RAW_TABLES
from p114_assets.core.s0142.parser import parse_file
from p114_assets.definitions import ASSET_CHECKS, ASSETS, defs
from p114_assets.defs.partitions import backfill_policy, partition_key, settlement_date_partitions, settlement_run_partitions
from p114_assets.defs.settlement import assets
from p114_assets.defs.settlement.assets import RAW_SPECS, raw_tables, s0142_file
from p114_assets.defs.settlement.resources import GeneratorSource
from p114_assets_tests.conftest import local_resources

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
RAW_KEYS = [spec.key for spec in RAW_SPECS]


@pytest.fixture
def env(tmp_path, small_market):
    incoming, landing = tmp_path / "incoming", tmp_path / "landing"
    paths = generate_files(dt.date(2024, 3, 30), dt.date(2024, 4, 1), ["II", "SF"], incoming, market=small_market)
    resources = local_resources(incoming, tmp_path / "p114.duckdb", landing=landing)
    with dg.instance_for_test() as instance:
        yield {"resources": resources, "instance": instance, "paths": paths, "incoming": incoming, "landing": landing,
               "warehouse_path": tmp_path / "p114.duckdb"}


def run(env, key=None, selection=None, tags=None, raise_on_error=True):
    return dg.materialize([*ASSETS, *ASSET_CHECKS], selection=selection or [s0142_file.key, *RAW_KEYS], partition_key=key,
                          resources=env["resources"], instance=env["instance"], run_config=QUIET, tags=tags,
                          raise_on_error=raise_on_error)  # fmt: skip


def partition_counts(env) -> dict:
    rows = env["resources"]["warehouse"].query(
        "SELECT settlement_date, run_type, count(*) AS n FROM p114.bm_unit_period GROUP BY ALL ORDER BY ALL").to_pylist()
    return {(r["settlement_date"], r["run_type"]): r["n"] for r in rows}


def metadata(result, asset: str) -> dict:
    event = next(e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset))
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_one_partition(env, small_market):
    result = run(env, key=partition_key(dt.date(2024, 3, 31), "II"))
    assert result.success
    assert partition_counts(env) == {(dt.date(2024, 3, 31), "II"): small_market.units.height * 46}
    landed = sorted(env["landing"].glob("S0142_*"))
    assert [p.name for p in landed] == [next(p.name for p in env["paths"] if p.name.startswith("S0142_20240331_II"))]
    file_meta = metadata(result, "s0142_file")
    header = parse_file(landed[0]).header
    assert file_meta["file_name"] == header.file_name and file_meta["publication_stamp"] == header.publication_stamp
    assert file_meta["flow_version"] == "S0142013" and file_meta["bytes"] == landed[0].stat().st_size
    assert len(file_meta["sha256"]) == 64 and file_meta["line_count"] == header.line_count
    bm_meta = metadata(result, "bm_unit_period")
    assert bm_meta["dagster/row_count"] == small_market.units.height * 46
    assert bm_meta["file_name"] == header.file_name and bm_meta["flow_version"] == "S0142013"


def test_a_range_of_dates_in_one_run(env, small_market):
    tags = {"dagster/asset_partition_range_start": "2024-03-30|SF", "dagster/asset_partition_range_end": "2024-04-01|SF"}
    result = run(env, tags=tags)
    assert result.success
    n = small_market.units.height
    assert partition_counts(env) == {(dt.date(2024, 3, 30), "SF"): n * 48, (dt.date(2024, 3, 31), "SF"): n * 46,
                                     (dt.date(2024, 4, 1), "SF"): n * 48}  # fmt: skip
    partitions = {e.materialization.partition for e in result.get_asset_materialization_events()
                  if e.asset_key == dg.AssetKey("bm_unit_period")}  # fmt: skip
    assert partitions == {"2024-03-30|SF", "2024-03-31|SF", "2024-04-01|SF"}
    assert metadata(result, "bm_unit_period")["rows_in_run"] == n * (48 + 46 + 48)


def test_rematerializing_gives_the_same_rows(env):
    key = partition_key(dt.date(2024, 4, 1), "SF")
    run(env, key=key)
    first = env["resources"]["warehouse"].query("SELECT * FROM p114.bid_offer_pair ORDER BY ALL").to_pylist()
    before = partition_counts(env)
    run(env, key=key)
    assert partition_counts(env) == before
    assert env["resources"]["warehouse"].query("SELECT * FROM p114.bid_offer_pair ORDER BY ALL").to_pylist() == first


def test_a_bad_newer_file_leaves_the_earlier_rows(env):
    key = partition_key(dt.date(2024, 4, 1), "SF")
    run(env, key=key)
    before = partition_counts(env)
    good = next(env["landing"].glob("S0142_*"))
    # A re-publication of the same run arrives cut off: a later stamp, a truncated body.
    stamp = good.name.split("_")[3].removesuffix(".gz")
    later = env["incoming"] / good.name.replace(stamp, str(int(stamp) + 1))
    later.write_bytes(good.read_bytes()[:5000])
    result = run(env, key=key, raise_on_error=False)
    assert not result.success
    assert partition_counts(env) == before
    assert not (env["landing"] / later.name).exists()  # an invalid file never enters the landing zone
    # raw tables alone (the file asset not re-run) parse the newest landed file and fail the same way
    shutil.copy(later, env["landing"] / later.name)
    result = run(env, key=key, selection=RAW_KEYS, raise_on_error=False)
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    while failure.cause:
        failure = failure.cause
    assert later.name in failure.message and "truncated" in failure.message
    assert partition_counts(env) == before


def test_a_raw_run_parses_its_first_file_while_another_run_holds_the_warehouse(env, monkeypatch, small_market):
    """The raw step claims the warehouse slot itself: its first file is parsed while the run before
    it still writes (the slot held by another run here), and nothing is read or written before the
    slot is its own; then it loads as usual and frees the slot."""
    key = partition_key(dt.date(2024, 4, 1), "SF")
    assert run(env, key=key, selection=[s0142_file.key]).success
    instance, parsed = env["instance"], []
    storage = instance.event_log_storage
    storage.set_concurrency_slots("warehouse", 1)
    assert storage.claim_concurrency_slot("warehouse", "the-run-writing", "raw_tables").is_claimed
    monkeypatch.setattr(assets, "parse_file", lambda path: parsed.append(path) or parse_file(path))
    result: dict = {}
    raw = threading.Thread(target=lambda: result.setdefault("run", run(env, key=key, selection=RAW_KEYS)), daemon=True)
    raw.start()
    deadline = time.monotonic() + 120

    def waiting() -> list:
        return [s for s in storage.get_concurrency_info("warehouse").pending_steps if s.run_id != "the-run-writing"]

    while not (parsed and waiting()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert parsed, "the first file was not parsed while the slot was held"
    [claim] = waiting()
    assert claim.step_key == "raw_tables"
    assert not env["warehouse_path"].exists()  # nothing read or written without the slot
    storage.free_concurrency_slots_for_run("the-run-writing")
    raw.join(timeout=180)
    assert result["run"].success
    assert partition_counts(env) == {(dt.date(2024, 4, 1), "SF"): small_market.units.height * 48}
    assert not storage.get_concurrency_info("warehouse").claimed_slots and not waiting()


def test_a_missing_file_names_what_was_looked_for(env):
    result = run(env, key=partition_key(dt.date(2024, 3, 30), "RF"), raise_on_error=False)
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    while failure.cause:
        failure = failure.cause
    assert "no S0142 file for 2024-03-30 RF" in failure.message and "S0142_20240330_RF_*.gz" in failure.message


def test_a_file_whose_header_disagrees_with_its_partition_fails(env):
    wrong = env["paths"][0]  # 2024-03-30 II, renamed to pretend to be 2024-03-29
    renamed = env["incoming"] / wrong.name.replace("20240330", "20240329", 1)
    shutil.copy(wrong, renamed)
    result = run(env, key=partition_key(dt.date(2024, 3, 29), "II"), raise_on_error=False)
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    while failure.cause:
        failure = failure.cause
    assert "file name says 2024-03-29" in failure.message


def test_generator_source(tmp_path):
    resources = {**local_resources(tmp_path, tmp_path / "p114.duckdb", landing=tmp_path / "landing"),
                 "source": GeneratorSource(units=20, seed=3)}  # fmt: skip
    with dg.instance_for_test() as instance:
        result = dg.materialize([*ASSETS, *ASSET_CHECKS], selection=[s0142_file.key, *RAW_KEYS], partition_key="2024-10-27|R1",
                                resources=resources, instance=instance, run_config=QUIET)
    assert result.success
    assert metadata(result, "bm_unit_period")["dagster/row_count"] == 20 * 50


def test_definitions_load_with_partitions_policies_and_pool():
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    for key in [s0142_file.key, *RAW_KEYS]:
        node = graph.get(key)
        assert node.partitions_def == settlement_run_partitions
        assert node.backfill_policy == backfill_policy
    for name in ("settlement_canonical", "run_reconciliation"):  # daily, a month per run, automated
        node = graph.get(dg.AssetKey(name))
        assert node.partitions_def == settlement_date_partitions
        assert node.backfill_policy.max_partitions_per_run == 31 and node.automation_condition is not None
    assert backfill_policy.max_partitions_per_run == 7
    assert raw_tables.op.pool == "warehouse"
    assert set(RAW_TABLES) == {k.to_user_string() for k in RAW_KEYS}
    assert settlement_run_partitions.get_partition_keys_in_range(
        dg.PartitionKeyRange("2024-10-01|II", "2024-10-01|II")) == ["2024-10-01|II"]
    assert all(graph.get(k).description for k in graph.get_all_asset_keys())  # every asset says what it is


def test_raw_table_columns_are_documented_in_the_ui():
    spec = next(s for s in RAW_SPECS if s.key == dg.AssetKey("bm_unit_period"))
    schema = spec.metadata["dagster/column_schema"]
    columns = {c.name: c for c in schema.columns}
    assert columns["metered_volume_mwh"].description.startswith("[V]")
    assert columns["bp7_18"].description.startswith("[?]")
    assert spec.metadata["dagster/table_name"] == "p114.bm_unit_period"
