"""The Dagster layer, thin: partitions (the only place keys are built or split), resources picked by
one environment switch, the shape of table assets, and one folder per domain (settlement/, marts/,
alerts/), each with its definitions.py, merged in p114_assets/definitions.py.

May import core, warehouse and config; must not import app. Rules and SQL are not written here.
"""
