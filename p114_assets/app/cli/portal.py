"""`p114 fetch`: S0142 files from the Elexon Portal, by publication date."""

from __future__ import annotations

import sys

import click

from p114_assets import config
from p114_assets.app.cli import _date, _fail, _progress, date_range, err, main, out
from p114_assets.app.cli.paths import OUTPUT_FOLDER
from p114_assets.core.settlement import parse_run_types


@main.command()
@click.option("--published-from", "first", required=True, callback=_date, help="first publication date to list")
@click.option("--published-to", "last", callback=_date, help="last publication date (default: --published-from)")
@click.option("--dest", required=True, type=OUTPUT_FOLDER, help="folder for the files")
@click.option("--run-types", help="only these run types, e.g. SF,RF (default: all)")
def fetch(first, last, dest, run_types):
    """Download S0142 files from the Elexon Portal by publication date.

    The scripting key is read from ELEXON_PORTAL_KEY and never printed; P114_PORTAL_URL overrides the
    Portal address. Files already in DEST with a complete body are skipped. Exit 1 if any failed.
    """
    from p114_assets.core.coverage import dates_between
    from p114_assets.core.portal import KeyRefused, PortalError
    from p114_assets.core.s0142.files import FileName

    last = date_range("fetch", first, last, ("--published-from", "--published-to"))
    try:
        wanted = set(parse_run_types(run_types)) if run_types else None
    except ValueError as exc:
        _fail("fetch", str(exc), 2)
    try:
        portal = config.portal_client()
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
