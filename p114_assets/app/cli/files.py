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
from p114_assets.core.synthetic import DEFAULT_UNITS, MIN_UNITS, SyntheticMarket, generate_file
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
@click.option("--units", default=DEFAULT_UNITS, show_default=True, type=click.IntRange(min=MIN_UNITS), help="BM units (real files: about 8,000)")
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
    reason; the settlement identities are WARN checks; the ZZZ checksum is shown as INFO ("matches"
    or "differs" from the IDD algorithm) and fails nothing. Exit status 1 when an ERROR check fails;
    WARN failures are printed but exit 0.
    """
    from p114_assets.core.quality import validate_file

    worst = 0
    for name, outcome in validate_file(file):
        if outcome is None:
            click.echo(f"SKIP  -      {name:45} not run")
            continue
        status = "INFO" if outcome.severity == "INFO" else "PASS" if outcome.passed else "FAIL"
        click.echo(f"{status}  {outcome.severity if outcome.severity != 'INFO' else '-':5}  {name:45} {outcome.description}")
        if not outcome.passed and outcome.severity == "ERROR":
            worst = 1
        if not outcome.passed and outcome.failing_rows is not None:
            for row in outcome.failing_rows.head(3).iter_rows(named=True):
                click.echo("      " + ", ".join(f"{k}={v}" for k, v in row.items()))
    sys.exit(worst)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="write the whole profile here as JSON")
@click.option("--compare", "reference", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="a profile JSON to compare with: `p114 profile --json`, or several under 'profiles' / 'files'")
@click.option("--tolerance", default=0.25, show_default=True, type=click.FloatRange(min=0),
              help="relative difference of a share beyond which --compare reports it")
@click.option("--no-samples", is_flag=True, help="leave out the three sample values per field: no settlement value at all")
def profile(file, json_out, reference, tolerance, no_samples):
    """Profile one S0142 file (gz or plain) field by field, in one pass.

    Per record type and position: blank / integer / decimal / text counts, negative / zero /
    positive counts, distinct values (capped at 1,000) and three samples; record counts, BM units
    by prefix, BP7 18-25 fill by prefix; and a layout report: each [I] or [?] fact the layout states
    (twins, identities, signs, ranges, the checksum) and whether this file confirms it. A profile
    holds no settlement values beyond the three samples per field, and --no-samples drops those,
    so a licensee can share the profile of a file they may not share.
    """
    import json

    from p114_assets.core.atomic_write import write_atomically
    from p114_assets.core.s0142.profile import compare, profile_file, profiles_in

    started = time.perf_counter()
    try:
        result = profile_file(file, samples=not no_samples)
    except S0142Error as exc:
        _fail("profile", str(exc))
    seconds = time.perf_counter() - started
    out.print(f"{result['file']}: {result['lines']:,} lines, {result['bytes']:,} bytes, {result.get('bm_units', 0):,} BM units, "
              f"profiled in {seconds:.2f} s")  # fmt: skip
    _print_profile(result)
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(json_out, json.dumps(result, indent=1))
        out.print(f"profile: {json_out}")
    if reference:
        try:
            references = profiles_in(json.loads(reference.read_text()))
        except (OSError, ValueError) as exc:
            _fail("profile", f"cannot read {reference}: {exc}")
        for other in references:
            differences = compare(result, other, tolerance)
            out.print(f"[bold]against {other.get('file', reference.name)}[/bold]: {len(differences)} difference(s) beyond "
                      f"{tolerance:.0%}")  # fmt: skip
            for line in differences:
                out.print(f"  {line}", highlight=False)


def _print_profile(result: dict) -> None:
    """Record counts and widths, BM units by prefix, BP7 tails, and the layout report."""
    records = Table(title="records")
    for column in ("record", "lines", "fields"):
        records.add_column(column, justify="left" if column == "record" else "right")
    widths: dict[str, list[str]] = {}
    for key in result["field_counts"]:
        rid, width = key.split("/")
        widths.setdefault(rid, []).append(width)
    for rid, count in result["record_types"].items():
        records.add_row(rid, f"{count:,}", ", ".join(widths.get(rid, [])))
    out.print(records)
    if result.get("bm_units_by_prefix"):
        out.print("BM units by prefix: " + ", ".join(f"{p} {n:,}" for p, n in result["bm_units_by_prefix"].items()))
        out.print("BP7 18-25 filled, by prefix: " + "; ".join(
            f"{p} " + " ".join(f"{pos}:{n:,}" for pos, n in fill.items()) for p, fill in result["bp7_tail_nonblank_by_prefix"].items()))
    report = Table(title="layout report: what this file says about the layout's [I] / [?] facts")
    for column in ("fact", "mark", "verdict", "counts"):
        report.add_column(column, overflow="fold")
    verdicts = {True: "[green]confirmed[/green]", False: "[red]contradicted[/red]", None: "[dim]not evaluated[/dim]"}
    for fact in result["layout_report"]:
        counts = ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in fact["counts"].items())
        report.add_row(fact["statement"], fact["mark"], verdicts[fact["confirmed"]], counts)
    out.print(report)
