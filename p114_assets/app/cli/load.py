"""`p114 materialize`, `p114 demo`, `p114 plan-backfill`: the asset graph, in-process or launched
as a backfill on a running webserver."""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

import click
from rich.table import Table

from p114_assets import config
from p114_assets.app.cli import CliError, _date, _fail, _progress, date_range, err, main, open_warehouse, out, verbose
from p114_assets.app.cli.files import generate_range
from p114_assets.app.cli.paths import INPUT_FOLDER, OUTPUT_FOLDER, WAREHOUSE_TO_WRITE
from p114_assets.core.synthetic import MIN_UNITS

DEMO_START = dt.date(2024, 10, 21)  # a week ending on the autumn clock change (a 50-period day)
DEMO_DAYS = 7
DEMO_UNITS = 300


def _print_summary(summary, warehouse_location: str) -> None:
    derived = f" and {len(summary.derived_dates)} settlement dates of derived tables" if summary.derived_dates else ""
    market = f", market data and comparisons for {len(summary.market_dates)} dates" if summary.market_dates else ""
    out.print(f"{len(summary.partitions)} partitions{derived}{market} in {summary.seconds:.1f} s into {warehouse_location}",
              soft_wrap=True)
    table = Table()
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in summary.rows.items():
        table.add_row(f"p114.{name}", f"{count:,}")
    out.print(table)
    for key, message in summary.failures.items():  # one line each, however long
        err.print(f"[red]failed[/red] {key[0]} {key[1]}: {' '.join(message.split())}", soft_wrap=True)
    for f in summary.check_failures:
        colour = "red" if f.severity == "ERROR" else "yellow"
        err.print(f"[{colour}]check {f.severity}[/{colour}] {f.asset}:{f.check} {f.partition}: {f.description}", soft_wrap=True)
    if summary.skipped_dates:
        err.print("derived tables not built for " + ", ".join(map(str, summary.skipped_dates)) + " (a partition failed)")

def _run_with_progress(partitions, resources, chunk_size: int, launched_by: str, with_market: bool = False):
    from p114_assets.app.pool_wait import PoolWaitTimeout
    from p114_assets.app.runner import materialize_partitions, planned_runs

    with _progress() as progress:
        task = progress.add_task("materializing", total=planned_runs(partitions, chunk_size, with_market), detail="")

        def advance(label, ok):
            progress.update(task, advance=1, detail=f"{label} {'ok' if ok else 'FAILED'}")

        def waiting(message):  # the pool: who holds it, or a dead run healed
            progress.console.print(f"[yellow]{message}[/yellow]", soft_wrap=True, highlight=False)

        try:
            return materialize_partitions(partitions, resources, chunk_size, advance, launched_by, with_market=with_market,
                                          verbose=verbose(), on_wait=waiting)  # fmt: skip
        except PoolWaitTimeout as exc:
            raise CliError(str(exc)) from None

def run_materialize(source: Path, warehouse_path: Path | None, start=None, end=None, chunk_size: int | None = None,
                    with_market: bool = False):  # fmt: skip
    """Materialize a folder's files into the DuckDB file given, else the warehouse P114_WAREHOUSE picks."""
    from p114_assets.defs.partitions import BACKFILL_CHUNK
    from p114_assets.app.runner import folder_partitions, folder_resources

    partitions = folder_partitions(source, start, end)
    if not partitions:
        _fail("materialize", f"no S0142 files in {source}" + (f" between {start} and {end}" if start or end else ""))
    warehouse = open_warehouse(warehouse_path, must_exist=False)
    resources = folder_resources(source, warehouse)
    if with_market:
        out.print(f"market data from {resources['insights'].base_url} (P114_INSIGHTS_URL)")
    summary = _run_with_progress(partitions, resources, chunk_size or BACKFILL_CHUNK, "p114 materialize", with_market)
    _print_summary(summary, warehouse.location())
    return summary, warehouse

@main.command()
@click.option("--source", required=True, type=INPUT_FOLDER, help="folder of S0142 files")
@click.option("--warehouse", "warehouse_path", type=WAREHOUSE_TO_WRITE,
              help="a DuckDB file to load instead of the warehouse P114_WAREHOUSE picks (created if new)")
@click.option("--start", callback=_date, help="only settlement dates from this one")
@click.option("--end", callback=_date, help="only settlement dates up to this one")
@click.option("--chunk", "chunk_size", type=click.IntRange(min=1), help="partitions per run (default 7, as backfills)")
@click.option("--with-market", is_flag=True, help="also load the market group for the same dates from the Elexon Insights "
              "API (P114_INSIGHTS_URL), then the comparison marts")  # fmt: skip
def materialize(source, warehouse_path, start, end, chunk_size, with_market):
    """Materialize every asset, in-process, for the files found in a folder, into the warehouse
    (P114_WAREHOUSE: DuckDB by default, or BigQuery; --warehouse FILE for a DuckDB file).

    With --with-market, the dates whose settlement loaded then get their market data (BM unit
    reference, MID, DISBSAD, BOD, BOALF, PN, EBOCF, DISEBSP) and the marts that compare settled,
    indicative and acceptance-based revenue."""
    summary, _ = run_materialize(source, warehouse_path, start, end, chunk_size, with_market)
    if not summary.ok:
        sys.exit(1)

@main.command()
@click.option("--data-dir", default="data", show_default=True, type=OUTPUT_FOLDER)
@click.option("--units", default=DEMO_UNITS, show_default=True, type=click.IntRange(min=MIN_UNITS))
@click.option("--days", default=DEMO_DAYS, show_default=True, type=click.IntRange(min=1, max=31))
@click.option("--seed", default=0, show_default=True, type=int)
def demo(data_dir, units, days, seed):
    """The main job on synthetic data: a week of II and SF files -> every asset into the warehouse
    (DATA_DIR/p114.duckdb, or BigQuery when P114_WAREHOUSE says so) -> a summary here and an HTML report."""
    from p114_assets.app.report import write_report

    incoming = data_dir / "incoming"
    started = time.perf_counter()
    out.print(f"[bold]p114 demo[/bold]: {days} settlement days from {DEMO_START}, runs II and SF, {units} BM units")
    generate_range(DEMO_START, DEMO_START + dt.timedelta(days=days - 1), ["II", "SF"], units, seed, incoming)
    on_duckdb = config.warehouse_kind() == "duckdb"
    summary, warehouse = run_materialize(incoming, data_dir / "p114.duckdb" if on_duckdb else None)
    report = write_report(warehouse, data_dir / "report.html", title="p114 demo report")
    out.print(f"report: {report}")
    out.print(f"done in {time.perf_counter() - started:.1f} s; explore with `make dev` (Dagster UI on http://127.0.0.1:3000)")
    if not summary.ok:
        sys.exit(1)

@main.command("plan-backfill")
@click.option("--start", required=True, callback=_date, help="first settlement date")
@click.option("--end", required=True, callback=_date, help="last settlement date")
@click.option("--as-of", callback=_date, help="plan by the settlement calendar as of this date (default: from what the source holds)")
@click.option("--launch", "url", help="launch it as a Dagster asset backfill on the webserver at this URL")
@click.option("--local", is_flag=True, help="materialize it here, in-process, in chunks (resources from the environment)")
@click.option("--chunk", "chunk_size", type=click.IntRange(min=1), help="partitions per run (default 7)")
def plan_backfill(start, end, as_of, url, local, chunk_size):
    """Plan a best-available-run backfill: for each settlement date, the most mature run to load.

    Without --as-of, from what the source holds: with the folder source (P114_SOURCE=folder, the
    default locally) the most mature run of each date among the files in P114_INCOMING_DIR; the
    Portal and the generator cannot be listed by settlement date, so for them the runs the
    settlement calendar says are published by today. With --as-of D, by the calendar as of D (RF
    for old enough dates, then R3, R2, R1, SF, II; P114_CALENDAR_CSV overrides the nominal offsets).
    The line above the table says which was assumed. --launch starts one asset backfill of exactly
    those partitions, and of the daily assets of their dates, on a running Dagster webserver, --local materializes them in-process in chunks
    (a failed chunk does not stop the others)."""
    from p114_assets.core.backfill import best_available_plan, held_plan, summary
    from p114_assets.core.s0142.files import scan_folder
    from p114_assets.defs.partitions import BACKFILL_CHUNK, partition_key

    end = date_range("plan-backfill", start, end)
    if url and local:
        _fail("plan-backfill", "choose --launch or --local, not both", 2)
    calendar = config.calendar()  # a calendar file that cannot be used: one line, exit 2 (ConfigError)
    source = config.source_kind()
    if as_of is None and source == "folder":
        folder = Path(config.incoming_dir()).absolute()
        plan = held_plan(start, end, scan_folder(folder) if folder.is_dir() else {})
        basis, none_label = f"from the files in {folder}", "none in source"
        out.print(f"planned from the files in {folder} (P114_SOURCE=folder): {sum(r is not None for r in plan.values()):,} "
                  f"of {len(plan):,} dates have one; --as-of D plans by the settlement calendar instead", soft_wrap=True)  # fmt: skip
        as_of = dt.date.today()
    else:
        if as_of is None:
            as_of = dt.date.today()
            out.print(f"planned by the settlement calendar as of today ({as_of}): the {source} source cannot be listed "
                      f"by settlement date; --as-of D plans as of another date", soft_wrap=True)  # fmt: skip
        plan = best_available_plan(start, end, as_of, calendar)
        basis, none_label = f"as of {as_of}", "none yet"
    table = Table(title=f"best available runs for {start} .. {end} {basis}")
    for column in ("run type", "dates", "first", "last"):
        table.add_column(column, justify="right" if column == "dates" else "left")
    for run, count, first, last in summary(plan):
        table.add_row(none_label if run == "none yet" else run, f"{count:,}", str(first), str(last))
    out.print(table)
    partitions = [(day, run) for day, run in plan.items() if run]
    chunk_size = chunk_size or BACKFILL_CHUNK
    if url:
        from p114_assets.app.launcher import LaunchError, graph_backfill_ranges, launch_asset_backfill
        from p114_assets.app.runner import DERIVED_KEYS, RAW_KEYS

        ranges = graph_backfill_ranges(partitions, [k.to_user_string() for k in RAW_KEYS], [k.to_user_string() for k in DERIVED_KEYS])
        try:
            backfill = launch_asset_backfill(url, ranges, title=f"p114 best available runs {start}..{end} as of {as_of}",
                                             tags={"p114/plan": "best-available", "p114/as_of": as_of.isoformat()})  # fmt: skip
        except LaunchError as exc:
            _fail("plan-backfill", str(exc))
        out.print(f"launched backfill {backfill}: {len(partitions):,} partitions of {len(RAW_KEYS)} raw assets, and their "
                  f"{len({d for d, _ in partitions}):,} dates of {len(DERIVED_KEYS)} daily assets, on {url}/runs/b/{backfill}")  # fmt: skip
    elif local:
        from p114_assets.defs.resources import resources_from_env

        resources = resources_from_env()
        result = _run_with_progress(partitions, resources, chunk_size, "p114 plan-backfill")
        _print_summary(result, resources["warehouse"].location())
        if not result.ok:
            sys.exit(1)
