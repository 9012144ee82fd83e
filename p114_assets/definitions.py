"""The p114 code location: each domain's definitions (defs/<domain>/definitions.py: settlement,
marts, market, alerts), merged, with the automation sensor, the executor and the resources defined
once, here (resources picked by environment: see defs/resources.py)."""

from __future__ import annotations

import dagster as dg

from p114_assets.defs.alerts import definitions as alerts
from p114_assets.defs.automation import automation_sensor
from p114_assets.defs.executor import executor
from p114_assets.defs.market import definitions as market
from p114_assets.defs.marts import definitions as marts
from p114_assets.defs.resources import resources_from_env
from p114_assets.defs.settlement import definitions as settlement

# Domain modules, not their Definitions objects, are imported: Dagster loads the one Definitions
# object found at this module's top level.
# Every run executes its steps one after another in the run's own process (defs/executor.py); the
# `warehouse` pool serializes the writers of different runs.
defs = dg.Definitions.merge(
    settlement.defs, marts.defs, market.defs, alerts.defs,
    dg.Definitions(sensors=[automation_sensor()], resources=resources_from_env(), executor=executor),
)

ASSETS = list(defs.assets)
ASSET_CHECKS = list(defs.asset_checks)
