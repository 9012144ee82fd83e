"""Partitions: settlement dates x run types for files and raw tables; settlement dates downstream.

The only place a partition key is built (`partition_key`) or taken apart (`split_partition_key`,
`partitions_of`, `dates_of`): sensors, checks, the runner and the CLI all go through these.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from p114_assets import config
from p114_assets.core.settlement import LONDON, RUN_TYPES

START_DATE = config.start_date()

settlement_date_partitions = dg.DailyPartitionsDefinition(start_date=START_DATE, timezone=LONDON.key)
run_type_partitions = dg.StaticPartitionsDefinition(list(RUN_TYPES))
# Keys look like "2024-10-01|II" (dimensions in name order: date, then run_type).
settlement_run_partitions = dg.MultiPartitionsDefinition({"date": settlement_date_partitions, "run_type": run_type_partitions})

# A failed run costs one chunk, not a whole backfill; each run process costs ~7 s to start.
BACKFILL_CHUNK = config.backfill_chunk()
backfill_policy = dg.BackfillPolicy.multi_run(max_partitions_per_run=BACKFILL_CHUNK)


# Derived daily assets run a month per run: SQL in the warehouse, cheap per date.
DERIVED_CHUNK = 31
derived_backfill_policy = dg.BackfillPolicy.multi_run(max_partitions_per_run=DERIVED_CHUNK)

def date_mapping() -> dg.MultiToSingleDimensionPartitionMapping:
    """A settlement date depends on every run type of that date."""
    return dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="date")


def partition_key(settlement_date: dt.date, run_type: str) -> dg.MultiPartitionKey:
    """The key of one (settlement date, run type); as a string, "2024-10-01|II"."""
    return dg.MultiPartitionKey({"date": settlement_date.isoformat(), "run_type": run_type})


def split_partition_key(key: str | dg.MultiPartitionKey) -> tuple[dt.date, str]:
    """(settlement date, run type) of a multi-partition key such as "2024-10-01|II"."""
    if not isinstance(key, dg.MultiPartitionKey):
        key = settlement_run_partitions.get_partition_key_from_str(key)
    by_dim = key.keys_by_dimension
    return dt.date.fromisoformat(by_dim["date"]), by_dim["run_type"]


def partitions_of(context: dg.AssetExecutionContext) -> list[tuple[dt.date, str]]:
    """Every (settlement date, run type) a run covers: one for a single partition, several for a
    chunk of a backfill."""
    return sorted(split_partition_key(k) for k in context.partition_keys)


def dates_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> list[dt.date]:
    """Every settlement date a daily run covers, in order."""
    return sorted(dt.date.fromisoformat(k) for k in context.partition_keys)
