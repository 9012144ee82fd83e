"""Declarative automation: a date's derived tables are refreshed when a run of that date lands.

The condition remembers a landing until the date is refreshed (`since`): a run's raw tables are
materialized some time before the run ends, and the automation sensor may tick in between, when
the run is still in progress and nothing may be requested yet. A condition evaluated tick by tick
would see the landing only at that tick and forget it at the next; this one requests the refresh
at the first tick after the run ends, however long its checks take.

Nothing is refreshed while a run of the date is still loading (or in a backfill that will load
it) or a blocking check of it is still running, while the date is already being refreshed, or while a run of the date has failed a blocking
check (its latest evaluation): the refresh waits for a corrected file. There is no lookback
window: a DF run can land years after its date, and a backfill of 2022 needs its derived tables
like any other. A backfill that includes the derived assets refreshes the dates itself, which
also resets the condition, so nothing is built twice.
"""

from __future__ import annotations

import dagster as dg

from p114_assets import config

AC = dg.AutomationCondition

# A run of the date and the refresh of the date's previous run can both be first seen at one tick
# (an R1 file loaded while the SF refresh was finishing). `since` then keeps whichever came later,
# by materialization time, but only when trigger and reset each carry their timestamps: Dagster's
# `any_deps_updated().since_last_handled()` ORs conditions together, which drops them, and the
# landing was forgotten. So each side here is a single timed condition: the update of a
# dependency, remembered since this asset was last updated, and since it was last requested.
dep_updated = AC.any_deps_match(AC.newly_updated())
landed = (
    dep_updated.since(AC.newly_updated()) & dep_updated.since(AC.newly_requested())
    # a dependency refreshed at this very tick (the canonical settlement its marts read)
    | AC.any_deps_match(AC.will_be_requested())
).with_label("a run of this date landed since the date was last refreshed")
loading = (AC.any_deps_in_progress() | AC.any_deps_match(AC.any_checks_match(AC.run_in_progress(), blocking_only=True))).with_label(
    "a run of this date is loading or being checked"
)
refreshing = AC.in_progress().with_label("this date is being refreshed")
failed_check = AC.any_deps_match(AC.any_checks_match(AC.check_failed(), blocking_only=True)).with_label(
    "a run of this date failed a blocking check"
)
derived_automation = (landed & ~loading & ~refreshing & ~failed_check).with_label("refresh when a run of the date lands")

# A rolling window (the classification) reads the canonical settlement of 30 dates. A window
# already built is refreshed whenever a date of it lands later (a date still loading when the
# window was built, a later run of one of its dates), whether or not its window is complete: it
# was built from what was there then, and this condition remembers that it is out of date until it
# is rebuilt. A window never built is built on its own only once every date of it has canonical
# settlement: one landing then refreshes the 30 windows that hold it, in one backfill; the first
# windows of a sparse history are built by backfills and `p114 materialize`, not for every landing
# around them.
window_complete = ~AC.any_deps_missing().with_label("a date of the window has no canonical settlement")
window_built = (~AC.missing()).with_label("this window was built before: a date of it landed after")
# A date of the window whose canonical settlement is requested at this tick would be refreshed by
# another run (another partition key): wait for it rather than build from the old rows and again.
window_refreshing = AC.any_deps_match(AC.will_be_requested()).with_label("a date of the window is requested at this tick")
window_automation = (derived_automation & (window_complete | window_built) & ~window_refreshing).with_label(
    "refresh when a run of a date of the window lands"
)


def automation_sensor() -> dg.AutomationConditionSensorDefinition:
    """The sensor that evaluates the conditions (on by default), every 30 s unless
    P114_AUTOMATION_INTERVAL_SECONDS says otherwise."""
    return dg.AutomationConditionSensorDefinition(
        "p114_automation", target=dg.AssetSelection.all(), default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=config.automation_interval_seconds(),
    )  # fmt: skip
