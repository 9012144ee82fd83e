"""The marts domain: VLP revenue and positions, the self-balancing classification, the marts that
put market data beside the settlement truth (revenue comparison, revenue per MW, self-balancing
old and new), their checks."""

import dagster as dg

from p114_assets.defs.marts.assets import ASSETS
from p114_assets.defs.marts.checks import CHECKS
from p114_assets.defs.marts.comparison import COMPARISON_ASSETS
from p114_assets.defs.marts.comparison_checks import COMPARISON_CHECKS

defs = dg.Definitions(assets=[*ASSETS, *COMPARISON_ASSETS], asset_checks=[*CHECKS, *COMPARISON_CHECKS])
