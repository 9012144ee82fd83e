"""Canonical settlement, reconciliation, checks, automation and alerts in real Dagster runs."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import dagster as dg
import polars as pl
import pytest
from click.testing import CliRunner

from p114_assets.app.cli import main
from p114_assets.core import quality
from p114_assets.core.synthetic import economics as generator
from p114_assets.core.s0142.tables import RAW_TABLES
from p114_assets.core.synthetic import SyntheticMarket, generate_file
from p114_assets.core.s0142.parser import parse_bytes
from p114_assets.definitions import ASSET_CHECKS, ASSETS, defs
from p114_assets.defs.alerts import sensors
from p114_assets.app.runner import RAW_KEYS, materialize_folder
from p114_assets_tests.conftest import local_resources

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
DERIVED = [dg.AssetKey("settlement_canonical"), dg.AssetKey("run_reconciliation")]


@pytest.fixture
def env(tmp_path):
    folder = tmp_path / "incoming"
    folder.mkdir()
    resources = local_resources(folder, tmp_path / "p114.duckdb")
    with dg.instance_for_test() as instance:
        yield {"folder": folder, "resources": resources, "instance": instance, "warehouse": resources["warehouse"]}


def run(env, selection, key=None, tags=None):
    return dg.materialize([*ASSETS, *ASSET_CHECKS], selection=selection, partition_key=key, tags=tags,
                          resources=env["resources"], instance=env["instance"], run_config=QUIET, raise_on_error=False)  # fmt: skip


def evaluations(result) -> dict[tuple[str, str, str | None], dg.AssetCheckEvaluation]:
    return {(e.asset_key.to_user_string(), e.check_name, e.partition): e for e in result.get_asset_check_evaluations()}


def write(env, text: bytes, name) -> None:
    (env["folder"] / name.name).write_bytes(gzip.compress(text, mtime=0))


@pytest.fixture(scope="module")
def market():
    return SyntheticMarket.build(25, seed=3)


@pytest.mark.parametrize("day, periods", [(dt.date(2024, 3, 31), 46), (dt.date(2024, 10, 27), 50)])
def test_clock_change_days_pass_every_check(env, market, day, periods):
    generate_file(market, day, "SF").write(env["folder"])
    result = run(env, RAW_KEYS, key=f"{day}|SF")
    assert result.success
    found = evaluations(result)
    # file checks + every table's rules + the settlement identities (WARN) across the tables
    expected = 2 + sum(len(quality.rules_for(t)) for t in RAW_TABLES.values()) + len(quality.IDENTITIES) + 1  # + rows_vs_previous_version
    assert expected == 23 and len(found) == expected and all(e.passed for e in found.values())
    periods_check = found[("bm_unit_period", "periods_per_day", f"{day}|SF")]
    assert periods_check.metadata["periods_expected"].value == periods


def test_an_ordinary_day_with_47_periods_fails_and_blocks(env, market, monkeypatch):
    day = dt.date(2024, 6, 5)
    monkeypatch.setattr(generator, "periods_in_day", lambda _: 47)
    generated = generate_file(market, day, "II")
    monkeypatch.undo()
    write(env, generated.text, generated.file_name)
    result = run(env, RAW_KEYS, key=f"{day}|II")
    assert not result.success  # a blocking ERROR check failed
    found = evaluations(result)
    failed = found[("bm_unit_period", "periods_per_day", f"{day}|II")]
    assert not failed.passed and failed.severity == dg.AssetCheckSeverity.ERROR
    assert failed.description == "47 periods; 2024-06-05 has 48 (Europe/London); missing 48"
    assert "| 48 | 47 | 48 |" in failed.metadata["first_failing_rows"].value
    assert not found[("system_period", "periods_per_day", f"{day}|II")].passed
    assert found[("bid_offer_pair", "schema", f"{day}|II")].passed
    # the derived tables are not built from it
    summary = materialize_folder(env["folder"], env["warehouse"])
    assert summary.skipped_dates == [day] and summary.derived_dates == []
    assert ("bm_unit_period", "periods_per_day", f"{day}|II", "ERROR") in {(f.asset, f.check, f.partition, f.severity) for f in summary.check_failures}
    assert not summary.ok


def test_duplicate_rows_fail(env, market):
    day = dt.date(2024, 6, 6)
    generated = generate_file(market, day, "SF")
    lines = generated.text.decode().splitlines()
    bp7 = next(i for i, line in enumerate(lines) if line.startswith("BP7|"))
    lines.insert(bp7 + 1, lines[bp7])  # the same unit and period twice
    lines[-1] = f"ZZZ|{len(lines)}|0|"
    write(env, ("\n".join(lines) + "\n").encode(), generated.file_name)
    result = run(env, RAW_KEYS, key=f"{day}|SF")
    assert not result.success
    found = evaluations(result)
    duplicate = found[("bm_unit_period", "no_duplicate_unit_periods", f"{day}|SF")]
    assert not duplicate.passed and duplicate.metadata["duplicated_pairs"].value == 1


def test_a_more_mature_run_replaces_an_earlier_one_in_canonical(env, market):
    day = dt.date(2024, 6, 7)
    warehouse = env["warehouse"]
    generate_file(market, day, "II").write(env["folder"])
    assert run(env, RAW_KEYS, key=f"{day}|II").success
    assert run(env, DERIVED, key=str(day)).success
    assert warehouse.query("SELECT DISTINCT run_type FROM p114.settlement_canonical").to_pylist() == [{"run_type": "II"}]

    generate_file(market, day, "SF").write(env["folder"])
    assert run(env, RAW_KEYS, key=f"{day}|SF").success
    result = run(env, DERIVED, key=str(day))
    assert result.success and all(e.passed for e in result.get_asset_check_evaluations())
    canonical = pl.from_arrow(warehouse.query("SELECT * FROM p114.settlement_canonical"))
    sf = pl.from_arrow(warehouse.read_partition("bm_unit_period", day, "SF"))
    assert set(canonical["run_type"]) == {"SF"} and canonical.height == sf.height == 25 * 48
    key = ["bm_unit_id", "settlement_period"]
    assert canonical.select(*key, "metered_volume_mwh").sort(key).equals(sf.select(*key, "metered_volume_mwh").sort(key))

    # Reconciliation II -> SF, checked by hand for one unit and period against the raw runs.
    ii = pl.from_arrow(warehouse.read_partition("bm_unit_period", day, "II"))
    recon = pl.from_arrow(warehouse.query("SELECT * FROM p114.run_reconciliation"))
    assert set(zip(recon["from_run_type"], recon["to_run_type"])) == {("II", "SF")} and set(recon["presence"]) == {"both"}
    moved = recon.filter(pl.col("metered_volume_delta_mwh") != 0).row(0, named=True)
    before = ii.filter((pl.col("bm_unit_id") == moved["bm_unit_id"]) & (pl.col("settlement_period") == moved["settlement_period"]))
    after = sf.filter((pl.col("bm_unit_id") == moved["bm_unit_id"]) & (pl.col("settlement_period") == moved["settlement_period"]))
    expected = after["metered_volume_mwh"][0] - before["metered_volume_mwh"][0]
    assert moved["metered_volume_delta_mwh"] == pytest.approx(expected, abs=1e-9) and expected != 0
    assert recon["bm_cashflow_delta_gbp"].abs().sum() == 0  # acceptances do not change between runs


def test_a_month_of_canonical_in_one_range_run(env, market):
    warehouse = env["warehouse"]
    days = [dt.date(2024, 7, 1) + dt.timedelta(days=i) for i in range(31)]
    for day in days:  # load raw partitions directly: this test is about the range run of canonical
        for run_type in ("II", "SF") if day.day % 10 == 0 else ("II",):
            generated = generate_file(market, day, run_type)
            warehouse.replace_partition(parse_bytes(generated.text, generated.file_name.name).tables, day, run_type)
    result = run(env, DERIVED, tags={"dagster/asset_partition_range_start": "2024-07-01",
                                     "dagster/asset_partition_range_end": "2024-07-31"})  # fmt: skip
    assert result.success
    rows = warehouse.query("SELECT settlement_date, run_type, COUNT(*) AS n FROM p114.settlement_canonical "
                           "GROUP BY settlement_date, run_type ORDER BY settlement_date").to_pylist()  # fmt: skip
    assert [r["settlement_date"] for r in rows] == days
    assert {r["run_type"] for r in rows if r["settlement_date"].day % 10 == 0} == {"SF"}
    assert all(r["n"] == 25 * 48 for r in rows)
    per_partition = [e for e in result.get_asset_check_evaluations() if e.check_name == "one_run_per_date" and e.partition]
    assert sorted(e.partition for e in per_partition) == [d.isoformat() for d in days] and all(e.passed for e in per_partition)
    recon_dates = warehouse.query("SELECT DISTINCT settlement_date FROM p114.run_reconciliation ORDER BY 1").to_pylist()
    assert [r["settlement_date"].day for r in recon_dates] == [10, 20, 30]


def test_a_vlp_unit_that_disappears_is_a_warning_not_a_failure(env, market):
    warehouse = env["warehouse"]
    vlp = market.units.filter(pl.col("prefix") == "V__")["bm_unit_id"][0]
    for offset in range(2):
        day = dt.date(2024, 8, 1) + dt.timedelta(days=offset)
        generated = generate_file(market, day, "SF")
        tables = parse_bytes(generated.text, generated.file_name.name).tables
        if offset == 1:
            bm = pl.from_arrow(tables["bm_unit_period"]).filter(pl.col("bm_unit_id") != vlp)
            tables = {**tables, "bm_unit_period": bm.to_arrow().cast(tables["bm_unit_period"].schema)}
        warehouse.replace_partition(tables, day, "SF")
    result = run(env, DERIVED, tags={"dagster/asset_partition_range_start": "2024-08-01", "dagster/asset_partition_range_end": "2024-08-02"})
    assert result.success
    found = evaluations(result)
    warning = found[("settlement_canonical", "vlp_units_still_present", "2024-08-02")]
    assert not warning.passed and warning.severity == dg.AssetCheckSeverity.WARN and vlp in warning.description
    assert found[("settlement_canonical", "vlp_units_still_present", "2024-08-01")].passed


def test_canonical_is_requested_when_a_run_of_its_date_lands(env, market):
    day = dt.date.today() - dt.timedelta(days=30)  # within the automation's lookback
    generate_file(market, day, "II").write(env["folder"])
    instance = env["instance"]
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert not first.get_requested_partitions(dg.AssetKey("settlement_canonical"))
    assert run(env, RAW_KEYS, key=f"{day}|II").success
    second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert second.get_requested_partitions(dg.AssetKey("settlement_canonical")) == {day.isoformat()}
    assert second.get_requested_partitions(dg.AssetKey("run_reconciliation")) == {day.isoformat()}
    # nothing new has landed: nothing requested again
    third = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=second.cursor)
    assert not third.get_requested_partitions(dg.AssetKey("settlement_canonical"))


def test_a_run_that_lands_while_the_previous_refresh_ends_is_refreshed_too(env, market):
    """SF lands and its refresh is requested; the refresh ends and R1 lands before the next tick,
    so that tick first sees both (the automation's tick comes every 30 s). R1 is the later: it is
    refreshed. A raw run refreshed after it within one tick is not refreshed twice."""
    day = dt.date(2025, 3, 10)
    canonical = dg.AssetKey("settlement_canonical")
    instance = env["instance"]
    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    generate_file(market, day, "SF").write(env["folder"])
    assert run(env, RAW_KEYS, key=f"{day}|SF").success
    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
    assert tick.get_requested_partitions(canonical) == {str(day)}
    assert run(env, DERIVED, key=str(day)).success  # the refresh the tick requested
    generate_file(market, day, "R1").write(env["folder"])
    assert run(env, RAW_KEYS, key=f"{day}|R1").success
    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
    assert tick.get_requested_partitions(canonical) == {str(day)}
    # R1 refreshed, then a second R1 load refreshed by a user before the next tick: nothing to do
    assert run(env, DERIVED, key=str(day)).success
    assert run(env, RAW_KEYS, key=f"{day}|R1").success
    assert run(env, DERIVED, key=str(day)).success
    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
    assert not tick.get_requested_partitions(canonical)


def test_canonical_is_not_requested_from_a_partition_that_failed_a_blocking_check(env, market, monkeypatch):
    day = dt.date.today() - dt.timedelta(days=31)
    monkeypatch.setattr(generator, "periods_in_day", lambda _: 47)
    generated = generate_file(market, day, "II")
    monkeypatch.undo()
    write(env, generated.text, generated.file_name)
    first = dg.evaluate_automation_conditions(defs=defs, instance=env["instance"])
    assert not run(env, RAW_KEYS, key=f"{day}|II").success
    second = dg.evaluate_automation_conditions(defs=defs, instance=env["instance"], cursor=first.cursor)
    assert not second.get_requested_partitions(dg.AssetKey("settlement_canonical"))


def test_a_failed_check_is_alerted_once_and_only_once(env, market, monkeypatch, httpserver):
    day = dt.date(2024, 6, 5)
    monkeypatch.setattr(generator, "periods_in_day", lambda _: 47)
    generated = generate_file(market, day, "II")
    monkeypatch.undo()
    write(env, generated.text, generated.file_name)
    run(env, RAW_KEYS, key=f"{day}|II")
    httpserver.expect_request("/alerts", method="POST").respond_with_data("ok")
    monkeypatch.setenv("P114_ALERT_WEBHOOK_URL", httpserver.url_for("/alerts"))
    monkeypatch.setenv("P114_ALERT_LOOKBACK_DAYS", str((dt.date.today() - day).days + 1))
    monkeypatch.setattr(sensors, "incomplete", lambda grid: [])  # this test is about check failures
    context = dg.build_sensor_context(instance=env["instance"])
    first = sensors.p114_alerts(context)
    posted = [json.loads(request.data) for request, _ in httpserver.log]
    failed_checks = {(p["asset"], p["check"]) for p in posted}
    assert ("bm_unit_period", "periods_per_day") in failed_checks and ("system_period", "periods_per_day") in failed_checks
    assert all(p["partition"] == f"{day}|II" for p in posted)
    assert "alert(s) sent" in first.skip_message
    second = sensors.p114_alerts(dg.build_sensor_context(instance=env["instance"], cursor=context.cursor))
    assert len(httpserver.log) == len(posted)  # nothing sent twice
    assert second.skip_message == "no new failed checks or incomplete days"


def test_incomplete_days_are_alerted_once_from_the_first_date_held(env, market, monkeypatch):
    day = dt.date(2024, 6, 3)  # II due 10 June, SF 25 June (nominal); +2 working days grace
    generate_file(market, day, "II").write(env["folder"])
    assert run(env, RAW_KEYS, key=f"{day}|II").success
    today = dt.date(2024, 7, 1)
    alerts, state = sensors.collect_alerts(env["instance"], {}, today)
    incomplete = [a for a in alerts if a.kind == "incomplete_day"]
    # From 3 June (the first date held) to 30 June: II (5 working days + 2 of grace) of 4 to 20 June
    # is due and missing, SF (16 + 2) of 3 to 5 June; R1 is not yet due. One alert per stretch.
    assert {a.partition for a in incomplete} == {"2024-06-04..2024-06-20|II", "2024-06-03..2024-06-05|SF"}
    assert all(a.severity == "ERROR" for a in incomplete)
    assert "17 dates 2024-06-04..2024-06-20" in next(a.reason for a in incomplete if a.partition.endswith("|II"))
    again, state = sensors.collect_alerts(env["instance"], state, today)
    assert not [a for a in again if a.kind == "incomplete_day"]
    # the next day, only what became due since
    later, _ = sensors.collect_alerts(env["instance"], state, dt.date(2024, 7, 2))
    assert sorted(a.partition for a in later if a.kind == "incomplete_day") == ["2024-06-06|SF", "2024-06-21..2024-06-23|II"]  # a weekend falls due with its Friday


def test_incomplete_days_start_at_p114_alert_start_and_never_before_anything_is_held(env, monkeypatch):
    today = dt.date(2024, 7, 1)
    alerts, _ = sensors.collect_alerts(env["instance"], {}, today)
    assert alerts == []  # an empty warehouse expects nothing (no alerts for the days before today)
    monkeypatch.setenv("P114_ALERT_START", "2024-06-20")
    alerts, _ = sensors.collect_alerts(env["instance"], {}, today)
    assert {a.partition for a in alerts} == {"2024-06-20|II"}


def test_status_shows_loaded_missing_failed_and_not_due(env, market, monkeypatch, tmp_path):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    good, bad = dt.date(2024, 6, 10), dt.date(2024, 6, 11)
    generate_file(market, good, "II").write(env["folder"])
    monkeypatch.setattr(generator, "periods_in_day", lambda _: 47)
    generated = generate_file(market, bad, "II")
    monkeypatch.undo()
    write(env, generated.text, generated.file_name)
    materialize_folder(env["folder"], env["warehouse"])
    result = CliRunner().invoke(main, ["status", "--start", "2024-06-10", "--end", "2024-06-11", "--warehouse",
                                       env["warehouse"].path, "--as-of", "2024-07-10"])  # fmt: skip
    assert result.exit_code == 0, result.output
    cells = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
             for line in result.stdout.splitlines() if line.startswith("│ 2024-06-1")}  # fmt: skip
    # SF of 10 June is nominally due on 2 July, R1 in August: as of 10 July, SF is missing and R1 not due
    assert cells["2024-06-10"][:3] == ["ok", "miss", "-"]
    assert cells["2024-06-11"][:3] == ["FAIL", "miss", "-"]
