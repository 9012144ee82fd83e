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
from p114_assets.defs.settlement.assets import ASSETS as SETTLEMENT_ASSETS
from p114_assets.defs.settlement.checks import CHECKS as SETTLEMENT_CHECKS

# Every check of the code location: those that run inside the asset steps (the file and the raw
# tables) and those with steps of their own.
_CHECKED = [*SETTLEMENT_ASSETS, *SETTLEMENT_CHECKS, *MART_CHECKS, *COMPARISON_CHECKS, *MARKET_CHECKS]
CHECK_KEYS = sorted({key for defs in _CHECKED for key in defs.check_keys}, key=lambda k: k.to_user_string())


def alert_start(loaded: set[tuple[dt.date, str]]) -> dt.date | None:
    """The first settlement date checked for completeness: P114_ALERT_START, else the first date
    the warehouse holds (nothing before what was ever loaded is expected)."""
    return config.alert_start() or min((day for day, _ in loaded), default=None)


def _stretches(days: list[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Consecutive dates as (first, last) stretches."""
    out: list[tuple[dt.date, dt.date]] = []
    for day in sorted(days):
        if out and day - out[-1][1] == dt.timedelta(days=1):
            out[-1] = (out[-1][0], day)
        else:
            out.append((day, day))
    return out


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _alerted_days(state: dict) -> dict[str, set[dt.date]]:
    """The (date, run) already alerted as incomplete, kept in the cursor as stretches per run."""
    found: dict[str, set[dt.date]] = {}
    for run, stretches in (state.get("incomplete") or {}).items():
        for first, last in stretches:
            found.setdefault(run, set()).update(_days(dt.date.fromisoformat(first), dt.date.fromisoformat(last)))
    return found


def incomplete_day_alerts(loaded: set[tuple[dt.date, str]], alerted: dict[str, set[dt.date]], today: dt.date) -> list[Alert]:
    """One alert per run type and stretch of consecutive dates whose run is due (calendar plus a
    grace of working days) and not loaded, from the first date checked to yesterday, leaving out
    what was alerted before (and adding what is alerted now to `alerted`). The first evaluation
    over a long history gives a handful of alerts naming stretches, not one per date."""
    start = alert_start(loaded)
    if start is None or start >= today:
        return []
    grace = config.alert_grace_working_days()
    grid = coverage_grid(dates_between(start, today - dt.timedelta(days=1)), loaded, set(), today,
                         grace_working_days=grace, calendar=config.calendar())  # fmt: skip
    new: dict[str, list[dt.date]] = {}
    for day, run in incomplete(grid):
        if day not in alerted.get(run, set()):
            new.setdefault(run, []).append(day)
    alerts = []
    for run, days in new.items():
        alerted.setdefault(run, set()).update(days)
        for first, last in _stretches(days):
            if first == last:
                partition, what = str(partition_key(first, run)), f"{first}"
            else:
                partition, what = f"{first}..{last}|{run}", f"{(last - first).days + 1} dates {first}..{last}"
            alerts.append(Alert("incomplete_day", "bm_unit_period", partition, None, "ERROR",
                                f"run {run} of {what} is due (settlement calendar, {grace} working days' grace) but not loaded"))  # fmt: skip
    return alerts


def collect_alerts(instance: dg.DagsterInstance, state: dict, today: dt.date) -> tuple[list[Alert], dict]:
    """New alerts since `state` (the sensor's cursor), and the state to keep."""
    since = dt.datetime.combine(today - dt.timedelta(days=config.alert_lookback_days()), dt.time(), tzinfo=dt.timezone.utc)
    alerts, marks = new_check_failures(instance, CHECK_KEYS, state.get("checks", {}), since)
    loaded = {split_partition_key(k) for k in instance.get_materialized_partitions(dg.AssetKey("bm_unit_period"))}
    alerted = _alerted_days(state)
    alerts += incomplete_day_alerts(loaded, alerted, today)
    kept = {run: [[str(a), str(b)] for a, b in _stretches(list(days))] for run, days in sorted(alerted.items())}
    return alerts, {"checks": marks, "incomplete": kept}


@dg.sensor(
    name="p114_alerts",
    minimum_interval_seconds=config.alert_interval_seconds(),
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
