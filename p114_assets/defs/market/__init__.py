"""Market data from the Elexon Insights API as daily assets (group `market`): the BM unit reference
list with its history, MID, DISBSAD, BOD, BOALF, PN, EBOCF and DISEBSP, each in its own warehouse
table, with checks and the sensor that loads yesterday's data. Owns no rule (core/insights.py,
core/market_data.py) and no SQL (warehouse/market_sql.py, market_queries.py); imports nothing from the app wing."""
