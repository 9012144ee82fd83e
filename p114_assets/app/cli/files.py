"""`p114 generate`, `p114 parse`, `p114 validate`: S0142 files on their own, no warehouse."""

from __future__ import annotations

import datetime as dt
import shutil
import sys
import tempfile
import time
from pathlib import Path

import click
import pyarrow.parquet as pq
from rich.table import Table

from p114_assets.app.cli import CliError, _date, _fail, _progress, date_range, describe, main, out
from p114_assets.app.cli.paths import INPUT_FILE, OUTPUT_FOLDER
from p114_assets.core.synthetic import DEFAULT_UNITS, SyntheticMarket, generate_file
from p114_assets.core.s0142.parser import S0142Error, parse_file
from p114_assets.core.settlement import parse_run_types


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
                try:
                    path = generate_file(market, day, run).write(out_dir)  # through a .part file, removed on failure
                except OSError as exc:  # a full disk above all: name it, and the folder
                    raise CliError(f"{describe(exc)} (writing {day} {run} to {Path(out_dir).absolute()})") from None
                paths.append(path)
                progress.update(task, advance=1, detail=path.name)
    return paths

@main.command()
@click.option("--start", required=True, callback=_date, help="first settlement date, YYYY-MM-DD")
@click.option("--end", callback=_date, help="last settlement date (default: --start)")
@click.option("--run-types", default="II,SF", show_default=True, help="comma-separated run types")
@click.option("--units", default=DEFAULT_UNITS, show_default=True, type=click.IntRange(min=9), help="BM units (real files: about 8,000)")
@click.option("--seed", default=0, show_default=True, type=int, help="seed: same seed and arguments, same bytes")
@click.option("--out", "out_dir", default="data/incoming", show_default=True, type=OUTPUT_FOLDER)
def generate(start, end, run_types, units, seed, out_dir):
    """Write synthetic S0142 files (real format, real names) for a range of settlement dates."""
    end = date_range("generate", start, end)
    try:
        runs = parse_run_types(run_types)
    except ValueError as exc:
        _fail("generate", str(exc), 2)
    started = time.perf_counter()
    paths = generate_range(start, end, runs, units, seed, out_dir)
    size = sum(p.stat().st_size for p in paths)
    out.print(f"wrote {len(paths)} files ({size / 1e6:,.1f} MB) to {out_dir} in {time.perf_counter() - started:.1f} s")

@main.command()
@click.argument("file", type=INPUT_FILE)
@click.option("--out", "out_dir", required=True, type=OUTPUT_FOLDER, help="folder for <table>.parquet")
def parse(file, out_dir):
    """Parse one S0142 file (gz or plain) into one Parquet file per table.

    On invalid input: exit status 1, one line on stderr naming the file, the line (where there is
    one) and the reason, and no output files at all.
    """
    started = time.perf_counter()
    try:
        parsed = parse_file(file)
    except S0142Error as exc:
        _fail("parse", f"{file}{f', line {exc.line}' if exc.line else ''}: {exc.reason}")
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

@main.command()
@click.argument("file", type=INPUT_FILE)
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
