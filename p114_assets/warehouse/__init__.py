"""The warehouse: the Warehouse interface, the DuckDB and BigQuery engines, one schema per table,
the derived tables' SQL (sql.py) and every read-side query (queries.py). Every line of SQL in p114
lives here.

May import core and dagster (resources); must not import defs or app.
"""
