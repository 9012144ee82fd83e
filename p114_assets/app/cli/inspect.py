"""`p114 status` and `p114 report`: what a warehouse holds, as a coverage grid or an HTML report."""

from __future__ import annotations

import datetime as dt

import click
from rich.table import Table

from p114_assets import config
from p114_assets.app.cli import _date, date_range, err, main, open_warehouse, out
from p114_assets.app.cli.paths import OUTPUT_FILE, WAREHOUSE_TO_READ

WAREHOUSE_HELP = "a DuckDB file to read instead of the warehouse P114_WAREHOUSE picks"

SYMBOLS = {"present": "[green]ok[/green]", "check_failed": "[red]FAIL[/red]", "missing": "[red]miss[/red]",
           "not_due": "[dim]-[/dim]"}  # fmt: skip

LEGEND = "ok loaded · miss due but not loaded · FAIL failed an ERROR check or its file was rejected · - not yet due"


@main.command()
@click.option("--start", required=True, callback=_date, help="first settlement date")
@click.option("--end", callback=_date, help="last settlement date (default: --start)")
@click.option("--warehouse", "warehouse_path", type=WAREHOUSE_TO_READ, help=WAREHOUSE_HELP)
@click.option("--as-of", callback=_date, help="judge what is due as of this date (default: today)")
def status(start, end, warehouse_path, as_of):
    """Coverage: which (date, run type) partitions are loaded, missing, failed a check, or not due.

    Loaded runs come from the warehouse; failed checks from the Dagster instance of DAGSTER_HOME (when
    set); what is due from the settlement calendar (nominal offsets, or actual dates from the file
    named by P114_CALENDAR_CSV). Ranges over two months print a monthly summary.
    """
    from p114_assets.core.coverage import STATES, coverage_grid, dates_between, totals
    from p114_assets.core.settlement import RUN_TYPES
    from p114_assets.warehouse import queries

    end = date_range("status", start, end)
    today = as_of or dt.date.today()
    warehouse = open_warehouse(warehouse_path)
    present = queries.loaded_partitions(warehouse, start, end)
    failed: set = set()
    if config.dagster_home():
        from p114_assets.app.runner import RAW_KEYS, dagster_instance
        from p114_assets.defs.alerts.check_history import failed_partitions
        from p114_assets.defs.alerts.sensors import CHECK_KEYS
        from p114_assets.defs.partitions import split_partition_key

        raw_keys = [k for k in CHECK_KEYS if k.asset_key in RAW_KEYS]  # partitioned by (date, run type)
        with dagster_instance() as instance:
            failed = {split_partition_key(key) for key in failed_partitions(instance, raw_keys)}
    else:
        err.print("[dim]DAGSTER_HOME is not set: check results are not shown[/dim]")
    calendar = config.calendar()  # a calendar file that cannot be used: one line, exit 2 (ConfigError)
    dates = dates_between(start, end)
    grid = coverage_grid(dates, present, failed, today, calendar=calendar)
    if len(dates) <= 62:
        table = Table(title=f"coverage {start} .. {end} (as of {today})", caption=LEGEND)
        table.add_column("date", no_wrap=True)
        for run in RUN_TYPES:
            table.add_column(run, justify="center")
        for day in dates:
            table.add_row(day.isoformat(), *[SYMBOLS[grid[(day, run)]] for run in RUN_TYPES])
    else:
        table = Table(title=f"coverage {start} .. {end} by month (as of {today}): loaded / due")
        table.add_column("month", no_wrap=True)
        for run in RUN_TYPES:
            table.add_column(run, justify="right")
        months = sorted({(d.year, d.month) for d in dates})
        for year, month in months:
            cells = []
            for run in RUN_TYPES:
                states = [grid[(d, run)] for d in dates if (d.year, d.month) == (year, month)]
                due = sum(s != "not_due" for s in states)
                bad = sum(s in ("missing", "check_failed") for s in states)
                text = f"{sum(s == 'present' for s in states)}/{due}" if due else "-"
                cells.append(f"[red]{text}[/red]" if bad else text)
            table.add_row(f"{year}-{month:02d}", *cells)
    out.print(table)
    counts = totals(grid)
    summary = Table(title="totals")
    summary.add_column("run")
    for state in STATES:
        summary.add_column(state.replace("_", " "), justify="right")
    for run in RUN_TYPES:
        summary.add_row(run, *[f"{counts.get(run, {}).get(state, 0):,}" for state in STATES])
    out.print(summary)

@main.command()
@click.option("--warehouse", "warehouse_path", type=WAREHOUSE_TO_READ, help=WAREHOUSE_HELP)
@click.option("--out", "out_file", default="data/report.html", show_default=True, type=OUTPUT_FILE,
              help="the HTML file; its folder must exist")
def report(warehouse_path, out_file):
    """Write the static HTML report of the warehouse (DuckDB or BigQuery, by P114_WAREHOUSE)."""
    from p114_assets.app.report import write_report

    path = write_report(open_warehouse(warehouse_path), out_file)
    out.print(f"report: {path}")
