"""Rules (core/quality.py) as Dagster asset checks: their specs, and their outcomes as check results."""

from collections.abc import Iterator

import dagster as dg
import polars as pl

from p114_assets.core.quality import Outcome, Rule

SEVERITY = {"ERROR": dg.AssetCheckSeverity.ERROR, "WARN": dg.AssetCheckSeverity.WARN}


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


def report(
    context: dg.AssetCheckExecutionContext, asset: str, outcomes_by_partition: dict[str, list[Outcome]]
) -> Iterator[dg.AssetCheckResult]:
    """Yield one result per check; in a multi-partition run, also log one evaluation per partition."""
    by_check: dict[str, list[tuple[str, Outcome]]] = {}
    for partition, outcomes in outcomes_by_partition.items():
        for outcome in outcomes:
            by_check.setdefault(outcome.check, []).append((partition, outcome))
    multi = len(outcomes_by_partition) > 1
    for check, results in by_check.items():
        if not multi:
            _, outcome = results[0]
            yield dg.AssetCheckResult(asset_key=asset, check_name=check, passed=outcome.passed,
                                      severity=SEVERITY[outcome.severity], description=outcome.description,
                                      metadata=_metadata(outcome))  # fmt: skip
            continue
        for partition, outcome in results:
            context.op_execution_context.log_event(dg.AssetCheckEvaluation(
                asset_key=dg.AssetKey(asset), check_name=check, passed=outcome.passed, partition=partition,
                severity=SEVERITY[outcome.severity], description=outcome.description, metadata=_metadata(outcome),
                blocking=outcome.severity == "ERROR"))  # fmt: skip
        failed = [p for p, o in results if not o.passed]
        severity = results[0][1].severity
        yield dg.AssetCheckResult(
            asset_key=asset, check_name=check, passed=not failed, severity=SEVERITY[severity],
            description=(f"all {len(results)} partitions of this run passed" if not failed
                         else f"{len(failed)} of {len(results)} partitions failed: {', '.join(failed[:10])}"),
            metadata={"partitions": len(results), "failed": len(failed)},
        )  # fmt: skip
