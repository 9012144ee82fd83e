"""`p114 export`: one table to CSV, Parquet or XLSX, or the VLP dashboard to a Google Sheet."""

from __future__ import annotations

import click

from p114_assets.app.cli import CliError, _date, _progress, date_range, main, open_warehouse, out
from p114_assets.app.cli.paths import OUTPUT_FILE, WAREHOUSE_TO_READ
from p114_assets.core.settlement import parse_run_types


@main.command()
@click.argument("table", required=False)
@click.option("--start", callback=_date, help="first settlement date")
@click.option("--end", callback=_date, help="last settlement date (default: --start)")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet", "xlsx"]), help="default: from the --out extension")
@click.option("--out", "out_file", type=OUTPUT_FILE, help="the file to write; its folder must exist")
@click.option("--run-types", help="only these run types, e.g. SF,RF (tables with a run_type column)")
@click.option("--sheets", "spreadsheet", metavar="SPREADSHEET_ID", help="write the VLP dashboard to this Google Sheet instead")
@click.option("--warehouse", "warehouse_path", type=WAREHOUSE_TO_READ,
              help="a DuckDB file to read instead of the warehouse P114_WAREHOUSE picks")
def export(table, start, end, fmt, out_file, run_types, spreadsheet, warehouse_path):
    """Export TABLE for settlement dates --start..--end to --out (CSV, Parquet or XLSX), with a
    progress bar; or, with --sheets SPREADSHEET_ID, write the VLP dashboard (30-day unit summary,
    7-day party breakdown) to a Google Sheet (credentials: P114_SHEETS_CREDENTIALS, a
    service-account key file, else Google's application-default credentials).

    The file appears only when complete: a failed export leaves nothing behind."""
    if spreadsheet:
        if table or out_file:
            raise CliError("--sheets writes the dashboard's own views: give no TABLE or --out with it", 2)
        return _export_sheets(spreadsheet, warehouse_path)
    if not table or start is None or out_file is None:
        raise CliError("give TABLE, --start and --out (or --sheets SPREADSHEET_ID)", 2)
    from p114_assets.app.export import ExportError, format_of, plan_export, write_export
    from p114_assets.warehouse.tables import TABLES

    if table not in TABLES:
        raise CliError(f"no table {table!r}; the tables are {', '.join(TABLES)}", 2)
    end = date_range("export", start, end)
    try:
        runs = parse_run_types(run_types) if run_types else None
        fmt = format_of(out_file, fmt)
    except (ValueError, ExportError) as exc:
        raise CliError(str(exc), 2) from None
    warehouse = open_warehouse(warehouse_path)
    if not warehouse.table_exists(table):
        raise CliError(f"{table} is not in {warehouse.location()} yet: materialize it first")
    try:
        plan = plan_export(warehouse, table, start, end, fmt, runs)
    except ExportError as exc:
        raise CliError(str(exc)) from None
    except ValueError as exc:  # a filter the table cannot take (bm_units has no dates, run_reconciliation no run_type)
        raise CliError(str(exc), 2) from None
    step_days = 1 if warehouse.location().startswith("duckdb:") else 31  # BigQuery: fewer, larger queries
    with _progress() as progress:
        task = progress.add_task("exporting", total=plan.rows, detail="")
        rows = write_export(plan, out_file, lambda label, n: progress.update(task, advance=n, detail=label), step_days)
    out.print(f"{rows:,} rows of {table} ({start} .. {end}) -> {out_file}", soft_wrap=True)


def _export_sheets(spreadsheet: str, warehouse_path) -> None:
    from p114_assets.app.sheets import SheetsError, dashboard_views, write_dashboard

    warehouse = open_warehouse(warehouse_path)
    try:
        views = dashboard_views(warehouse)
        title = write_dashboard(spreadsheet, views)
    except SheetsError as exc:
        raise CliError(str(exc)) from None
    for view in views:
        out.print(f"{view.title}: {view.rows.num_rows:,} rows ({view.first} .. {view.last})")
    out.print(f"wrote {len(views)} worksheets to {title!r} ({spreadsheet})")
