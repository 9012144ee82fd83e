"""The marts domain: VLP revenue and positions, the self-balancing classification, their checks."""

import dagster as dg

from p114_assets.defs.marts.assets import ASSETS
from p114_assets.defs.marts.checks import CHECKS

defs = dg.Definitions(assets=ASSETS, asset_checks=CHECKS)
