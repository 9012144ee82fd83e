"""Path arguments, checked before a command does any work, each problem one line naming the full
path: a folder given for a file or a file for a folder, a FIFO or a device (reading one would hang),
a missing parent folder (never created silently), an unwritable folder, a file that is not a DuckDB
database given as a warehouse."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import click

from p114_assets.warehouse.duckdb import duckdb_file_problem


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):  # fmt: skip
        if test(mode):
            return name
    return "not a regular file"


def input_file_problem(path: Path) -> str | None:
    """Why `path` cannot be read as a file (None: it can)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return f"no such file: {path}"
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror}"
    if stat.S_ISDIR(mode):
        return f"{path} is a folder, not a file"
    if not stat.S_ISREG(mode):
        return f"{path} is {_kind(mode)}, not a regular file"
    if not os.access(path, os.R_OK):
        return f"cannot read {path}: permission denied"
    return None


def _nearest_existing(path: Path) -> Path:
    for parent in path.parents:
        if parent.exists():
            return parent
    return Path(path.anchor)


def output_file_problem(path: Path) -> str | None:
    """Why a file cannot be written at `path` (None: it can). Its folder must exist already."""
    if path.exists():
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            return f"{path} is a folder, not a file"
        if not stat.S_ISREG(mode):
            return f"{path} is {_kind(mode)}, not a regular file"
    folder = path.parent
    if not folder.exists():
        anchor = _nearest_existing(path)
        if not anchor.is_dir():
            return f"cannot write {path}: {anchor} is a file, not a folder"
        return f"cannot write {path}: the folder {folder} does not exist"
    if not folder.is_dir():
        return f"cannot write {path}: {folder} is a file, not a folder"
    if not os.access(folder, os.W_OK):
        return f"cannot write {path}: the folder {folder} is not writable"
    return None


def output_folder_problem(path: Path) -> str | None:
    """Why files cannot be written in the folder `path`, created if missing (None: they can)."""
    if path.exists():
        if not path.is_dir():
            return f"{path} is a file, not a folder"
        return None if os.access(path, os.W_OK) else f"the folder {path} is not writable"
    anchor = _nearest_existing(path)
    if not anchor.is_dir():
        return f"cannot create the folder {path}: {anchor} is a file, not a folder"
    if not os.access(anchor, os.W_OK):
        return f"cannot create the folder {path}: {anchor} is not writable"
    return None


def input_folder_problem(path: Path) -> str | None:
    if not path.exists():
        return f"no such folder: {path}"
    if not path.is_dir():
        return f"{path} is a file, not a folder"
    return None


def warehouse_problem(path: Path, must_exist: bool) -> str | None:
    """Why `path` cannot be used as a DuckDB warehouse: readers need one that exists; writers may
    create it (its folder too, as a default location needs)."""
    if not path.exists():
        if must_exist:
            return f"no warehouse at {path}: materialize something first, or name one with --warehouse"
        anchor = _nearest_existing(path)
        if not anchor.is_dir():
            return f"cannot create a warehouse at {path}: {anchor} is a file, not a folder"
        return None
    return input_file_problem(path) or duckdb_file_problem(path)


class CheckedPath(click.ParamType):
    """A click path type that checks with one of the functions above and hands the command the
    absolute path (so every later message names it in full)."""

    name = "path"

    def __init__(self, check):
        self.check = check

    def convert(self, value, param, ctx) -> Path:
        if isinstance(value, Path) and value.is_absolute():
            path = value
        else:
            path = Path(os.path.abspath(Path(value).expanduser()))
        problem = self.check(path)
        if problem:
            self.fail(problem, param, ctx)
        return path


INPUT_FILE = CheckedPath(input_file_problem)
INPUT_FOLDER = CheckedPath(input_folder_problem)
OUTPUT_FILE = CheckedPath(output_file_problem)
OUTPUT_FOLDER = CheckedPath(output_folder_problem)
WAREHOUSE_TO_READ = CheckedPath(lambda p: warehouse_problem(p, must_exist=True))
WAREHOUSE_TO_WRITE = CheckedPath(lambda p: warehouse_problem(p, must_exist=False))
