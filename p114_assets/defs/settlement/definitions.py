"""The settlement domain: S0142 files, raw tables, canonical settlement and run reconciliation,
their checks, and the Portal sensor."""

import dagster as dg

from p114_assets.defs.settlement.assets import ASSETS
from p114_assets.defs.settlement.checks import CHECKS
from p114_assets.defs.settlement.sensors import p114_portal

defs = dg.Definitions(assets=ASSETS, asset_checks=CHECKS, sensors=[p114_portal])
