"""The Portal as the source of the file asset, and the new-publication sensor, against a fake
Portal on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import dagster as dg
import pytest

from p114_assets.core.synthetic import SyntheticMarket, generate_file
from p114_assets.definitions import ASSET_CHECKS, ASSETS
from p114_assets.defs.settlement import sensors
from p114_assets.defs.settlement.resources import PortalSource
from p114_assets.app.runner import RAW_KEYS
from p114_assets_tests.conftest import PORTAL_KEY, FakePortal, local_resources

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@pytest.fixture
def fake(httpserver):
    return FakePortal(httpserver)


@pytest.fixture
def market():
    return SyntheticMarket.build(15, seed=4)


def restamp(generated, stamp: str):
    """The same file published again under another stamp: in its name and in its AAA header."""
    old = generated.file_name.stamp
    generated.text = generated.text.replace(f"|{old}|".encode(), f"|{stamp}|".encode(), 1)
    generated.file_name = dataclasses.replace(generated.file_name, stamp=stamp)
    return generated


def materialize(tmp_path, fake, key, instance, portal_key=PORTAL_KEY):
    resources = {**local_resources(tmp_path / "unused", tmp_path / "p114.duckdb", landing=tmp_path / "landing"),
                 "source": PortalSource(key=portal_key, base_url=fake.url, max_tries=2)}  # fmt: skip
    return dg.materialize([*ASSETS, *ASSET_CHECKS], selection=RAW_KEYS, partition_key=key, resources=resources, instance=instance,
                          run_config=QUIET, raise_on_error=False)  # fmt: skip


def test_the_file_asset_fetches_the_latest_publication_from_the_portal(tmp_path, fake, market):
    day = dt.date(2024, 6, 3)
    first = fake.publish(generate_file(market, day, "SF"))
    republished = generate_file(market, day, "SF")
    later = fake.publish(restamp(republished, republished.file_name.stamp[:8] + "235959"))  # the same run published again the same day: the later stamp wins
    with dg.instance_for_test() as instance:
        result = materialize(tmp_path, fake, f"{day}|SF", instance)
        assert result.success
        event = next(e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey("s0142_file"))
        assert event.materialization.metadata["file_name"].value == later != first
        assert (tmp_path / "landing" / later).exists() and not list((tmp_path / "landing" / ".staging").iterdir())
        # nothing the run recorded holds the key
        records = instance.get_records_for_run(result.run_id).records
        assert records and all(PORTAL_KEY not in json.dumps(r.event_log_entry.to_json()) for r in records)


def test_a_refused_key_fails_the_partition_without_showing_the_key(tmp_path, fake, market):
    day = dt.date(2024, 6, 3)
    fake.publish(generate_file(market, day, "SF"))
    with dg.instance_for_test() as instance:
        result = materialize(tmp_path, fake, f"{day}|SF", instance, portal_key="Wr0ng-key-12345")
        assert not result.success
        failure = result.get_step_failure_events()[0].step_failure_data.error
        while failure.cause:
            failure = failure.cause
        assert "the Portal refused the scripting key (HTTP 403)" in failure.message
        records = instance.get_records_for_run(result.run_id).records
        assert all("Wr0ng-key-12345" not in json.dumps(r.event_log_entry.to_json()) for r in records)


def test_the_sensor_requests_what_appeared_and_is_not_loaded(tmp_path, fake, market, monkeypatch):
    today = dt.date.today()
    settled = [today - dt.timedelta(days=30), today - dt.timedelta(days=31)]
    names = []
    for day in settled:
        names.append(fake.publish(restamp(generate_file(market, day, "II"), f"{today - dt.timedelta(days=1):%Y%m%d}101010")))
    monkeypatch.setenv("ELEXON_PORTAL_KEY", PORTAL_KEY)
    monkeypatch.setenv("P114_PORTAL_URL", fake.url)
    with dg.instance_for_test() as instance:
        # one of the two is already loaded (from the same file): only the other is requested
        loaded = dg.AssetMaterialization("s0142_file", partition=f"{settled[0]}|II", metadata={"file_name": names[0]})
        instance.report_runless_asset_event(loaded)
        context = dg.build_sensor_context(instance=instance)
        requests = sensors.p114_portal(context)
        assert [r.partition_key for r in requests] == [f"{settled[1]}|II"] and requests[0].run_key == names[1]
        again = sensors.p114_portal(dg.build_sensor_context(instance=instance, cursor=context.cursor))
        assert isinstance(again, dg.SkipReason) and "nothing new" in again.skip_message

        # a re-publication of a loaded run, with a later stamp, is requested
        newer = fake.publish(restamp(generate_file(market, settled[0], "II"), f"{today:%Y%m%d}101010"))
        third = sensors.p114_portal(dg.build_sensor_context(instance=instance, cursor=context.cursor))
        assert [(r.partition_key, r.run_key) for r in third] == [(f"{settled[0]}|II", newer)]


def test_the_sensor_is_quiet_without_a_key(monkeypatch):
    monkeypatch.delenv("ELEXON_PORTAL_KEY", raising=False)
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance)
        result = sensors.p114_portal(context)
        assert isinstance(result, dg.SkipReason) and "ELEXON_PORTAL_KEY is not set" in result.skip_message
        assert context.cursor == "idle"


def test_the_portal_source_looks_for_df_on_the_calendars_assumed_date_first():
    from p114_assets.core.calendar import assumed_publication_date

    day = dt.date(2022, 3, 1)
    assert PortalSource(key="unused").publication_dates(day, "DF")[0] == assumed_publication_date(day, "DF")
