"""The pure core: the S0142 format (s0142/), synthetic S0142 files (synthetic/), settlement rules, the settlement calendar, data-quality
rules, the Portal client, alerts, plots. Every rule is written here once.

Must not import: dagster, the warehouse package or any warehouse engine (duckdb, BigQuery, sqlglot),
defs, app, or config (values come in as arguments). Holds no SQL.
"""
