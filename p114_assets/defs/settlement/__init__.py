"""Settlement domain: the S0142 file, the raw tables, canonical settlement and run reconciliation,
their checks, the file sources and landing zone, and the Portal sensor.

Part of defs: must not import app.
"""
