"""The S0142 settlement report: record layouts (layout.py), the raw tables built from them
(tables.py), file names and finding files (files.py), the parser, and the field profile of a file
with its layout report (profile.py, facts.py).

Part of core: must not import dagster, warehouse, defs, app or config.
"""
