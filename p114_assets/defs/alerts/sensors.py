"""The alert sensor: failed checks and incomplete settlement days become alerts."""

import datetime as dt
import json

import dagster as dg

from p114_assets import config
from p114_assets.core.alerts import Alert, deliver
from p114_assets.core.coverage import coverage_grid, dates_between, incomplete
from p114_assets.defs.alerts.check_history import new_check_failures
from p114_assets.defs.market.checks import MARKET_CHECKS
from p114_assets.defs.marts.checks import CHECKS as MART_CHECKS
from p114_assets.defs.marts.comparison_checks import COMPARISON_CHECKS
from p114_assets.defs.partitions import partition_key, split_partition_key
from p114_assets.defs.settlement.checks import CHECKS as SETTLEMENT_CHECKS

CHECK_KEYS = sorted({key for checks in [*SETTLEMENT_CHECKS, *MART_CHECKS, *COMPARISON_CHECKS, *MARKET_CHECKS]
                     for key in checks.check_keys},
                    key=lambda k: k.to_user_string())  # fmt: skip


def collect_alerts(instance: dg.DagsterInstance, state: dict, today: dt.date) -> tuple[list[Alert], dict]:
    """New alerts since `state` (the sensor's cursor), and the state to keep."""
    lookback = config.alert_lookback_days()
    since = dt.datetime.combine(today - dt.timedelta(days=lookback), dt.time(), tzinfo=dt.timezone.utc)
    alerts, marks = new_check_failures(instance, CHECK_KEYS, state.get("checks", {}), since)

    # Incomplete days: runs due (nominal calendar plus a grace) in the lookback and not loaded.
    loaded = {split_partition_key(k) for k in instance.get_materialized_partitions(dg.AssetKey("bm_unit_period"))}
    first = today - dt.timedelta(days=lookback)
    grid = coverage_grid(dates_between(first, today - dt.timedelta(days=1)), loaded, set(), today,
                         grace_working_days=config.alert_grace_working_days(), calendar=config.calendar())  # fmt: skip
    alerted_days = {k for k in state.get("days", []) if k >= first.isoformat()}
    for day, run in incomplete(grid):
        key = str(partition_key(day, run))
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
    problems = deliver(alerts, config.alert_sinks(), context.log)
    context.update_cursor(json.dumps(state))
    if not alerts:
        return dg.SkipReason("no new failed checks or incomplete days")
    return dg.SkipReason(f"{len(alerts)} alert(s) sent" + (f"; {len(problems)} delivery failure(s)" if problems else ""))
