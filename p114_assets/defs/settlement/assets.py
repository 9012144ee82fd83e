"""S0142 files and the raw tables parsed from them, partitioned by settlement date x run type."""

import datetime as dt
import hashlib
import time
from pathlib import Path

import dagster as dg

from p114_assets.core.s0142.layout import RAW_TABLES, TableSpec
from p114_assets.core.s0142.parser import S0142Error, S0142Header, check_name_matches_header, inspect_file, parse_file
from p114_assets.defs.partitions import backfill_policy, partitions_of, settlement_run_partitions
from p114_assets.defs.settlement.resources import LandingZone, S0142Source
from p114_assets.warehouse.base import SCHEMA, Warehouse

WAREHOUSE_POOL = "warehouse"  # DuckDB allows one writer: dagster_home/dagster.yaml limits this pool to 1


def _failure(description: str, **metadata) -> dg.Failure:
    return dg.Failure(description=description, metadata=metadata, allow_retries=False)


def _check_partition(header: S0142Header, settlement_date: dt.date, run_type: str) -> None:
    check_name_matches_header(header)
    if header.partition != (settlement_date, run_type):
        raise S0142Error(
            header.file_name,
            f"header says {header.settlement_date} {header.run_type}, but the partition is {settlement_date} {run_type}",
        )


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
            _check_partition(header, settlement_date, run_type)
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


def _column_schema(table: TableSpec) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                c.name,
                c.type,
                description=f"[{c.confidence}] {c.description}".strip() if c.confidence else c.description,
                constraints=dg.TableColumnConstraints(nullable=c.nullable),
            )
            for c in table.columns
        ]
    )


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
        metadata={"dagster/column_schema": _column_schema(table), "dagster/table_name": f"{SCHEMA}.{name}"},
    )
    for name, table in RAW_TABLES.items()
]


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
            _check_partition(parsed.header, settlement_date, run_type)
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


ASSETS = [s0142_file, raw_tables]
