"""Reading asset check results back from the Dagster instance (for alerts and coverage status)."""

import datetime as dt
from collections.abc import Iterable

import dagster as dg
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from p114_assets.core.alerts import Alert

HISTORY_LIMIT = 5000  # evaluations read per check and call; older ones are not revisited


def _evaluation(record) -> dg.AssetCheckEvaluation | None:
    event = record.event.dagster_event if record.event else None
    data = event.event_specific_data if event else None
    return data if isinstance(data, dg.AssetCheckEvaluation) else None


def new_check_failures(
    instance: dg.DagsterInstance, check_keys: Iterable[dg.AssetCheckKey], seen: dict[str, int], since: dt.datetime
) -> tuple[list[Alert], dict[str, int]]:
    """Failed evaluations recorded after the last one seen for each check (and after `since`),
    as alerts, with the advanced high-water marks. Every p114 check is partitioned, so an evaluation
    without a partition is a multi-partition run's overall result: skipped, as each of its
    partitions has its own evaluation."""
    alerts, marks = [], dict(seen)
    for key in check_keys:
        name = key.to_user_string()
        records = instance.event_log_storage.get_asset_check_execution_history(
            key, limit=HISTORY_LIMIT, status={AssetCheckExecutionRecordStatus.FAILED})
        fresh = [r for r in records if r.id > seen.get(name, 0) and r.create_timestamp >= since.timestamp()]
        for record in sorted(fresh, key=lambda r: r.id):
            evaluation = _evaluation(record)
            if evaluation is None or record.partition is None:
                continue
            alerts.append(Alert("check_failed", key.asset_key.to_user_string(), record.partition, key.name,
                                evaluation.severity.value, evaluation.description or "failed"))
        if records:
            marks[name] = max(seen.get(name, 0), max(r.id for r in records))
    return alerts, marks


def failed_partitions(instance: dg.DagsterInstance, check_keys: Iterable[dg.AssetCheckKey], severity: str = "ERROR") -> set[str]:
    """Partitions whose latest evaluation of any of these checks failed with this severity."""
    failed: set[str] = set()
    for key in check_keys:
        latest: dict[str, object] = {}
        for record in instance.event_log_storage.get_asset_check_execution_history(key, limit=HISTORY_LIMIT):
            if record.partition is not None and record.partition not in latest:
                latest[record.partition] = record  # newest first
        for partition, record in latest.items():
            evaluation = _evaluation(record)
            if (record.status == AssetCheckExecutionRecordStatus.FAILED and evaluation is not None
                    and evaluation.severity.value == severity):  # fmt: skip
                failed.add(partition)
    return failed
