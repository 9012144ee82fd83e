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


def run_materialize(source: Path, warehouse_path: Path, start=None, end=None):
    from p114_assets.local_runner import materialize_folder, planned_runs
    from p114_assets.warehouse.duckdb import DuckDBWarehouse

    runs = planned_runs(source, start, end)
    if not runs:
        _fail("materialize", f"no S0142 files in {source}" + (f" between {start} and {end}" if start or end else ""))
    warehouse = DuckDBWarehouse(path=str(warehouse_path))
    with _progress() as progress:
        task = progress.add_task("materializing", total=runs, detail="")

        def advance(label, ok):
            progress.update(task, advance=1, detail=f"{label} {'ok' if ok else 'FAILED'}")

        summary = materialize_folder(source, warehouse, start, end, on_partition=advance)
    _print_summary(summary, warehouse.location())
    return summary, warehouse


@main.command()
@click.option("--source", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path), help="folder of S0142 files")
@click.option("--warehouse", "warehouse_path", default="data/p114.duckdb", show_default=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--start", callback=_date, help="only settlement dates from this one")
@click.option("--end", callback=_date, help="only settlement dates up to this one")
def materialize(source, warehouse_path, start, end):
    """Materialize every asset, in-process, for the files found in a folder, into a DuckDB file."""
    summary, _ = run_materialize(source, warehouse_path, start, end)
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
    set); what is due from the settlement calendar. Ranges over two months print a monthly summary.
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
        from p114_assets.local_runner import dagster_instance

        raw_keys = [k for k in CHECK_KEYS if k.asset_key.to_user_string() not in ("settlement_canonical",)]
        with dagster_instance() as instance:
            for key in failed_partitions(instance, raw_keys):
                day, run = key.split("|")
                failed.add((dt.date.fromisoformat(day), run))
    else:
        err.print("[dim]DAGSTER_HOME is not set: check results are not shown[/dim]")
    dates = dates_between(start, end)
    grid = coverage_grid(dates, present, failed, today)
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
