"""The `p114` command. Thin: argument parsing, progress, exit codes; the work is in the package.

Errors are one line on stderr (`p114 <command>: <what went wrong>`) and a non-zero exit status.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import click
import pyarrow.parquet as pq
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from p114_assets.core.s0142.generator import DEFAULT_UNITS, SyntheticMarket, generate_file
from p114_assets.core.s0142.parser import S0142Error, parse_file
from p114_assets.core.settlement import parse_run_types

out = Console()
err = Console(stderr=True)

# Dagster marks backfill policies "beta" and partitioned checks "preview" at definition time; users
# of the CLI cannot act on that.
warnings.filterwarnings("ignore", message=r".*is currently in (beta|preview).*")

DEMO_START = dt.date(2024, 10, 21)  # a week ending on the autumn clock change (a 50-period day)
DEMO_DAYS = 7
DEMO_UNITS = 300


def _fail(command: str, message: str, status: int = 1) -> None:
    click.echo(f"p114 {command}: {message}", err=True)
    sys.exit(status)


def _date(ctx, param, value):
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), console=err, transient=False)  # fmt: skip


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="p114-assets")
def main() -> None:
    """p114: Elexon P114 S0142 settlement files into a warehouse, with Dagster."""


# ---------------------------------------------------------------------------------------------


def generate_range(start: dt.date, end: dt.date, run_types: list[str], units: int, seed: int, out_dir: Path) -> list[Path]:
    """Write synthetic files with a progress bar; used by `generate` and `demo`."""
    days = (end - start).days + 1
    paths: list[Path] = []
    with _progress() as progress:
        task = progress.add_task("generating", total=days * len(run_types), detail="building market")
        market = SyntheticMarket.build(units, seed)
        for offset in range(days):
            day = start + dt.timedelta(days=offset)
            for run in run_types:
                path = generate_file(market, day, run).write(out_dir)
                paths.append(path)
                progress.update(task, advance=1, detail=path.name)
    return paths


@main.command()
@click.option("--start", required=True, callback=_date, help="first settlement date, YYYY-MM-DD")
@click.option("--end", callback=_date, help="last settlement date (default: --start)")
@click.option("--run-types", default="II,SF", show_default=True, help="comma-separated run types")
@click.option("--units", default=DEFAULT_UNITS, show_default=True, type=click.IntRange(min=7), help="BM units (real files: about 8,000)")
@click.option("--seed", default=0, show_default=True, type=int, help="seed: same seed and arguments, same bytes")
@click.option("--out", "out_dir", default="data/incoming", show_default=True, type=click.Path(file_okay=False, path_type=Path))
def generate(start, end, run_types, units, seed, out_dir):
    """Write synthetic S0142 files (real format, real names) for a range of settlement dates."""
    end = end or start
    if end < start:
        _fail("generate", f"--end {end} is before --start {start}", 2)
    try:
        runs = parse_run_types(run_types)
    except ValueError as exc:
        _fail("generate", str(exc), 2)
    started = time.perf_counter()
    paths = generate_range(start, end, runs, units, seed, out_dir)
    size = sum(p.stat().st_size for p in paths)
    out.print(f"wrote {len(paths)} files ({size / 1e6:,.1f} MB) to {out_dir} in {time.perf_counter() - started:.1f} s")


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="folder for <table>.parquet")
def parse(file, out_dir):
    """Parse one S0142 file (gz or plain) into one Parquet file per table.

    On invalid input: exit status 1, one line on stderr naming the file, the line (where there is
    one) and the reason, and no output files at all.
    """
    started = time.perf_counter()
    try:
        parsed = parse_file(file)
    except S0142Error as exc:
        _fail("parse", str(exc))
    seconds = time.perf_counter() - started
    # Write beside the target, then move into place: a failure never leaves half the tables.
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir.parent, prefix=".p114-parse-") as tmp:
        for name, table in parsed.tables.items():
            pq.write_table(table, Path(tmp) / f"{name}.parquet")
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in parsed.tables:
            shutil.move(str(Path(tmp) / f"{name}.parquet"), out_dir / f"{name}.parquet")
    h = parsed.header
    table = Table(title=f"{h.file_name}: {h.settlement_date} {h.run_type}, stamp {h.publication_stamp}, {h.flow_version}, "
                        f"{h.line_count:,} lines, parsed in {seconds:.2f} s")  # fmt: skip
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in parsed.row_counts.items():
        table.add_row(f"{out_dir / name}.parquet", f"{count:,}")
    out.print(table)


def _print_summary(summary, warehouse_location: str) -> None:
    derived = f" and {len(summary.derived_dates)} settlement dates of derived tables" if summary.derived_dates else ""
    out.print(f"{len(summary.partitions)} partitions{derived} in {summary.seconds:.1f} s into {warehouse_location}")
    table = Table()
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in summary.rows.items():
        table.add_row(f"p114.{name}", f"{count:,}")
    out.print(table)
    for key, message in summary.failures.items():
        err.print(f"[red]failed[/red] {key[0]} {key[1]}: {message}")
    for f in summary.check_failures:
        colour = "red" if f.severity == "ERROR" else "yellow"
        err.print(f"[{colour}]check {f.severity}[/{colour}] {f.asset}:{f.check} {f.partition}: {f.description}")
    if summary.skipped_dates:
        err.print("derived tables not built for " + ", ".join(map(str, summary.skipped_dates)) + " (a partition failed)")


def _run_with_progress(partitions, resources, chunk_size: int, launched_by: str):
    from p114_assets.local_runner import materialize_partitions, planned_runs

    with _progress() as progress:
        task = progress.add_task("materializing", total=planned_runs(partitions, chunk_size), detail="")

        def advance(label, ok):
            progress.update(task, advance=1, detail=f"{label} {'ok' if ok else 'FAILED'}")

        return materialize_partitions(partitions, resources, chunk_size, advance, launched_by)


def run_materialize(source: Path, warehouse_path: Path, start=None, end=None, chunk_size: int | None = None):
    from p114_assets.defs.partitions import BACKFILL_CHUNK
    from p114_assets.local_runner import folder_partitions, folder_resources
    from p114_assets.warehouse.duckdb import DuckDBWarehouse

    partitions = folder_partitions(source, start, end)
    if not partitions:
        _fail("materialize", f"no S0142 files in {source}" + (f" between {start} and {end}" if start or end else ""))
    warehouse = DuckDBWarehouse(path=str(warehouse_path))
    summary = _run_with_progress(partitions, folder_resources(source, warehouse), chunk_size or BACKFILL_CHUNK,
                                 "p114 materialize")  # fmt: skip
    _print_summary(summary, warehouse.location())
    return summary, warehouse


@main.command()
@click.option("--source", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path), help="folder of S0142 files")
@click.option("--warehouse", "warehouse_path", default="data/p114.duckdb", show_default=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--start", callback=_date, help="only settlement dates from this one")
@click.option("--end", callback=_date, help="only settlement dates up to this one")
@click.option("--chunk", "chunk_size", type=click.IntRange(min=1), help="partitions per run (default 7, as backfills)")
def materialize(source, warehouse_path, start, end, chunk_size):
    """Materialize every asset, in-process, for the files found in a folder, into a DuckDB file."""
    summary, _ = run_materialize(source, warehouse_path, start, end, chunk_size)
    if not summary.ok:
        sys.exit(1)


@main.command()
@click.option("--data-dir", default="data", show_default=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--units", default=DEMO_UNITS, show_default=True, type=click.IntRange(min=7))
@click.option("--days", default=DEMO_DAYS, show_default=True, type=click.IntRange(min=1, max=31))
@click.option("--seed", default=0, show_default=True, type=int)
def demo(data_dir, units, days, seed):
    """The main job on synthetic data: a week of II and SF files -> every asset into DuckDB ->
    a summary here and an HTML report."""
    from p114_assets.report import write_report

    incoming = data_dir / "incoming"
    started = time.perf_counter()
    out.print(f"[bold]p114 demo[/bold]: {days} settlement days from {DEMO_START}, runs II and SF, {units} BM units")
    generate_range(DEMO_START, DEMO_START + dt.timedelta(days=days - 1), ["II", "SF"], units, seed, incoming)
    summary, warehouse = run_materialize(incoming, data_dir / "p114.duckdb")
    report = write_report(warehouse, data_dir / "report.html", title="p114 demo report")
    out.print(f"report: {report.resolve()}")
    out.print(f"done in {time.perf_counter() - started:.1f} s; explore with `make dev` (Dagster UI on http://127.0.0.1:3000)")
    if not summary.ok:
        sys.exit(1)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def validate(file):
    """Run the per-file checks on one S0142 file, without a warehouse.

    One line per check: PASS / FAIL / SKIP (not run after an earlier failure), severity, name,
    reason. Exit status 1 when an ERROR check fails; WARN failures are printed but exit 0.
    """
    from p114_assets.core.quality import validate_file

    worst = 0
    for name, outcome in validate_file(file):
        if outcome is None:
            click.echo(f"SKIP  -      {name:45} not run")
            continue
        status = "PASS" if outcome.passed else "FAIL"
        click.echo(f"{status}  {outcome.severity:5}  {name:45} {outcome.description}")
        if not outcome.passed and outcome.severity == "ERROR":
            worst = 1
        if not outcome.passed and outcome.failing_rows is not None:
            for row in outcome.failing_rows.head(3).iter_rows(named=True):
                click.echo("      " + ", ".join(f"{k}={v}" for k, v in row.items()))
    sys.exit(worst)


SYMBOLS = {"present": "[green]ok[/green]", "check_failed": "[red]FAIL[/red]", "missing": "[red]miss[/red]",
           "not_due": "[dim]-[/dim]"}  # fmt: skip
LEGEND = "ok loaded · miss due but not loaded · FAIL loaded but failed an ERROR check · - not yet due"


@main.command()
@click.option("--start", required=True, callback=_date, help="first settlement date")
@click.option("--end", callback=_date, help="last settlement date (default: --start)")
@click.option("--warehouse", "warehouse_path", default="data/p114.duckdb", show_default=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--as-of", callback=_date, help="judge what is due as of this date (default: today)")
def status(start, end, warehouse_path, as_of):
    """Coverage: which (date, run type) partitions are loaded, missing, failed a check, or not due.

    Loaded runs come from the warehouse; failed checks from the Dagster instance of DAGSTER_HOME (when
    set); what is due from the settlement calendar (nominal offsets, or actual dates from the file
    named by P114_CALENDAR_CSV). Ranges over two months print a monthly summary.
    """
    import os

    from p114_assets.core.coverage import STATES, coverage_grid, dates_between, totals
    from p114_assets.core.settlement import RUN_TYPES
    from p114_assets.warehouse import sql
    from p114_assets.warehouse.duckdb import DuckDBWarehouse

    end = end or start
    if end < start:
        _fail("status", f"--end {end} is before --start {start}", 2)
    today = as_of or dt.date.today()
    warehouse = DuckDBWarehouse(path=str(warehouse_path))
    present: set = set()
    if warehouse.table_exists("bm_unit_period"):
        rows = warehouse.query(f"SELECT DISTINCT settlement_date, run_type FROM p114.bm_unit_period "
                               f"WHERE {sql.dates_between('settlement_date', start, end)}").to_pylist()  # fmt: skip
        present = {(r["settlement_date"], r["run_type"]) for r in rows}
    failed: set = set()
    if os.getenv("DAGSTER_HOME"):
        from p114_assets.defs.ops.check_history import failed_partitions
        from p114_assets.defs.ops.sensors import CHECK_KEYS
        from p114_assets.local_runner import RAW_KEYS, dagster_instance

        raw_keys = [k for k in CHECK_KEYS if k.asset_key in RAW_KEYS]  # partitioned by (date, run type)
        with dagster_instance() as instance:
            for key in failed_partitions(instance, raw_keys):
                day, run = key.split("|")
                failed.add((dt.date.fromisoformat(day), run))
    else:
        err.print("[dim]DAGSTER_HOME is not set: check results are not shown[/dim]")
    from p114_assets.core.calendar import CalendarError, calendar_from_env

    try:
        calendar = calendar_from_env()
    except CalendarError as exc:
        _fail("status", str(exc), 2)
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
@click.option("--published-from", "first", required=True, callback=_date, help="first publication date to list")
@click.option("--published-to", "last", callback=_date, help="last publication date (default: --published-from)")
@click.option("--dest", required=True, type=click.Path(file_okay=False, path_type=Path), help="folder for the files")
@click.option("--run-types", help="only these run types, e.g. SF,RF (default: all)")
def fetch(first, last, dest, run_types):
    """Download S0142 files from the Elexon Portal by publication date.

    The scripting key is read from ELEXON_PORTAL_KEY and never printed; P114_PORTAL_URL overrides the
    Portal address. Files already in DEST with a complete body are skipped. Exit 1 if any failed.
    """
    from p114_assets.core.coverage import dates_between
    from p114_assets.core.portal import KeyRefused, PortalError, client_from_env
    from p114_assets.core.s0142.layout import FileName

    last = last or first
    if last < first:
        _fail("fetch", f"--published-to {last} is before --published-from {first}", 2)
    try:
        wanted = set(parse_run_types(run_types)) if run_types else None
    except ValueError as exc:
        _fail("fetch", str(exc), 2)
    try:
        portal = client_from_env()
    except KeyRefused as exc:
        _fail("fetch", str(exc), 2)
    files, total, skipped, failed = [], 0, 0, []
    with portal, _progress() as progress:
        days = dates_between(first, last)
        task = progress.add_task("listing", total=len(days), detail="")
        try:
            for day in days:
                listed = portal.list(day)
                files += [n for n in sorted(listed) if wanted is None or FileName.parse(n).run_type in wanted]
                progress.update(task, advance=1, detail=f"{day}: {len(listed)} files")
        except PortalError as exc:  # a refused key included
            _fail("fetch", str(exc))
        task = progress.add_task("downloading", total=len(files), detail="")
        for name in files:
            try:
                got = portal.download(name, dest)
                total += got.bytes if got.downloaded else 0
                skipped += not got.downloaded
            except KeyRefused as exc:
                _fail("fetch", str(exc))
            except PortalError as exc:
                failed.append(str(exc))
            progress.update(task, advance=1, detail=name)
    out.print(f"{len(files)} files listed; {len(files) - skipped - len(failed)} downloaded ({total / 1e6:,.1f} MB), "
              f"{skipped} already present, {len(failed)} failed -> {dest}")  # fmt: skip
    for message in failed:
        err.print(f"[red]failed[/red] {message}")
    sys.exit(1 if failed else 0)


@main.command("plan-backfill")
@click.option("--start", required=True, callback=_date, help="first settlement date")
@click.option("--end", required=True, callback=_date, help="last settlement date")
@click.option("--as-of", callback=_date, help="plan as of this date (default: today)")
@click.option("--launch", "url", help="launch it as a Dagster asset backfill on the webserver at this URL")
@click.option("--local", is_flag=True, help="materialize it here, in-process, in chunks (resources from the environment)")
@click.option("--chunk", "chunk_size", type=click.IntRange(min=1), help="partitions per run (default 7)")
def plan_backfill(start, end, as_of, url, local, chunk_size):
    """Plan a best-available-run backfill: for each settlement date, the most mature run that
    should exist as of a date (RF for old enough dates, then R3, R2, R1, SF, II), by the settlement
    calendar (P114_CALENDAR_CSV overrides the nominal offsets). Prints a summary by run type;
    --launch starts an asset backfill of exactly those partitions on a running Dagster webserver,
    --local materializes them in-process in chunks (a failed chunk does not stop the others)."""
    from p114_assets.core.backfill import best_available_plan, summary
    from p114_assets.core.calendar import CalendarError, calendar_from_env
    from p114_assets.defs.partitions import BACKFILL_CHUNK, partition_key

    if end < start:
        _fail("plan-backfill", f"--end {end} is before --start {start}", 2)
    if url and local:
        _fail("plan-backfill", "choose --launch or --local, not both", 2)
    try:
        calendar = calendar_from_env()
    except CalendarError as exc:
        _fail("plan-backfill", str(exc), 2)
    as_of = as_of or dt.date.today()
    plan = best_available_plan(start, end, as_of, calendar)
    table = Table(title=f"best available runs for {start} .. {end} as of {as_of}")
    for column in ("run type", "dates", "first", "last"):
        table.add_column(column, justify="right" if column == "dates" else "left")
    for run, count, first, last in summary(plan):
        table.add_row(run, f"{count:,}", str(first), str(last))
    out.print(table)
    partitions = [(day, run) for day, run in plan.items() if run]
    chunk_size = chunk_size or BACKFILL_CHUNK
    if url:
        from p114_assets.launcher import LaunchError, launch_backfill
        from p114_assets.local_runner import RAW_KEYS

        try:
            backfill = launch_backfill(url, [k.to_user_string() for k in RAW_KEYS], [str(partition_key(*p)) for p in partitions],
                                       title=f"p114 best available runs {start}..{end} as of {as_of}",
                                       tags={"p114/plan": "best-available", "p114/as_of": as_of.isoformat()})  # fmt: skip
        except LaunchError as exc:
            _fail("plan-backfill", str(exc))
        out.print(f"launched backfill {backfill}: {len(partitions):,} partitions of {len(RAW_KEYS)} assets on {url}")
    elif local:
        from p114_assets.defs.resources import resources_from_env

        resources = resources_from_env()
        result = _run_with_progress(partitions, resources, chunk_size, "p114 plan-backfill")
        _print_summary(result, resources["warehouse"].location())
        if not result.ok:
            sys.exit(1)


@main.command()
@click.option("--warehouse", "warehouse_path", default="data/p114.duckdb", show_default=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_file", default="data/report.html", show_default=True, type=click.Path(dir_okay=False, path_type=Path))
def report(warehouse_path, out_file):
    """Write the static HTML report of a DuckDB warehouse."""
    from p114_assets.report import write_report
    from p114_assets.warehouse.duckdb import DuckDBWarehouse

    if not warehouse_path.exists():
        _fail("report", f"no warehouse at {warehouse_path}")
    path = write_report(DuckDBWarehouse(path=str(warehouse_path)), out_file)
    out.print(f"report: {path.resolve()}")


if __name__ == "__main__":
    main()
