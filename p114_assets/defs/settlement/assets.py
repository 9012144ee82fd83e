"""S0142 files and the raw tables parsed from them, partitioned by settlement date x run type."""

import datetime as dt
import functools
import hashlib
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import dagster as dg

from p114_assets import config
from p114_assets.core import quality
from p114_assets.core.prefetch import Prefetch
from p114_assets.core.s0142.parser import S0142Error, S0142Header, check_header_matches, parse_file
from p114_assets.core.s0142.tables import RAW_TABLES
from p114_assets.defs.executor import StepSlot, claims_its_slot_in_step
from p114_assets.defs.check_results import check_outputs, evaluations, report
from p114_assets.defs.partitions import backfill_policy, date_mapping, partition_key, partitions_of, settlement_run_partitions
from p114_assets.defs.settlement.checks import FILE_CHECK_SPECS, RAW_CHECK_SPECS, unreadable_outcomes
from p114_assets.defs.settlement.resources import FileRejected, LandingZone, S0142Source
from p114_assets.defs.table_assets import WAREHOUSE_POOL, derived_asset, refresh, row_count_metadata, table_metadata
from p114_assets.warehouse import checked_load, queries, sql
from p114_assets.warehouse.base import Warehouse
from p114_assets.warehouse.tables import RUN_RECONCILIATION, SETTLEMENT_CANONICAL, SETTLEMENT_CANONICAL_RUNS, STORED_RAW_TABLES


def _failure(description: str, **metadata) -> dg.Failure:
    return dg.Failure(description=description, metadata=metadata, allow_retries=False)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _file_metadata(path: Path, header: S0142Header) -> dict:
    return {
        "file_name": header.file_name,
        "publication_stamp": header.publication_stamp,
        "flow_version": header.flow_version,
        "line_count": header.line_count,
        "bytes": header.compressed_bytes,
        "sha256": _sha256(path),
        "byte_order_mark": header.has_bom,
        "path": dg.MetadataValue.path(str(path.resolve())),
        "record_counts": dg.MetadataValue.json(dict(sorted(header.record_counts.items()))),
        # ZZZ 2 against the NETA IDD checksum (the parser's verdict): shown, never failed on
        "trailer_checksum": header.checksum_matches,
    }


@dg.asset(
    partitions_def=settlement_run_partitions,
    backfill_policy=backfill_policy,
    group_name="settlement",
    kinds={"s0142"},
    code_version="1",
    check_specs=FILE_CHECK_SPECS,
)
def s0142_file(context: dg.AssetExecutionContext, source: S0142Source, landing: LandingZone):
    """The S0142 settlement report of one settlement date and run type, kept in the landing zone
    under its original name.

    Fetched from the configured source (a local folder, the Elexon Portal, or the synthetic
    generator), then checked before it enters the landing zone: a gzip body, an AAA header whose
    date and run type match the partition and the file name, and a ZZZ trailer whose line count
    matches the file. A rejected file fails the partition's checks (and so alerts) and never
    replaces the partition's previous file. When a run is published twice, the later stamp wins.
    Metadata shows whether ZZZ 2 "matches" or "differs" from the NETA IDD checksum (informational:
    it fails nothing).
    """
    landed: dict[str, tuple[Path, S0142Header]] = {}
    outcomes: dict[str, list] = {}
    errors: dict[str, str] = {}
    staging = landing.staging()
    for settlement_date, run_type in partitions_of(context):
        key = str(partition_key(settlement_date, run_type))
        try:
            fetched = source.fetch(settlement_date, run_type, staging)
        except FileRejected as exc:
            outcomes[key] = unreadable_outcomes(exc.description)
            errors[key] = f"rejected: {exc.description}"
            continue
        except dg.Failure as exc:  # no file to be had (not published yet, not in the folder)
            errors[key] = exc.description
            continue
        outcomes[key], header = quality.file_outcomes(fetched, (settlement_date, run_type))
        failed = [o for o in outcomes[key] if not o.passed]
        if failed:
            errors[key] = f"rejected: {failed[0].description}"
            if fetched.parent == staging:
                fetched.unlink(missing_ok=True)  # a rejected download is not kept
            continue
        path = landing.put(fetched)  # only a checked file enters the landing zone, under its own name
        assert header is not None  # the checks passed, so it was read
        landed[key] = (path, header)  # as inspected by the checks: the same bytes (one scan, not two)
        context.log.info(f"{key}: {path.name} ({header.line_count:,} lines) from {source.describe()}")

    if errors:
        yield from _materialize_each(context, {key: {s0142_file.key: _file_metadata(*found)} for key, found in landed.items()})
        yield from evaluations(context, "s0142_file", outcomes)
        raise _partitions_failed(errors, "fetch a valid S0142 file")
    rows = list(landed.values())
    if len(rows) == 1:
        metadata = _file_metadata(*rows[0])
    else:
        metadata = {"files": len(rows), "bytes": sum(h.compressed_bytes for _, h in rows), "files_table": dg.MetadataValue.md(
            "| file | stamp | lines | bytes | ZZZ checksum |\n|---|---|---|---|---|\n"
            + "\n".join(f"| {h.file_name} | {h.publication_stamp} | {h.line_count:,} | {h.compressed_bytes:,} | {h.checksum_matches} |"
                         for _, h in rows))}  # fmt: skip
    yield dg.MaterializeResult(metadata=metadata)
    yield from report(context, "s0142_file", outcomes)


def _materialize_each(context: dg.AssetExecutionContext, metadata: dict[str, dict[dg.AssetKey, dict]]) -> Iterator[dg.AssetMaterialization]:
    """Materialize these partitions one by one: a chunk that also holds failed partitions cannot
    end in one result for the whole range, yet its good partitions loaded and must count."""
    for key, by_asset in metadata.items():
        for asset_key, values in by_asset.items():
            yield dg.AssetMaterialization(asset_key=asset_key, partition=key, metadata=values)


def _partitions_failed(errors: dict[str, str], what: str) -> dg.Failure:
    """A chunk of a backfill processes every partition it can, then fails naming all that did not."""
    return _failure(f"{len(errors)} partition(s) failed to {what}:\n" + "\n".join(f"{k}: {v}" for k, v in sorted(errors.items())),
                    failed=len(errors))  # fmt: skip


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
        metadata=table_metadata(STORED_RAW_TABLES[name]),
    )
    for name, table in RAW_TABLES.items()
]
# Everything partitioned by (date, run type): the file and its raw tables, materialized together.
RAW_KEYS = [s0142_file.key, *(spec.key for spec in RAW_SPECS)]


def _load_metadata(header: S0142Header, written: dict[str, int], name: str) -> dict:
    return {"dagster/row_count": written[name], "file_name": header.file_name, "publication_stamp": header.publication_stamp,
            "flow_version": header.flow_version, "bytes": header.compressed_bytes}  # fmt: skip


def _parse_and_check(landed: tuple[tuple[dt.date, str], Path | None], previous: Future[dict[tuple[dt.date, str], dict[str, int] | None]],
                     min_row_ratio: float) -> tuple[checked_load.CheckedPartition | None, float]:  # fmt: skip
    """The parsed file of a partition (checked against it), its rows staged and checked (check
    before swap), and the seconds the parse took. The parse needs no warehouse; the checks wait
    for `previous` (the partitions' previous rows, read once the run holds the warehouse)."""
    (settlement_date, run_type), path = landed
    if path is None:
        return None, 0.0
    started = time.perf_counter()
    parsed = parse_file(path)
    check_header_matches(parsed.header, settlement_date, run_type)
    seconds = time.perf_counter() - started
    checked = checked_load.check_partition(parsed.tables, parsed.header, settlement_date, run_type,
                                           previous.result().get((settlement_date, run_type)), min_row_ratio, release=True)  # fmt: skip
    return checked, seconds


@dg.multi_asset(
    specs=RAW_SPECS,
    check_specs=RAW_CHECK_SPECS,
    name="raw_tables",
    partitions_def=settlement_run_partitions,
    backfill_policy=backfill_policy,
    pool=WAREHOUSE_POOL,
    can_subset=False,
)
def raw_tables(context: dg.AssetExecutionContext, warehouse: Warehouse, landing: LandingZone):
    """Parse the partition's S0142 file, check its rows (the checks of each table, per partition),
    and only if every blocking check passes replace its rows in every raw table in one transaction.

    Re-materializing gives the same rows, never duplicates. A file that fails to parse or a
    blocking check (including one with far fewer rows than the partition's previous version)
    leaves the partition's earlier rows untouched: its rows are kept in the `<table>_quarantine`
    tables and partition_status records which checks failed. Such a partition is not
    materialized, so nothing downstream is built from it.
    """
    loaded: dict[str, tuple[S0142Header, dict[str, int]]] = {}
    outcomes: dict[str, dict[str, list]] = {}
    errors: dict[str, str] = {}
    parse_seconds = write_seconds = check_seconds = 0.0
    ratio = config.min_row_ratio()
    landed = [(partition, landing.latest(*partition)) for partition in partitions_of(context)]
    # The step claims its warehouse slot itself (claims_its_slot_in_step) and frees it once written:
    # its first file parses while the run before it still writes, and the next run writes while
    # this one records its events. The previous rows are read once the slot is held.
    previous: Future[dict[tuple[dt.date, str], dict[str, int] | None]] = Future()
    # one partition ahead: the next file is parsed and checked on a thread while this one is written
    parses = Prefetch(landed, functools.partial(_parse_and_check, previous=previous, min_row_ratio=ratio))
    with StepSlot(context, WAREHOUSE_POOL) as slot:
        for ((settlement_date, run_type), path), parsing in parses:
            if not slot.held:
                try:
                    slot.wait()
                    previous.set_result(checked_load.previous_rows_of(warehouse, [p for p, found in landed if found is not None]))
                except BaseException as exc:  # the first file's checks wait for it: they end too
                    previous.set_exception(exc)
                    raise
            key = str(partition_key(settlement_date, run_type))
            if path is None:
                errors[key] = f"no file in the landing zone {landing.path}; materialize s0142_file"
                continue
            try:
                checked, seconds = parsing.result()
                parse_seconds += seconds
            except S0142Error as exc:
                errors[key] = str(exc)
                continue
            # The next file parses and is checked on the second core while this one is written, from
            # the moment the write's memory peak (its largest table) is behind: parse and peak together
            # topped 1 GB. The rows are handed over, so each table's memory goes once written.
            header = checked.header
            done = checked_load.write_checked(warehouse, checked, after_peak=parses.start_next, release=True)
            del checked
            write_seconds, check_seconds = write_seconds + done.write_seconds, check_seconds + done.check_seconds
            outcomes[key], written = done.outcomes, done.rows
            if not done.loaded:  # the previous rows stay; the rejected ones wait in quarantine
                failed = sorted(f"{t}:{o.check}" for t, found in done.outcomes.items() for o in found if not o.passed and o.severity == "ERROR")
                errors[key] = (f"failed blocking check(s) {', '.join(failed)}; the partition keeps its previous rows, "
                               f"the file's rows are in the *_quarantine tables (partition_status says why)")  # fmt: skip
            else:
                loaded[key] = (header, written)
            context.log.info(f"{key}: {path.name} -> " + ", ".join(f"{n} {c:,}" for n, c in written.items())
                             + ("" if done.loaded else " (quarantined)"))  # fmt: skip

    by_table = {name: {key: found[name] for key, found in outcomes.items()} for name in RAW_TABLES}
    if errors:
        yield from _materialize_each(context, {key: {dg.AssetKey(name): _load_metadata(header, written, name) for name in RAW_TABLES}
                                               for key, (header, written) in loaded.items()})  # fmt: skip
        for name, found in by_table.items():
            yield from evaluations(context, name, found)
        raise _partitions_failed(errors, "load")

    common: dict[str, dg.RawMetadataValue] = {
        "partitions": len(loaded),
        "warehouse": warehouse.location(),
        "parse_seconds": round(parse_seconds, 2),
        "write_seconds": round(write_seconds, 2),
        "check_seconds": round(check_seconds, 2),
    }
    for name in RAW_TABLES:
        metadata = dict(common)
        if len(loaded) == 1:
            metadata.update(_load_metadata(*next(iter(loaded.values())), name))
        else:  # one event covers every partition of the run: say so rather than mislabel a total
            metadata["rows_in_run"] = sum(w[name] for _, w in loaded.values())
            metadata["partitions_table"] = dg.MetadataValue.md(
                "| partition | rows | file |\n|---|---|---|\n"
                + "\n".join(f"| {k} | {w[name]:,} | {h.file_name} |" for k, (h, w) in loaded.items())
            )
        yield dg.MaterializeResult(asset_key=name, metadata=metadata)
    for name, found in by_table.items():
        yield from evaluations(context, name, found)
    yield from check_outputs(context)


claims_its_slot_in_step(raw_tables.op.name)


@derived_asset(SETTLEMENT_CANONICAL, [dg.AssetDep("bm_unit_period", partition_mapping=date_mapping())], "settlement")
def settlement_canonical(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """For each settlement date, the bm_unit_period rows of the most mature run present:
    DF > RF > R3 > R2 > R1 > SF > II, and for the same run type the later publication stamp, with
    `run_type` and `publication_ts` saying which. Exactly one run per date. `is_stale` marks the
    rows of a date where a more mature run has landed since that this asset has not picked up yet.

    A view: materializing it refreshes one pointer row per date (settlement_canonical_runs: the
    chosen run type and stamp), and the view reads that run's rows in bm_unit_period, so no row is
    copied. Over the partition's dates (a month per run in backfills). Automation: re-materialized
    on its own when a run of the date lands (so a later, more mature run replaces the earlier
    one), unless a run of the date failed a blocking check.
    """
    dates, _ = refresh(context, warehouse, SETTLEMENT_CANONICAL_RUNS, sql.canonical_runs)
    chosen = queries.rows_by_run(warehouse, "settlement_canonical", dates[0], dates[-1])
    rows = sum(r["n"] for r in chosen)
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
