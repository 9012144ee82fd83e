"""p114: Elexon P114 S0142 settlement files into a warehouse, orchestrated with Dagster.

Layers, each importing only those below it (p114_assets_tests/test_layout.py holds them to it):
`core` (pure Python: the S0142 format and every settlement rule), `warehouse` (every line of SQL,
both engines), `defs` (the Dagster layer, one folder per domain), `app` (what people run: the CLI,
the in-process runner, the backfill launcher, the HTML report). `config` reads the environment;
`definitions` is the code location.
"""
