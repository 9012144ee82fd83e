"""The p114 code location: each domain's definitions (defs/<domain>/definitions.py: settlement,
marts, market, alerts), merged, with
the automation sensor and the resources defined once, here (resources picked by environment: see
defs/resources.py)."""

from __future__ import annotations

import dagster as dg

from p114_assets.defs.alerts import definitions as alerts
from p114_assets.defs.market import definitions as market
from p114_assets.defs.marts import definitions as marts
from p114_assets.defs.resources import resources_from_env
from p114_assets.defs.settlement import definitions as settlement

# Declarative automation (derived tables re-materialize when a run of their date lands) needs the
# automation sensor running; it is on by default here.
automation = dg.AutomationConditionSensorDefinition(
    "p114_automation", target=dg.AssetSelection.all(), default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)  # fmt: skip

# Domain modules, not their Definitions objects, are imported: Dagster loads the one Definitions
# object found at this module's top level.
defs = dg.Definitions.merge(
    settlement.defs, marts.defs, market.defs, alerts.defs,
    dg.Definitions(sensors=[automation], resources=resources_from_env()),
)

ASSETS = list(defs.assets)
ASSET_CHECKS = list(defs.asset_checks)
