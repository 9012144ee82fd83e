"""The run coordinator p114's instance settings name (dagster_home/dagster.yaml): Dagster's queued
run coordinator, plus one setting Dagster 1.13 does not expose, how often the backfill daemon
looks at backfills.

An asset backfill advances in stages: the raw partitions, then the daily tables of their dates,
then the classification windows. The backfill daemon requests each stage at its next iteration
after the previous stage ended, and Dagster fixes that loop at 30 s
(`dagster._daemon.controller.DEFAULT_DAEMON_INTERVAL_SECONDS`, read when the loop starts; making
it configurable was proposed in dagster-io/dagster#11860 and not merged). A 30-date backfill spent
more time waiting for iterations than loading. The daemon builds this coordinator from the
instance settings before it starts its loops, so setting the interval here reaches the backfill
loop of `dagster-daemon run` and of `dagster dev` alike; the webserver, which builds it too, has no
such loop. `p114_assets_tests/app/test_instance.py` fails if a Dagster upgrade moves the constant.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._daemon import controller

DEFAULT_BACKFILL_INTERVAL_SECONDS = 5


class P114RunCoordinator(QueuedRunCoordinator):
    """QueuedRunCoordinator with `backfill_interval_seconds`: seconds between the backfill
    daemon's iterations (Dagster's default 30). Each iteration of an active backfill costs the
    daemon some CPU (it evaluates the backfill's asset graph), so not much less than 5 s."""

    def __init__(self, backfill_interval_seconds: int = DEFAULT_BACKFILL_INTERVAL_SECONDS, **kwargs: Any):
        super().__init__(**kwargs)
        self.set_backfill_interval(backfill_interval_seconds)

    def set_backfill_interval(self, seconds: int) -> None:
        if seconds < 1:
            raise dg.DagsterInvalidConfigError(f"backfill_interval_seconds={seconds}: expected at least 1", [], None)
        self.backfill_interval_seconds = seconds
        controller.DEFAULT_DAEMON_INTERVAL_SECONDS = seconds

    @classmethod
    def config_type(cls) -> dict:
        return {
            **super().config_type(),
            "backfill_interval_seconds": dg.Field(
                int, is_required=False, default_value=DEFAULT_BACKFILL_INTERVAL_SECONDS,
                description="Seconds between the backfill daemon's iterations (Dagster's default: 30).",
            ),
        }  # fmt: skip

    @classmethod
    def from_config_value(cls, inst_data, config_value: Mapping[str, Any]) -> P114RunCoordinator:
        coordinator = super().from_config_value(inst_data, config_value)  # Dagster's settings
        coordinator.set_backfill_interval(config_value.get("backfill_interval_seconds", DEFAULT_BACKFILL_INTERVAL_SECONDS))
        return coordinator
