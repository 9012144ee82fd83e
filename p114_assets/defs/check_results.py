"""Rules (core/quality.py) as Dagster asset checks: their specs, and their outcomes as asset check
evaluations, one per check and partition, in every shape of run.

Dagster attributes an `AssetCheckResult` to a partition only when the run has a single partition
key; in a range run (every chunk of a backfill, even a chunk of one) the result is stored with no
partition, the partition's planned check stays unresolved and shows "execution failed", and
automation cannot see that the partition's checks passed. So every result here is an
`AssetCheckEvaluation` naming its partition and the materialization it checked (the partition's
latest), yielded by the step: a failed blocking one still fails the step.
"""

from collections.abc import Iterable, Iterator, Mapping

import dagster as dg
import polars as pl
from dagster._core.definitions.asset_checks.asset_check_evaluation import AssetCheckEvaluationTargetMaterializationData

from p114_assets.core.quality import Outcome, Rule

SEVERITY = {"ERROR": dg.AssetCheckSeverity.ERROR, "WARN": dg.AssetCheckSeverity.WARN}
CheckContext = dg.AssetExecutionContext | dg.AssetCheckExecutionContext


def spec(rule: Rule, asset: str, partitions_def: dg.PartitionsDefinition, **kwargs) -> dg.AssetCheckSpec:
    """The Dagster check of a rule: its name, its description prefixed with its severity, blocking
    when the severity is ERROR."""
    return dg.AssetCheckSpec(rule.name, asset=asset, partitions_def=partitions_def, blocking=rule.severity == "ERROR",
                             description=f"[{rule.severity}] {rule.description}", **kwargs)  # fmt: skip


def markdown(df: pl.DataFrame) -> str:
    header = "| " + " | ".join(df.columns) + " |\n|" + "---|" * len(df.columns) + "\n"
    return header + "\n".join("| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in df.iter_rows())


def _metadata(outcome: Outcome) -> dict:
    metadata: dict = dict(outcome.metadata)
    if outcome.failing_rows is not None and outcome.failing_rows.height:
        metadata["first_failing_rows"] = dg.MetadataValue.md(markdown(outcome.failing_rows))
    return metadata


def latest_materializations(
    instance: dg.DagsterInstance, asset: dg.AssetKey, partitions: Iterable[str]
) -> dict[str, AssetCheckEvaluationTargetMaterializationData]:
    """The latest materialization of each partition of `asset` (two queries, whatever the count)."""
    from dagster._core.events import DagsterEventType

    ids = instance.event_log_storage.get_latest_storage_id_by_partition(asset, DagsterEventType.ASSET_MATERIALIZATION, set(partitions))
    if not ids:
        return {}
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=asset, storage_ids=list(ids.values())), limit=len(ids)).records
    return {
        r.partition_key: AssetCheckEvaluationTargetMaterializationData(storage_id=r.storage_id, run_id=r.run_id, timestamp=r.timestamp)
        for r in records
        if r.partition_key is not None
    }


def evaluations(context: CheckContext, asset: str, outcomes_by_partition: Mapping[str, list[Outcome]]) -> Iterator[dg.AssetCheckEvaluation]:
    """One evaluation per selected check and partition, each naming the partition and the
    materialization it checked. Call after the step's materializations are logged."""
    op = context.op_execution_context
    selected = {k.name for k in op.selected_asset_check_keys if k.asset_key == dg.AssetKey(asset)}
    targets = latest_materializations(op.instance, dg.AssetKey(asset), outcomes_by_partition)
    for partition, outcomes in outcomes_by_partition.items():
        for outcome in outcomes:
            if outcome.check not in selected:
                continue
            yield dg.AssetCheckEvaluation(
                asset_key=dg.AssetKey(asset), check_name=outcome.check, passed=outcome.passed, partition=partition,
                severity=SEVERITY[outcome.severity], description=outcome.description, metadata=_metadata(outcome),
                blocking=outcome.severity == "ERROR", target_materialization_data=targets.get(partition),
            )  # fmt: skip


def check_outputs(context: CheckContext) -> Iterator[dg.Output]:
    """The (empty) output of every selected check, which steps downstream in the run wait on."""
    op = context.op_execution_context
    for key in sorted(op.selected_asset_check_keys, key=lambda k: k.to_user_string()):
        yield dg.Output(None, output_name=op.assets_def.get_output_name_for_asset_check_key(key))


def report(context: CheckContext, asset: str, outcomes_by_partition: Mapping[str, list[Outcome]]) -> Iterator:
    """Everything a check step yields: each partition's evaluations, then the checks' outputs."""
    yield from evaluations(context, asset, outcomes_by_partition)
    yield from check_outputs(context)


def failed_blocking(outcomes_by_partition: Mapping[str, list[Outcome]]) -> dict[str, list[str]]:
    """Partitions with a failed ERROR (blocking) rule, and the names of those rules."""
    failed = {p: [o.check for o in outcomes if not o.passed and o.severity == "ERROR"] for p, outcomes in outcomes_by_partition.items()}
    return {p: checks for p, checks in failed.items() if checks}
