"""The `p114` command: the click group and what its commands share (one-line errors, progress
bars, the date option, --verbose). Thin: argument parsing, progress, exit codes; the work is in the
package. A module per command group: files (generate, parse, validate), load (materialize, demo,
plan-backfill), inspect (status, report), portal (fetch), export (export); paths holds the checked
path arguments.

The error contract: every error is one line on stderr, `p114 <command>: <what went wrong>`, naming
files by their full path, and a non-zero exit status: 2 for a usage error or an environment
variable p114 cannot use (checked before any command runs), 1 for everything else. `--verbose`, on
every command, shows Dagster's own logs and the traceback of an unexpected error.
Part of app; the heavy imports (Dagster, the runner) are made inside the commands that need them.
"""

from __future__ import annotations

import datetime as dt
import errno
import sys
import traceback
import warnings

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from p114_assets import config
from p114_assets.config import ConfigError
from p114_assets.core.settlement import FIRST_SETTLEMENT_DATE

out = Console()
err = Console(stderr=True)

# Dates a command accepts, and the longest range: beyond them a command would run for minutes (the
# calendar of 200 years) or overflow (the publication stamp of 9999-12-31).
LAST_DATE = dt.date(2099, 12, 31)
MAX_RANGE_DAYS = 3653  # ten years

# Dagster marks backfill policies "beta" and partitioned checks "preview" at definition time; users
# of the CLI cannot act on that.
warnings.filterwarnings("ignore", message=r".*is currently in (beta|preview).*")


class CliError(Exception):
    """An error a command reports as its one line (status 1, or 2 for a usage error)."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


def _fail(command: str, message: str, status: int = 1) -> None:
    click.echo(f"p114 {command}: {message}", err=True)
    sys.exit(status)


def verbose() -> bool:
    """Whether the running command was given --verbose."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.find_root().meta.get("p114.verbose"))


def _date(ctx, param, value):
    if value is None or isinstance(value, dt.date):
        return value
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None
    if not FIRST_SETTLEMENT_DATE <= day <= LAST_DATE:
        raise click.BadParameter(f"{day} is outside {FIRST_SETTLEMENT_DATE} (the first BSC settlement date) .. {LAST_DATE}")
    return day


def date_range(command: str, start: dt.date, end: dt.date | None, names: tuple[str, str] = ("--start", "--end")) -> dt.date:
    """`end` (default: `start`), checked: not before `start`, and at most ten years after it."""
    end = end or start
    if end < start:
        _fail(command, f"{names[1]} {end} is before {names[0]} {start}", 2)
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        _fail(command, f"{start} .. {end} is {(end - start).days + 1:,} days; at most {MAX_RANGE_DAYS:,} (ten years) at once", 2)
    return end


def open_warehouse(path=None, must_exist: bool = True):
    """The warehouse a command works on: the DuckDB file given with --warehouse, else the one
    P114_WAREHOUSE picks (through config.py, as the Dagster definitions do). A DuckDB file is
    checked first (missing, a folder, not a DuckDB database: one line naming its full path); a new
    one is announced, never created silently."""
    from pathlib import Path

    from p114_assets.app.cli.paths import warehouse_problem
    from p114_assets.defs.resources import warehouse_from_env
    from p114_assets.warehouse.duckdb import DuckDBWarehouse

    warehouse = DuckDBWarehouse(path=str(path)) if path is not None else warehouse_from_env(outside_dagster=True)
    if isinstance(warehouse, DuckDBWarehouse):
        full = Path(warehouse.path).absolute()
        problem = warehouse_problem(full, must_exist)
        if problem:
            raise CliError(problem)
        if not full.exists():
            err.print(f"[dim]new warehouse: {full}[/dim]", soft_wrap=True)
        warehouse = DuckDBWarehouse(path=str(full))
    return warehouse


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), console=err, transient=False)  # fmt: skip


def describe(exc: BaseException) -> str:
    """One line for an error no command expected: a full disk named as such, an OS error with its
    full path, else the exception's type and first line."""
    seen: BaseException | None = exc
    while seen is not None:  # a full disk is the real cause, however deep it is wrapped
        text = str(seen)
        if (isinstance(seen, OSError) and seen.errno == errno.ENOSPC) or "No space left on device" in text:
            where = f" writing {seen.filename}" if isinstance(seen, OSError) and seen.filename else ""
            return f"No space left on device{where}"
        seen = seen.__cause__ or seen.__context__
    if isinstance(exc, OSError) and exc.strerror:
        from pathlib import Path

        return f"{exc.strerror}: {Path(exc.filename).absolute()}" if exc.filename else exc.strerror
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _set_verbose(ctx: click.Context, param, value: bool) -> None:
    if value:
        ctx.find_root().meta["p114.verbose"] = True


class _Command(click.Command):
    """Every command takes --verbose."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.params.append(click.Option(["--verbose"], is_flag=True, expose_value=False, is_eager=True, callback=_set_verbose,
                                        help="show Dagster's logs and the traceback of an unexpected error"))  # fmt: skip

    def invoke(self, ctx: click.Context):
        config.check_all()  # every environment variable, before any work (after --help): one line naming it
        return super().invoke(ctx)


def _command_path(ctx: click.Context | None) -> str:
    names = []
    while ctx is not None and ctx.parent is not None:
        names.append(ctx.info_name)
        ctx = ctx.parent
    return " ".join(["p114", *reversed(names)])


class _Group(click.Group):
    command_class = _Command

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """Click's main with its error format replaced by the one-line contract (click prints usage
        errors as four lines)."""
        try:
            value = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:  # `p114` alone: its help, as --help gives it
            click.echo(exc.format_message())
            sys.exit(0)
        except click.ClickException as exc:  # usage errors, bad parameters
            click.echo(f"{_command_path(getattr(exc, 'ctx', None))}: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except (click.Abort, KeyboardInterrupt):
            click.echo("p114: interrupted", err=True)
            sys.exit(130)
        if not standalone_mode:
            return value
        sys.exit(value if isinstance(value, int) else 0)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ConfigError as exc:  # an environment variable p114 cannot use: one line naming it
            _fail(ctx.invoked_subcommand or "", str(exc), 2)
        except CliError as exc:
            _fail(ctx.invoked_subcommand or "", str(exc), exc.status)
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # anything unforeseen is still one line; --verbose shows where it came from
            if verbose():
                traceback.print_exc()
            _fail(ctx.invoked_subcommand or "", describe(exc) + ("" if verbose() else " (--verbose shows the traceback)"))


@click.group("p114", cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="p114-assets")
def main() -> None:
    """p114: Elexon P114 S0142 settlement files into a warehouse, with Dagster.

    Errors are one line on stderr (`p114 <command>: ...`) with exit status 2 (usage, environment)
    or 1; every command takes --verbose."""


# The commands register themselves on `main` when their modules are imported.
from p114_assets.app.cli import export, files, inspect, load, portal  # noqa: E402, F401

if __name__ == "__main__":
    main()
