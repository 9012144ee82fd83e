"""The p114 code location: every domain's assets, checks and sensors, with resources picked by
environment (see defs/resources.py)."""

from __future__ import annotations

import dagster as dg

from p114_assets.defs.resources import resources_from_env
from p114_assets.defs.settlement.assets import ASSETS as SETTLEMENT_ASSETS

ASSETS = [*SETTLEMENT_ASSETS]
ASSET_CHECKS: list = []

defs = dg.Definitions(assets=ASSETS, asset_checks=ASSET_CHECKS, resources=resources_from_env())
