"""What people run: the `p114` CLI (cli/, a module per command group), the in-process runner, the
GraphQL backfill launcher and the HTML report.

May import everything below it; nothing imports app (defs, warehouse and core must not).
"""
