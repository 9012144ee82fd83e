"""The p114 code location: every domain's assets, checks and sensors, with resources picked by
environment (see defs/resources.py)."""

from __future__ import annotations

import dagster as dg

from p114_assets.defs.marts.assets import ASSETS as MART_ASSETS
from p114_assets.defs.marts.checks import CHECKS as MART_CHECKS
from p114_assets.defs.ops.sensors import SENSORS
from p114_assets.defs.resources import resources_from_env
from p114_assets.defs.settlement.assets import ASSETS as SETTLEMENT_ASSETS
from p114_assets.defs.settlement.checks import CHECKS as SETTLEMENT_CHECKS

ASSETS = [*SETTLEMENT_ASSETS, *MART_ASSETS]
ASSET_CHECKS = [*SETTLEMENT_CHECKS, *MART_CHECKS]

# Declarative automation (derived tables re-materialize when a run of their date lands) needs the
# automation sensor running; it is on by default here.
automation = dg.AutomationConditionSensorDefinition(
    "p114_automation", target=dg.AssetSelection.all(), default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)  # fmt: skip

defs = dg.Definitions(
    assets=ASSETS, asset_checks=ASSET_CHECKS, sensors=[*SENSORS, automation], resources=resources_from_env()
)
