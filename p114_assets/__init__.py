"""p114: Elexon P114 S0142 settlement files into a warehouse, orchestrated with Dagster.

Layers, each importing only those below it (p114_assets_tests/test_layout.py holds them to it):
`core` (pure Python: the S0142 format and every settlement rule), `warehouse` (every line of SQL,
both engines), `defs` (the Dagster layer, one folder per domain), `app` (what people run: the CLI,
the in-process runner, the backfill launcher, the HTML report, the Python API). `config` reads the
environment; `definitions` is the code location.

For notebooks, `p114_assets.read(table, start=..., end=..., run_type=..., units=...)` and
`p114_assets.Warehouse` (app/api.py) return DataFrames; they are imported on first use, so
importing a layer never pulls in the app.
"""

__all__ = ["Warehouse", "read"]


def __getattr__(name: str):
    if name in __all__:
        from p114_assets.app import api

        return getattr(api, name)
    raise AttributeError(f"module 'p114_assets' has no attribute {name!r}")
