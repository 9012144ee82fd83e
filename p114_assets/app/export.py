"""Exports of one table over a range of settlement dates to CSV, Parquet or XLSX, what
`p114 export` writes.

Rows are read a step of dates at a time (warehouse/queries.py, values bound as parameters) and
streamed into the file, so memory stays bounded and a progress bar can follow the rows. The file is
written as `<name>.part` and renamed into place only when complete: a failed export (a full disk
included) leaves nothing behind. XLSX is written by XlsxWriter in constant-memory mode; a sheet holds
at most 1,048,576 rows, so a larger export is refused before anything is written.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from p114_assets.core.atomic_write import replacing
from p114_assets.warehouse import queries
from p114_assets.warehouse.base import Warehouse

FORMATS = ("csv", "parquet", "xlsx")
XLSX_MAX_ROWS = 1_048_576 - 1  # a worksheet's rows, less the header

OnStep = Callable[[str, int], None]


class ExportError(RuntimeError):
    """An export that cannot be written as asked; one line."""


def format_of(path: Path, given: str | None) -> str:
    """The format asked for, else the one the file's extension names."""
    if given:
        return given
    suffix = path.suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return suffix
    raise ExportError(f"say --format {'|'.join(FORMATS)}: {path} has no extension that names one")


def _steps(counts: dict[dt.date, int], step_days: int) -> list[tuple[dt.date, dt.date, int]]:
    """Consecutive runs of at most `step_days` of the dates that have rows: (first, last, rows)."""
    steps: list[tuple[dt.date, dt.date, int]] = []
    for day in sorted(counts):
        if steps and (day - steps[-1][0]).days < step_days:
            first, _, rows = steps[-1]
            steps[-1] = (first, day, rows + counts[day])
        else:
            steps.append((day, day, counts[day]))
    return steps


class _XlsxWriter:
    def __init__(self, path: Path, schema: pa.Schema, sheet: str):
        import xlsxwriter

        self.book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False,
                                                    "strings_to_formulas": False, "strings_to_urls": False})  # fmt: skip
        self.sheet = self.book.add_worksheet(sheet[:31])
        bold = self.book.add_format({"bold": True})
        self.date = self.book.add_format({"num_format": "yyyy-mm-dd"})
        self.datetime = self.book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self.sheet.write_row(0, 0, schema.names, bold)
        self.sheet.freeze_panes(1, 0)
        self.row = 1

    def write(self, rows: pa.Table) -> None:
        for record in rows.to_pylist():
            for col, value in enumerate(record.values()):
                if value is None:
                    continue
                if isinstance(value, dt.datetime):
                    self.sheet.write_datetime(self.row, col, value.replace(tzinfo=None), self.datetime)
                elif isinstance(value, dt.date):
                    self.sheet.write_datetime(self.row, col, dt.datetime.combine(value, dt.time()), self.date)
                elif isinstance(value, decimal.Decimal):
                    self.sheet.write_number(self.row, col, float(value))
                else:
                    self.sheet.write(self.row, col, value)
            self.row += 1

    def close(self) -> None:
        self.book.close()


class _ArrowWriter:
    def __init__(self, path: Path, schema: pa.Schema, fmt: str):
        if fmt == "csv":
            import pyarrow.csv as csv

            self.writer = csv.CSVWriter(str(path), schema)
        else:
            import pyarrow.parquet as pq

            self.writer = pq.ParquetWriter(str(path), schema, compression="zstd")
        self.schema = schema

    def write(self, rows: pa.Table) -> None:
        self.writer.write_table(rows.cast(self.schema))

    def close(self) -> None:
        self.writer.close()


@dataclass(frozen=True)
class ExportPlan:
    """What an export will write, counted before anything is written."""

    warehouse: Warehouse
    table: str
    fmt: str
    run_types: list[str] | None
    rows_per_date: dict[dt.date, int]

    @property
    def rows(self) -> int:
        return sum(self.rows_per_date.values())


def plan_export(warehouse: Warehouse, table: str, start: dt.date, end: dt.date, fmt: str,
                run_types: list[str] | None = None) -> ExportPlan:  # fmt: skip
    """Count the rows of `table` for settlement dates [start, end] (and run types); an export that
    cannot be written (no rows, too many for XLSX) is refused here, before any file is touched."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: expected {', '.join(FORMATS)}")
    plan = ExportPlan(warehouse, table, fmt, run_types, queries.rows_per_date(warehouse, table, start, end, run_types))
    if not plan.rows:
        raise ExportError(f"{table} has no rows for {start} .. {end} in {warehouse.location()}")
    if fmt == "xlsx" and plan.rows > XLSX_MAX_ROWS:
        raise ExportError(f"{plan.rows:,} rows do not fit in an XLSX sheet (at most {XLSX_MAX_ROWS:,}): "
                          f"use csv or parquet, or fewer dates")  # fmt: skip
    return plan


def write_export(plan: ExportPlan, out: Path, on_step: OnStep | None = None, step_days: int = 1) -> int:
    """Write the planned rows to `out`, `step_days` dates per query; returns the rows written.
    `on_step(label, rows)` after each step."""
    written = 0
    with replacing(out) as partial:  # renamed into place only when complete
        writer = None
        try:
            for first, last, _ in _steps(plan.rows_per_date, step_days):
                rows = queries.read_table(plan.warehouse, plan.table, first, last, plan.run_types)
                if writer is None:
                    writer = (_XlsxWriter(partial, rows.schema, plan.table) if plan.fmt == "xlsx"
                              else _ArrowWriter(partial, rows.schema, plan.fmt))  # fmt: skip
                writer.write(rows)
                written += rows.num_rows
                if on_step:
                    on_step(str(first) if first == last else f"{first} .. {last}", rows.num_rows)
        finally:
            if writer is not None:
                writer.close()
    return written
