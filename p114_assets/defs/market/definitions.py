"""The market domain: Insights datasets and the BM unit reference, their checks and sensor."""

import dagster as dg

from p114_assets.defs.market.assets import MARKET_ASSETS
from p114_assets.defs.market.checks import MARKET_CHECKS
from p114_assets.defs.market.sensors import p114_market

defs = dg.Definitions(assets=MARKET_ASSETS, asset_checks=MARKET_CHECKS, sensors=[p114_market])
