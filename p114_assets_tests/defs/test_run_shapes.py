"""Check results belong to their partition in every shape of run, a failed blocking check keeps
its partition from being materialized, and the automation condition remembers a landing while the
run that brought it is still checking it. Real Dagster runs on a real instance."""

from __future__ import annotations

import datetime as dt
import gzip
import threading

import dagster as dg
import pytest

from p114_assets.core.synthetic import economics
from p114_assets.core.synthetic import SyntheticMarket, generate_file
from p114_assets.definitions import ASSET_CHECKS, ASSETS, defs
from p114_assets.defs.automation import automation_sensor
from p114_assets.app.runner import RAW_KEYS, root_causes
from p114_assets_tests.conftest import local_resources

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
CANONICAL = dg.AssetKey("settlement_canonical")
BLOCKING_BM = {"periods_per_day", "every_unit_every_period", "no_duplicate_unit_periods", "bpi_matches_bp7", "schema",
               "rows_vs_previous_version"}


@pytest.fixture(scope="module")
def market():
    return SyntheticMarket.build(20, seed=5)


@pytest.fixture
def env(tmp_path):
    folder = tmp_path / "incoming"
    folder.mkdir()
    with dg.instance_for_test() as instance:
        yield {"folder": folder, "resources": local_resources(folder, tmp_path / "p114.duckdb"), "instance": instance}


def write(env, market, day: dt.date, run_type: str, periods: int | None = None) -> None:
    if periods is None:
        generate_file(market, day, run_type).write(env["folder"])
        return
    original = economics.periods_in_day
    economics.periods_in_day = lambda _: periods
    try:
        generated = generate_file(market, day, run_type)
    finally:
        economics.periods_in_day = original
    (env["folder"] / generated.file_name.name).write_bytes(gzip.compress(generated.text, mtime=0))


def run(env, keys: list[str], assets=ASSETS, checks=ASSET_CHECKS, selection=RAW_KEYS) -> dg.ExecuteInProcessResult:
    """One run over one partition key, or over a range from the first to the last (a backfill chunk)."""
    single = len(keys) == 1 and "range" not in keys[0]
    tags = {} if single else {"dagster/asset_partition_range_start": keys[0].split("@")[0], "dagster/asset_partition_range_end": keys[-1].split("@")[0]}
    return dg.materialize([*assets, *checks], selection=selection, partition_key=keys[0] if single else None, tags=tags,
                          resources=env["resources"], instance=env["instance"], run_config=QUIET, raise_on_error=False)  # fmt: skip


def stored(instance: dg.DagsterInstance, check: str, partition: str, asset: str = "bm_unit_period"):
    """The latest stored execution of a check for a partition, as the UI reads it."""
    records = instance.event_log_storage.get_asset_check_execution_history(dg.AssetCheckKey(dg.AssetKey(asset), check), limit=20)
    return next((r for r in records if r.partition == partition), None)


@pytest.mark.parametrize("shape", ["single partition", "range of one", "range of three"])
def test_checks_are_stored_on_their_partition_in_every_run_shape(env, market, shape):
    days = [dt.date(2024, 5, 6 + i) for i in range(3 if shape == "range of three" else 1)]
    for day in days:
        write(env, market, day, "SF")
    keys = [f"{d}|SF" for d in days]
    result = run(env, [f"{keys[0]}@range"] if shape == "range of one" else keys)
    assert result.success
    evaluations = [e for e in result.get_asset_check_evaluations() if e.asset_key == dg.AssetKey("bm_unit_period")]
    assert sorted((e.partition, e.check_name) for e in evaluations) == sorted((k, c) for k in keys for c in [*BLOCKING_BM, "value_ranges"])
    for key in keys:
        for check in [*BLOCKING_BM, "value_ranges"]:
            record = stored(env["instance"], check, key)
            assert record is not None and record.status.value == "SUCCEEDED", (check, key, record)
            # it checked the partition's latest materialization, so automation sees it as current
            assert record.event.dagster_event.event_specific_data.target_materialization_data is not None
    assert not [r for r in env["instance"].event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey("bm_unit_period"), "periods_per_day"), limit=20) if r.partition is None]  # fmt: skip


def test_a_chunk_materializes_its_good_partitions_and_fails_the_bad_one(env, market):
    days = [dt.date(2024, 5, 13 + i) for i in range(3)]
    for day in days:
        write(env, market, day, "SF", periods=47 if day == days[1] else None)
    keys = [f"{d}|SF" for d in days]
    result = run(env, keys)
    assert not result.success
    materialized = {(e.asset_key.to_user_string(), e.partition) for e in result.get_asset_materialization_events()}
    assert {p for a, p in materialized if a == "bm_unit_period"} == {keys[0], keys[2]}
    assert {p for a, p in materialized if a == "s0142_file"} == set(keys)  # every file was fine
    failed = {(e.asset_key.to_user_string(), e.partition, e.check_name) for e in result.get_asset_check_evaluations() if not e.passed}
    assert failed == {("bm_unit_period", keys[1], "periods_per_day"), ("bm_unit_period", keys[1], "every_unit_every_period"),
                      ("system_period", keys[1], "periods_per_day")}  # fmt: skip
    assert stored(env["instance"], "periods_per_day", keys[1]).status.value == "FAILED"
    assert stored(env["instance"], "schema", keys[1]).status.value == "SUCCEEDED"  # passing checks show as passed
    assert stored(env["instance"], "periods_per_day", keys[0]).status.value == "SUCCEEDED"
    assert "2024-05-14|SF: failed blocking check(s) bm_unit_period:every_unit_every_period" in root_causes(result)


def test_a_rejected_file_fails_its_file_check_and_keeps_the_previous_file(env, market):
    day = dt.date(2024, 5, 20)
    write(env, market, day, "SF")
    assert run(env, [f"{day}|SF"]).success
    good = next(env["folder"].glob("S0142_*"))
    truncated = good.with_name(good.name.replace(good.name.split("_")[3][:14], "29990101000000"))
    truncated.write_bytes(gzip.compress(gzip.decompress(good.read_bytes())[:-400], mtime=0))  # the trailer cut off
    result = run(env, [f"{day}|SF"])
    assert not result.success
    failed = {e.check_name: e for e in result.get_asset_check_evaluations() if not e.passed}
    assert set(failed) <= {"trailer_line_count", "header_matches_partition"} and failed
    assert all(e.partition == f"{day}|SF" for e in failed.values())
    assert not result.get_asset_materialization_events()


@pytest.fixture
def gated(env):
    """The code location plus a slow blocking check on bm_unit_period that waits for the test: a run
    whose raw tables are materialized but whose checks are still running."""
    release = threading.Event()

    @dg.asset_check(asset="bm_unit_period", partitions_def=ASSETS[1].partitions_def, name="takes_its_time", blocking=True)
    def takes_its_time() -> dg.AssetCheckResult:
        assert release.wait(60), "the test never released the check"
        return dg.AssetCheckResult(passed=True, severity=dg.AssetCheckSeverity.WARN)

    return release, takes_its_time, dg.Definitions(assets=ASSETS, asset_checks=[*ASSET_CHECKS, takes_its_time],
                                                   sensors=[automation_sensor()], resources=env["resources"])  # fmt: skip


def test_a_landing_is_remembered_while_its_run_is_still_checking(env, market, gated):
    release, takes_its_time, slow_defs = gated
    day = dt.date(2024, 5, 27)
    write(env, market, day, "SF")
    instance = env["instance"]
    tick = dg.evaluate_automation_conditions(defs=slow_defs, instance=instance)
    results: list = []
    def materialize():
        try:
            results.append(run(env, [f"{day}|SF"], checks=[*ASSET_CHECKS, takes_its_time],
                               selection=dg.AssetSelection.assets(*RAW_KEYS) | dg.AssetSelection.checks(takes_its_time)))
        except BaseException as exc:  # shown by the assertion below
            results.append(exc)
            raise

    worker = threading.Thread(target=materialize)
    worker.start()
    try:
        materialized = lambda: instance.get_latest_materialization_event(dg.AssetKey("bm_unit_period"))  # noqa: E731
        deadline = dt.datetime.now() + dt.timedelta(seconds=60)
        while materialized() is None and dt.datetime.now() < deadline and not results:
            threading.Event().wait(0.2)
        assert materialized() is not None, results
        for _ in range(2):  # ticks while the run is still in progress: nothing may be requested yet
            tick = dg.evaluate_automation_conditions(defs=slow_defs, instance=instance, cursor=tick.cursor)
            assert not tick.get_requested_partitions(CANONICAL)
    finally:
        release.set()
        worker.join(120)
    assert results and results[0].success
    tick = dg.evaluate_automation_conditions(defs=slow_defs, instance=instance, cursor=tick.cursor)
    assert tick.get_requested_partitions(CANONICAL) == {str(day)}
    labels = _true_labels(tick, CANONICAL)
    assert "a run of this date landed since the date was last refreshed" in labels
    assert "refresh when a run of the date lands" in labels
    # the classification's window of 30 dates holds one date only: left to backfills, not re-run
    assert not tick.get_requested_partitions(dg.AssetKey("unit_classification"))
    assert "a date of the window has no canonical settlement" in _true_labels(tick, dg.AssetKey("unit_classification"))
    # once requested, not again: no loop
    tick = dg.evaluate_automation_conditions(defs=slow_defs, instance=instance, cursor=tick.cursor)
    assert not tick.get_requested_partitions(CANONICAL)


def _true_labels(tick, key: dg.AssetKey) -> set[str]:
    """The labels of the condition's nodes that were true for some partition: why it fired."""
    found: set[str] = set()

    def walk(result):
        label = result.condition.get_label()
        if label and not result.true_subset.is_empty:
            found.add(label)
        for child in result.child_results:
            walk(child)

    for result in tick.results:
        if result.key == key:
            walk(result)
    return found


def test_a_date_whose_run_failed_a_blocking_check_is_not_refreshed_though_another_run_lands(env, market):
    day = dt.date(2024, 6, 3)
    for run_type in ("II", "SF"):
        write(env, market, day, run_type)
        assert run(env, [f"{day}|{run_type}"]).success
    tick = dg.evaluate_automation_conditions(defs=defs, instance=env["instance"])
    # SF is published again, later, and wrong: its rows replace the good ones but fail the checks
    write(env, market, day, "SF", periods=47)  # the same name: it replaces the good file in the folder
    assert not run(env, [f"{day}|SF"]).success
    assert run(env, [f"{day}|II"]).success  # another run of the date lands
    tick = dg.evaluate_automation_conditions(defs=defs, instance=env["instance"], cursor=tick.cursor)
    assert not tick.get_requested_partitions(CANONICAL)
    assert "a run of this date failed a blocking check" in _true_labels(tick, CANONICAL)


CLASSIFICATION = dg.AssetKey("unit_classification")


def window_days(env, day: dt.date) -> set[int]:
    table = env["resources"]["warehouse"].read_partition("unit_classification", day)
    return set(table.column("days_with_data").to_pylist())


def test_a_window_built_while_a_date_of_it_was_loading_is_rebuilt_when_the_date_lands(env, market):
    """Issue 15, failure 8: the classification of 2024-07-02 is built while 2024-07-01 is still
    loading; once 2024-07-01 lands (and its canonical settlement is refreshed), automation rebuilds
    the window, though the window (30 dates) is still partial; a window never built is left alone."""
    first, second = dt.date(2024, 7, 1), dt.date(2024, 7, 2)
    daily = [CANONICAL, CLASSIFICATION]
    write(env, market, second, "SF")
    assert run(env, [f"{second}|SF"]).success
    assert run(env, [str(second)], selection=daily).success
    assert window_days(env, second) == {1}  # built from the one date there was
    tick = dg.evaluate_automation_conditions(defs=defs, instance=env["instance"])
    write(env, market, first, "SF")
    assert run(env, [f"{first}|SF"]).success  # the date lands
    tick = dg.evaluate_automation_conditions(defs=defs, instance=env["instance"], cursor=tick.cursor)
    assert tick.get_requested_partitions(CANONICAL) == {str(first)}
    assert not tick.get_requested_partitions(CLASSIFICATION)  # its canonical settlement is not refreshed yet
    assert run(env, [str(first)], selection=[CANONICAL]).success  # what the tick requested
    tick = dg.evaluate_automation_conditions(defs=defs, instance=env["instance"], cursor=tick.cursor)
    assert tick.get_requested_partitions(CLASSIFICATION) == {str(second)}  # built before: rebuilt; 07-01's never built
    assert "this window was built before: a date of it landed after" in _true_labels(tick, CLASSIFICATION)
    assert run(env, [str(second)], selection=[CLASSIFICATION]).success
    assert window_days(env, second) == {2}
    tick = dg.evaluate_automation_conditions(defs=defs, instance=env["instance"], cursor=tick.cursor)
    assert not tick.get_requested_partitions(CLASSIFICATION)  # once: no loop


def test_a_range_run_checks_the_next_file_while_this_one_is_written(env, market, monkeypatch):
    """Issue 14: the checks of a partition (~0.3 s at real scale) ran on the run's one writing
    thread between two writes. The next file is now parsed and checked on the prefetch thread
    from the moment the current write's largest table is in: here the current write waits there
    until the next partition's checks have started, which never happens if they run after it."""
    from p114_assets.warehouse import checked_load

    days = [dt.date(2024, 5, 20 + i) for i in range(2)]
    for day in days:
        write(env, market, day, "SF")
    started = {day: threading.Event() for day in days}
    seen, real_check, real_write = [], checked_load.check_partition, checked_load.write_checked

    def check_partition(tables, header, settlement_date, *args, **kwargs):
        started[settlement_date].set()
        return real_check(tables, header, settlement_date, *args, **kwargs)

    def write_checked(warehouse, checked, after_peak=None, release=False):
        def peak():
            after_peak()
            if checked.settlement_date == days[0]:
                seen.append(started[days[1]].wait(timeout=30))

        return real_write(warehouse, checked, peak if after_peak else None, release)

    monkeypatch.setattr(checked_load, "check_partition", check_partition)
    monkeypatch.setattr(checked_load, "write_checked", write_checked)
    result = run(env, [f"{d}|SF" for d in days])
    assert result.success, root_causes(result)
    assert seen == [True]
    written = [m.metadata["rows_in_run"].value for m in result.asset_materializations_for_node("raw_tables")
               if m.asset_key == dg.AssetKey("bm_unit_period")]  # fmt: skip
    assert written == [2 * 48 * len(market.units)] * 2  # both dates, every unit and period (one event a partition)


def test_a_landed_file_is_decompressed_and_scanned_once(env, market, monkeypatch):
    """Issue 14: s0142_file checked a file (a full decompress and scan: ~0.16 CPU s at real scale)
    and then inspected the landed copy again for its metadata. The checks' header is the landed
    file's (the same bytes under the same name)."""
    from p114_assets.core.s0142 import parser

    day = dt.date(2024, 5, 27)
    write(env, market, day, "SF")
    reads, real_read = [], parser._read
    monkeypatch.setattr(parser, "_read", lambda path: reads.append(path.name) or real_read(path))
    result = run(env, [f"{day}|SF"], selection=[dg.AssetKey("s0142_file")])
    assert result.success, root_causes(result)
    assert len(reads) == 1
    metadata = result.asset_materializations_for_node("s0142_file")[0].metadata
    landed = next(env["folder"].glob("*.gz"))
    assert metadata["file_name"].value == reads[0] == landed.name
    assert metadata["line_count"].value == len(gzip.decompress(landed.read_bytes()).splitlines())
    assert metadata["bytes"].value == landed.stat().st_size
