"""Sensors: alerts on failed checks and incomplete settlement days."""

import datetime as dt
import json
import os

import dagster as dg

from p114_assets.core.alerts import Alert, deliver, sinks_from_env
from p114_assets.core.portal import PortalError, client_from_env
from p114_assets.core.s0142.layout import FileName
from p114_assets.defs.partitions import partition_key
from p114_assets.defs.settlement.assets import RAW_KEYS, s0142_file
from p114_assets.core.calendar import calendar_from_env
from p114_assets.core.coverage import coverage_grid, dates_between, incomplete
from p114_assets.defs.ops.check_history import new_check_failures
from p114_assets.defs.marts.checks import CHECKS as MART_CHECKS
from p114_assets.defs.settlement.checks import CHECKS as SETTLEMENT_CHECKS

CHECK_KEYS = sorted({key for checks in [*SETTLEMENT_CHECKS, *MART_CHECKS] for key in checks.check_keys},
                    key=lambda k: k.to_user_string())  # fmt: skip


def alert_lookback_days() -> int:
    return int(os.getenv("P114_ALERT_LOOKBACK_DAYS", "60"))


def alert_grace_working_days() -> int:
    return int(os.getenv("P114_ALERT_GRACE_WORKING_DAYS", "2"))


def collect_alerts(instance: dg.DagsterInstance, state: dict, today: dt.date) -> tuple[list[Alert], dict]:
    """New alerts since `state` (the sensor's cursor), and the state to keep."""
    lookback = alert_lookback_days()
    since = dt.datetime.combine(today - dt.timedelta(days=lookback), dt.time(), tzinfo=dt.timezone.utc)
    alerts, marks = new_check_failures(instance, CHECK_KEYS, state.get("checks", {}), since)

    # Incomplete days: runs due (nominal calendar plus a grace) in the lookback and not loaded.
    loaded = {
        (dt.date.fromisoformat(k.split("|")[0]), k.split("|")[1])
        for k in instance.get_materialized_partitions(dg.AssetKey("bm_unit_period"))
    }
    first = today - dt.timedelta(days=lookback)
    grid = coverage_grid(dates_between(first, today - dt.timedelta(days=1)), loaded, set(), today,
                         grace_working_days=alert_grace_working_days(), calendar=calendar_from_env())  # fmt: skip
    alerted_days = {k for k in state.get("days", []) if k >= first.isoformat()}
    for day, run in incomplete(grid):
        key = f"{day.isoformat()}|{run}"
        if key not in alerted_days:
            alerts.append(Alert("incomplete_day", "bm_unit_period", key, None, "ERROR",
                                f"run {run} of {day} is due (nominal calendar) but not loaded"))
            alerted_days.add(key)
    return alerts, {"checks": marks, "days": sorted(alerted_days)}


@dg.sensor(
    name="p114_alerts",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Turns failed asset checks and incomplete settlement days into alerts: a structured log line "
    "always; a Slack / generic webhook POST and email when P114_SLACK_WEBHOOK_URL, P114_ALERT_WEBHOOK_URL or "
    "P114_SMTP_HOST are set. Each failure is alerted once (the cursor remembers what was sent).",
)
def p114_alerts(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    state = json.loads(context.cursor) if context.cursor else {}
    alerts, state = collect_alerts(context.instance, state, dt.date.today())
    problems = deliver(alerts, sinks_from_env(), context.log)
    context.update_cursor(json.dumps(state))
    if not alerts:
        return dg.SkipReason("no new failed checks or incomplete days")
    return dg.SkipReason(f"{len(alerts)} alert(s) sent" + (f"; {len(problems)} delivery failure(s)" if problems else ""))


def portal_lookback_days() -> int:
    return int(os.getenv("P114_PORTAL_LOOKBACK_DAYS", "5"))


def _loaded_file(instance: dg.DagsterInstance, key: str) -> str | None:
    """The file name the latest materialization of an s0142_file partition recorded."""
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=s0142_file.key, asset_partitions=[key]), limit=1).records
    if not records:
        return None
    value = records[0].asset_materialization.metadata.get("file_name")
    return value.value if value is not None else ""


def portal_run_requests(instance: dg.DagsterInstance, listed: dict[str, str], seen: set[str]) -> list[dg.RunRequest]:
    """A run for every listed file not requested before whose partition is not loaded, or was
    loaded from an earlier stamp (a re-publication of the same run)."""
    requests = []
    for name in sorted(listed):
        if name in seen:
            continue
        parts = FileName.parse(name)
        key = partition_key(parts.settlement_date, parts.run_type)
        loaded = _loaded_file(instance, str(key))
        loaded_parts = FileName.parse(loaded) if loaded else None
        if loaded_parts is not None and loaded_parts.stamp >= parts.stamp:
            continue
        requests.append(dg.RunRequest(run_key=name, partition_key=key, tags={"p114/portal_file": name}))
    return requests


@dg.sensor(
    name="p114_portal",
    target=dg.AssetSelection.assets(*RAW_KEYS),
    minimum_interval_seconds=int(os.getenv("P114_PORTAL_POLL_SECONDS", "900")),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Polls the Elexon Portal list for the last few publication dates (P114_PORTAL_LOOKBACK_DAYS, "
    "default 5) and requests runs for the (date, run type) partitions that appeared and are not loaded, or were "
    "re-published with a later stamp. Each file is requested once. Does nothing, and says so, without "
    "ELEXON_PORTAL_KEY.",
)
def p114_portal(context: dg.SensorEvaluationContext):
    if not os.getenv("ELEXON_PORTAL_KEY"):
        message = "ELEXON_PORTAL_KEY is not set: the Portal sensor is idle (set it to pick up new S0142 files)"
        if context.cursor != "idle":
            context.log.info(message)
            context.update_cursor("idle")
        return dg.SkipReason(message)
    state = json.loads(context.cursor) if context.cursor and context.cursor != "idle" else {}
    today = dt.date.today()
    days = [today - dt.timedelta(days=i) for i in range(portal_lookback_days())]
    listed: dict[str, str] = {}
    try:
        with client_from_env() as portal:
            for day in days:
                listed.update(portal.list(day))
    except PortalError as exc:  # never holds the key
        return dg.SkipReason(f"Portal list failed: {exc}")
    seen = set(state.get("requested", []))
    requests = portal_run_requests(context.instance, listed, seen)
    # remember what was listed in the lookback, so a file is considered once
    keep = {n for n in seen | set(listed) if (FileName.parse(n).stamp[:8] >= f"{min(days):%Y%m%d}")}
    context.update_cursor(json.dumps({"requested": sorted(keep)}))
    if not requests:
        return dg.SkipReason(f"{len(listed)} files listed for {min(days)}..{max(days)}; nothing new to load")
    return requests


SENSORS = [p114_alerts, p114_portal]
