"""Alerts domain: the sensor that turns failed checks and incomplete settlement days into alerts, and
reading check results back from the Dagster instance.

Part of defs: must not import app.
"""
