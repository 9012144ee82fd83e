"""The S0142 settlement report: record layouts (layout.py), the raw tables built from them
(tables.py), file names and finding files (files.py), the parser, and the synthetic generator.

Part of core: must not import dagster, warehouse, defs, app or config.
"""
