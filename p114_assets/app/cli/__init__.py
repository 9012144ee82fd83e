"""The `p114` command: the click group and what its commands share (one-line errors, progress
bars, the date option). Thin: argument parsing, progress, exit codes; the work is in the package.
A module per command group: files (generate, parse, validate), load (materialize, demo,
plan-backfill), inspect (status, report), portal (fetch).

Errors are one line on stderr (`p114 <command>: <what went wrong>`) and a non-zero exit status.
Part of app; the heavy imports (Dagster, the runner) are made inside the commands that need them.
"""

from __future__ import annotations

import datetime as dt
import sys
import warnings

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from p114_assets.config import ConfigError

out = Console()
err = Console(stderr=True)

# Dagster marks backfill policies "beta" and partitioned checks "preview" at definition time; users
# of the CLI cannot act on that.
warnings.filterwarnings("ignore", message=r".*is currently in (beta|preview).*")


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


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ConfigError as exc:  # an environment variable p114 cannot use: one line naming it
            _fail(ctx.invoked_subcommand or "", str(exc), 2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="p114-assets")
def main() -> None:
    """p114: Elexon P114 S0142 settlement files into a warehouse, with Dagster."""


# The commands register themselves on `main` when their modules are imported.
from p114_assets.app.cli import files, inspect, load, portal  # noqa: E402, F401

if __name__ == "__main__":
    main()
