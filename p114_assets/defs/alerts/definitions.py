"""The alerts domain: the sensor that turns failed checks and incomplete days into alerts."""

import dagster as dg

from p114_assets.defs.alerts.sensors import p114_alerts

defs = dg.Definitions(sensors=[p114_alerts])
