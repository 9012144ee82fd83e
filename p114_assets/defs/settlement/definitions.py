"""The settlement domain: S0142 files, raw tables, canonical settlement and run reconciliation,
their checks, the Portal sensor, and the job that stores months of bm_unit_period by BM unit."""

import dagster as dg

from p114_assets.defs.settlement.assets import ASSETS
from p114_assets.defs.settlement.checks import CHECKS
from p114_assets.defs.settlement.clustering import cluster_loaded_months, cluster_months
from p114_assets.defs.settlement.sensors import p114_portal

defs = dg.Definitions(assets=ASSETS, asset_checks=CHECKS, sensors=[p114_portal, cluster_loaded_months], jobs=[cluster_months])
