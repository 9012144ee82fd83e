"""S0142 files and the raw tables parsed from them, partitioned by settlement date x run type."""

import datetime as dt
import hashlib
import time
from pathlib import Path

import dagster as dg

from p114_assets.core.s0142.parser import S0142Error, S0142Header, check_header_matches, inspect_file, parse_file
from p114_assets.core.s0142.tables import RAW_TABLES
from p114_assets.defs.partitions import backfill_policy, date_mapping, partitions_of, settlement_run_partitions
from p114_assets.defs.settlement.resources import LandingZone, S0142Source
from p114_assets.defs.table_assets import WAREHOUSE_POOL, derived_asset, refresh, row_count_metadata, table_metadata
from p114_assets.warehouse import queries, sql
from p114_assets.warehouse.base import Warehouse
from p114_assets.warehouse.tables import RUN_RECONCILIATION, SETTLEMENT_CANONICAL


def _failure(description: str, **metadata) -> dg.Failure:
    return dg.Failure(description=description, metadata=metadata, allow_retries=False)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _raise_collected(errors: list[str], what: str) -> None:
    """A chunk of a backfill processes every partition it can, then fails naming all that did not."""
    if errors:
        raise _failure(f"{len(errors)} partition(s) failed to {what}:\n" + "\n".join(errors), failed=len(errors))


@dg.asset(
    partitions_def=settlement_run_partitions,
    backfill_policy=backfill_policy,
    group_name="settlement",
    kinds={"s0142"},
    code_version="1",
)
def s0142_file(context: dg.AssetExecutionContext, source: S0142Source, landing: LandingZone) -> dg.MaterializeResult:
    """The S0142 settlement report of one settlement date and run type, kept in the landing zone
    under its original name.

    Fetched from the configured source (a local folder, the Elexon Portal, or the synthetic
    generator), then validated: a gzip body, an AAA header whose date and run type match the
    partition and the file name, and a ZZZ trailer whose line count matches the file. When a run
    is published twice, the later publication stamp wins.
    """
    rows = []
    errors = []
    staging = landing.staging()
    for settlement_date, run_type in partitions_of(context):
        fetched = None
        try:
            fetched = source.fetch(settlement_date, run_type, staging)
            header = inspect_file(fetched)
            check_header_matches(header, settlement_date, run_type)
            path = landing.put(fetched)  # only a validated file enters the landing zone
        except S0142Error as exc:
            errors.append(f"{settlement_date} {run_type}: {exc}")
            if fetched is not None and fetched.parent == staging:
                fetched.unlink(missing_ok=True)  # a rejected download is not kept
            continue
        except dg.Failure as exc:
            errors.append(f"{settlement_date} {run_type}: {exc.description}")
            continue
        rows.append((settlement_date, run_type, path, header))
        context.log.info(f"{settlement_date} {run_type}: {path.name} ({header.line_count:,} lines) from {source.describe()}")
    _raise_collected(errors, "fetch a valid S0142 file")

    metadata: dict[str, dg.RawMetadataValue] = {"files": len(rows), "bytes": sum(h.compressed_bytes for *_, h in rows)}
    if len(rows) == 1:
        _, _, path, header = rows[0]
        metadata.update(
            file_name=header.file_name,
            publication_stamp=header.publication_stamp,
            flow_version=header.flow_version,
            line_count=header.line_count,
            sha256=_sha256(path),
            byte_order_mark=header.has_bom,
            path=dg.MetadataValue.path(str(path.resolve())),
            record_counts=dg.MetadataValue.json(dict(sorted(header.record_counts.items()))),
        )
    else:
        metadata["files_table"] = dg.MetadataValue.md(
            "| date | run | file | stamp | lines | bytes |\n|---|---|---|---|---|---|\n"
            + "\n".join(
                f"| {d} | {r} | {h.file_name} | {h.publication_stamp} | {h.line_count:,} | {h.compressed_bytes:,} |"
                for d, r, _, h in rows
            )
        )
    return dg.MaterializeResult(metadata=metadata)


RAW_SPECS = [
    dg.AssetSpec(
        name,
        deps=[s0142_file],
        partitions_def=settlement_run_partitions,
        group_name="settlement",
        kinds={"table"},
        description=(
            f"{table.description} Key: {', '.join(table.key)}. Column descriptions carry the "
            "confidence of the S0142 layout: [V] seen in real files, [C] checked by arithmetic, "
            "[I] inferred, [?] unknown (kept as printed text)."
        ),
        metadata=table_metadata(table),
    )
    for name, table in RAW_TABLES.items()
]
# Everything partitioned by (date, run type): the file and its raw tables, materialized together.
RAW_KEYS = [s0142_file.key, *(spec.key for spec in RAW_SPECS)]


@dg.multi_asset(
    specs=RAW_SPECS,
    name="raw_tables",
    partitions_def=settlement_run_partitions,
    backfill_policy=backfill_policy,
    pool=WAREHOUSE_POOL,
    can_subset=False,
)
def raw_tables(context: dg.AssetExecutionContext, warehouse: Warehouse, landing: LandingZone):
    """Parse the partition's S0142 file and replace its rows in every raw table in one transaction.

    Re-materializing gives the same rows, never duplicates; a file that fails to parse leaves the
    partition's earlier rows untouched (nothing is deleted before the new rows are ready).
    """
    loaded: list[tuple[dt.date, str, S0142Header, dict[str, int]]] = []
    errors = []
    parse_seconds = write_seconds = 0.0
    for settlement_date, run_type in partitions_of(context):
        path = landing.latest(settlement_date, run_type)
        if path is None:
            errors.append(f"{settlement_date} {run_type}: no file in the landing zone {landing.path}; materialize s0142_file")
            continue
        try:
            started = time.perf_counter()
            parsed = parse_file(path)
            check_header_matches(parsed.header, settlement_date, run_type)
            parse_seconds += time.perf_counter() - started
        except S0142Error as exc:
            errors.append(f"{settlement_date} {run_type}: {exc}")
            continue
        started = time.perf_counter()
        written = warehouse.replace_partition(parsed.tables, settlement_date, run_type)
        write_seconds += time.perf_counter() - started
        loaded.append((settlement_date, run_type, parsed.header, written))
        context.log.info(f"{settlement_date} {run_type}: {path.name} -> " + ", ".join(f"{n} {c:,}" for n, c in written.items()))
    _raise_collected(errors, "load")

    common: dict[str, dg.RawMetadataValue] = {
        "partitions": len(loaded),
        "warehouse": warehouse.location(),
        "parse_seconds": round(parse_seconds, 2),
        "write_seconds": round(write_seconds, 2),
    }
    for name in RAW_TABLES:
        metadata = dict(common)
        if len(loaded) == 1:
            _, _, header, written = loaded[0]
            metadata.update({"dagster/row_count": written[name], "file_name": header.file_name,
                             "publication_stamp": header.publication_stamp, "flow_version": header.flow_version,
                             "bytes": header.compressed_bytes})  # fmt: skip
        else:  # one event covers every partition of the run: say so rather than mislabel a total
            metadata["rows_in_run"] = sum(w[name] for *_, w in loaded)
            metadata["partitions_table"] = dg.MetadataValue.md(
                "| date | run | rows | file |\n|---|---|---|---|\n"
                + "\n".join(f"| {d} | {r} | {w[name]:,} | {h.file_name} |" for d, r, h, w in loaded)
            )
        yield dg.MaterializeResult(asset_key=name, metadata=metadata)


@derived_asset(SETTLEMENT_CANONICAL, [dg.AssetDep("bm_unit_period", partition_mapping=date_mapping())], "settlement")
def settlement_canonical(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """For each settlement date, the bm_unit_period rows of the most mature run present:
    DF > RF > R3 > R2 > R1 > SF > II, and for the same run type the later publication stamp, with
    `run_type` saying which. Exactly one run per date.

    Computed in the warehouse with SQL over the partition's dates (a month per run in backfills).
    Automation: re-materialized on its own when a run of the date lands within 800 days (so a
    later, more mature run replaces the earlier one), unless that run failed a blocking check.
    """
    dates, rows = refresh(context, warehouse, SETTLEMENT_CANONICAL, sql.canonical)
    chosen = queries.rows_by_run(warehouse, "settlement_canonical", dates[0], dates[-1])
    found = {r["settlement_date"] for r in chosen}
    missing = [d for d in dates if d not in found]
    if missing:
        context.log.warning(f"{len(missing)} date(s) have no run loaded: {', '.join(map(str, missing[:10]))}")
    return dg.MaterializeResult(metadata={
        **row_count_metadata(dates, rows),
        "run_types": dg.MetadataValue.md("| date | run | rows |\n|---|---|---|\n"
                                         + "\n".join(f"| {r['settlement_date']} | {r['run_type']} | {r['n']:,} |" for r in chosen)),
        "dates_without_runs": len(missing),
    })  # fmt: skip


@derived_asset(RUN_RECONCILIATION, [dg.AssetDep("bm_unit_period", partition_mapping=date_mapping()),
                                    dg.AssetDep("bid_offer_pair", partition_mapping=date_mapping())], "settlement")  # fmt: skip
def run_reconciliation(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """How each BM unit's metered volume, balancing services volume, non-delivery charge and BM
    cashflow moved between consecutive settlement runs present for a date (II -> SF -> R1 ...),
    per unit and period. A unit-period present in only one of two runs is compared with zero.
    Same automation as settlement_canonical.
    """
    dates, rows = refresh(context, warehouse, RUN_RECONCILIATION, sql.run_reconciliation)
    moves = queries.reconciliation_moves(warehouse, dates[0], dates[-1])
    return dg.MaterializeResult(metadata={
        **row_count_metadata(dates, rows),
        "movements": dg.MetadataValue.md(
            "| date | from | to | unit-periods | sum abs metered delta MWh | sum abs BM cashflow delta GBP |\n|---|---|---|---|---|---|\n"
            + "\n".join(f"| {m['settlement_date']} | {m['from_run_type']} | {m['to_run_type']} | {m['n']:,} | "
                         f"{(m['metered'] or 0):,.3f} | {(m['cashflow'] or 0):,.2f} |" for m in moves)),
    })  # fmt: skip


ASSETS = [s0142_file, raw_tables, settlement_canonical, run_reconciliation]
