"""The error contract, command by command and misuse by misuse: one line on stderr,
`p114 <command>: ...`, naming files by their full path, exit status 2 for usage and environment
errors and 1 for the rest, no traceback, and nothing left behind. Misuses that once hung or ran out
of memory (a FIFO or a device given as a file, a 200-year status) run as real processes with a time
limit."""

from __future__ import annotations

import errno
import gzip
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from p114_assets.app.cli import main
from p114_assets_tests.conftest import fixture_text

COMMANDS = ["generate", "parse", "validate", "materialize", "demo", "status", "report", "fetch", "plan-backfill", "export"]

# Arguments that would work, per command; {t} is the test's folder. Each misuse below changes one thing.
VALID = {
    "generate": ["--start", "2024-01-01", "--units", "9", "--out", "{t}/out"],
    "parse": ["{t}/S0142_20240101_II_20240115103000.gz", "--out", "{t}/out"],
    "validate": ["{t}/S0142_20240101_II_20240115103000.gz"],
    "materialize": ["--source", "{t}/folder", "--warehouse", "{t}/new.duckdb"],
    "demo": ["--data-dir", "{t}/out", "--days", "1", "--units", "9"],
    "status": ["--start", "2024-01-01", "--warehouse", "{t}/w.duckdb"],
    "report": ["--warehouse", "{t}/w.duckdb", "--out", "{t}/r.html"],
    "fetch": ["--published-from", "2024-01-01", "--dest", "{t}/out"],
    "plan-backfill": ["--start", "2024-01-01", "--end", "2024-01-02", "--as-of", "2024-06-01"],
    "export": ["bm_unit_period", "--start", "2024-01-01", "--out", "{t}/x.csv", "--warehouse", "{t}/w.duckdb"],
}

# (command, arguments, exit status, what the one line says); {t} is the test's folder, in full.
MISUSES = [
    # usage errors: click's four lines become one
    *[(c, [*VALID[c], "--bogus"], 2, "No such option '--bogus'") for c in COMMANDS],
    ("generate", ["--units", "9"], 2, "Missing option '--start'"),
    ("status", ["--start", "2024-13-01"], 2, "Invalid value for '--start': '2024-13-01' is not a date (YYYY-MM-DD)"),
    ("export", ["bm_unit_period", "--start", "2024-01-01", "--format", "pdf", "--out", "{t}/x.pdf"], 2, "Invalid value for '--format'"),
    ("export", ["bm_unit_period", "--start", "2024-01-01", "--out", "{t}/x.txt", "--warehouse", "{t}/w.duckdb"], 2,
     "say --format csv|parquet|xlsx: {t}/x.txt has no extension that names one"),
    ("export", ["no_such_table", "--start", "2024-01-01", "--out", "{t}/x.csv", "--warehouse", "{t}/w.duckdb"], 2, "no table 'no_such_table'"),
    ("export", ["run_reconciliation", "--start", "2024-06-05", "--run-types", "SF", "--out", "{t}/x.csv", "--warehouse", "{vlp}"], 2,
     "run_reconciliation has no run_type column to filter on"),
    ("export", ["vlp_party_daily", "--start", "2024-01-01", "--out", "{t}/x.csv", "--warehouse", "{t}/w.duckdb"], 1,
     "vlp_party_daily is not in duckdb:{t}/w.duckdb yet: materialize it first"),
    # dates out of bounds and ranges too long
    ("generate", ["--start", "9999-12-31", "--out", "{t}/out"], 2, "9999-12-31 is outside 2001-03-27 (the first BSC settlement date) .. 2099-12-31"),
    ("plan-backfill", ["--start", "1990-01-01", "--end", "1990-01-02"], 2, "1990-01-01 is outside 2001-03-27"),
    ("fetch", ["--published-from", "2024-02-01", "--published-to", "2024-01-01", "--dest", "{t}/out"], 2,
     "--published-to 2024-01-01 is before --published-from 2024-02-01"),
    ("status", ["--start", "2005-01-01", "--end", "2025-12-31", "--warehouse", "{t}/w.duckdb"], 2,
     "2005-01-01 .. 2025-12-31 is 7,670 days; at most 3,653 (ten years) at once"),
    ("export", ["bm_unit_period", "--start", "2024-02-01", "--end", "2024-01-01", "--out", "{t}/x.csv", "--warehouse", "{t}/w.duckdb"], 2,
     "--end 2024-01-01 is before --start 2024-02-01"),
    # a missing or invalid warehouse, a folder or a file in the wrong place
    *[(c, ["--start", "2024-01-01", "--warehouse", "{t}/missing.duckdb"] if c == "status" else
           (["--warehouse", "{t}/missing.duckdb"] if c == "report" else ["bm_unit_period", "--start", "2024-01-01", "--out", "{t}/x.csv",
                                                                        "--warehouse", "{t}/missing.duckdb"]),
       2, "no warehouse at {t}/missing.duckdb") for c in ("status", "report", "export")],
    *[(c, [*VALID[c][:VALID[c].index("--warehouse")], "--warehouse", bad, *VALID[c][VALID[c].index("--warehouse") + 2:]], 2, said)
      for c in ("status", "report", "export", "materialize")
      for bad, said in (("{t}/folder", "{t}/folder is a folder, not a file"),
                        ("{t}/S0142_20240101_II_20240115103000.gz", "{t}/S0142_20240101_II_20240115103000.gz is not a DuckDB database (a gzip file)"),
                        ("{t}/notes.txt", "{t}/notes.txt is not a DuckDB database (another kind of file)"),
                        ("{t}/notes.txt/w.duckdb", "cannot" if c == "materialize" else "no warehouse at {t}/notes.txt/w.duckdb"))],
    ("materialize", ["--source", "{t}/S0142_20240101_II_20240115103000.gz"], 2, "{t}/S0142_20240101_II_20240115103000.gz is a file, not a folder"),
    ("materialize", ["--source", "{t}/missing"], 2, "no such folder: {t}/missing"),
    ("generate", ["--start", "2024-01-01", "--out", "{t}/notes.txt"], 2, "{t}/notes.txt is a file, not a folder"),
    ("generate", ["--start", "2024-01-01", "--out", "{t}/notes.txt/sub"], 2, "cannot create the folder {t}/notes.txt/sub: {t}/notes.txt is a file, not a folder"),
    ("parse", ["{t}/S0142_20240101_II_20240115103000.gz", "--out", "{t}/notes.txt"], 2, "{t}/notes.txt is a file, not a folder"),
    ("fetch", ["--published-from", "2024-01-01", "--dest", "{t}/notes.txt"], 2, "{t}/notes.txt is a file, not a folder"),
    ("demo", ["--data-dir", "{t}/notes.txt"], 2, "{t}/notes.txt is a file, not a folder"),
    ("parse", ["{t}/folder", "--out", "{t}/out"], 2, "{t}/folder is a folder, not a file"),
    ("validate", ["{t}/folder"], 2, "{t}/folder is a folder, not a file"),
    ("parse", ["{t}/missing.gz", "--out", "{t}/out"], 2, "no such file: {t}/missing.gz"),
    ("validate", ["{t}/missing.gz"], 2, "no such file: {t}/missing.gz"),
    ("report", ["--warehouse", "{t}/w.duckdb", "--out", "{t}/folder"], 2, "{t}/folder is a folder, not a file"),
    ("report", ["--warehouse", "{t}/w.duckdb", "--out", "{t}/missing/r.html"], 2, "cannot write {t}/missing/r.html: the folder {t}/missing does not exist"),
    ("report", ["--warehouse", "{t}/w.duckdb", "--out", "{t}/notes.txt/r.html"], 2, "cannot write {t}/notes.txt/r.html: {t}/notes.txt is a file, not a folder"),
    ("export", ["bm_unit_period", "--start", "2024-01-01", "--out", "{t}/notes.txt/x.csv", "--warehouse", "{t}/w.duckdb"], 2,
     "cannot write {t}/notes.txt/x.csv: {t}/notes.txt is a file, not a folder"),
    ("export", ["bm_unit_period", "--start", "2024-01-01", "--out", "{t}/folder", "--warehouse", "{t}/w.duckdb"], 2, "{t}/folder is a folder, not a file"),
    # a relative path is named in full
    ("validate", ["missing.gz"], 2, "no such file: {cwd}/missing.gz"),
]  # fmt: skip

# Environment variables set to garbage: every command stops before it starts, naming the variable.
ENV_GARBAGE = [
    ("P114_WAREHOUSE", "postgres", "P114_WAREHOUSE='postgres': expected one of duckdb, bigquery"),
    ("P114_SOURCE", "ftp", "P114_SOURCE='ftp': expected one of portal, folder, generator"),
    ("P114_BACKFILL_CHUNK", "seven", "P114_BACKFILL_CHUNK='seven': expected a whole number >= 1"),
    ("P114_START_DATE", "1/1/22", "P114_START_DATE='1/1/22': expected a date YYYY-MM-DD"),
    ("P114_GENERATOR_UNITS", "many", "P114_GENERATOR_UNITS='many': expected a whole number >= 9"),
    ("DAGSTER_HOME", "dagster_home", "DAGSTER_HOME='dagster_home': expected an absolute path"),
]


@pytest.fixture
def place(tmp_path: Path, monkeypatch, vlp_warehouse) -> Path:
    """A folder holding what the misuses point at: a folder, a text file, an S0142 file, a FIFO,
    an empty DuckDB warehouse, one with tables; the working directory too."""
    import shutil

    shutil.copy(vlp_warehouse, tmp_path / "vlp.duckdb")
    (tmp_path / "folder").mkdir()
    (tmp_path / "notes.txt").write_text("not a warehouse\n")
    (tmp_path / "S0142_20240101_II_20240115103000.gz").write_bytes(gzip.compress(fixture_text("hand_written_ii.s0142").encode()))
    os.mkfifo(tmp_path / "pipe.gz")
    duckdb.connect(str(tmp_path / "w.duckdb")).close()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _fill(values: list[str], place: Path) -> list[str]:
    vlp = str(place / "vlp.duckdb")  # a warehouse holding the VLP fixture's tables (see `place`)
    return [v.replace("{t}", str(place)).replace("{cwd}", str(Path.cwd())).replace("{vlp}", vlp) for v in values]


def _assert_one_line(result, command: str, status: int, said: str) -> None:
    assert result.exit_code == status, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"p114 {command}: "), lines[0]
    assert said in lines[0], lines[0]
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("command, args, status, said", MISUSES,
                         ids=[f"{m[0]}-{i}" for i, m in enumerate(MISUSES)])  # fmt: skip
def test_a_misuse_is_one_line(place, command, args, status, said):
    before = sorted(p.name for p in place.iterdir())
    result = CliRunner().invoke(main, [command, *_fill(args, place)], catch_exceptions=False)
    _assert_one_line(result, command, status, _fill([said], place)[0])
    assert sorted(p.name for p in place.iterdir()) == before  # nothing created, nothing left behind


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("variable, value, said", ENV_GARBAGE, ids=[v[0] for v in ENV_GARBAGE])
def test_an_unusable_environment_variable_stops_every_command(place, command, variable, value, said):
    result = CliRunner().invoke(main, [command, *_fill(VALID[command], place)], env={variable: value}, catch_exceptions=False)
    _assert_one_line(result, command, 2, said)
    assert not (place / "out").exists()


def test_the_valid_arguments_are_valid(place):
    """The misuses above change one thing each: these, unchanged, get past every check."""
    for command in ("validate", "status", "plan-backfill", "parse"):
        result = CliRunner().invoke(main, [command, *_fill(VALID[command], place)], catch_exceptions=False)
        assert result.exit_code in (0, 1) and not result.stderr.startswith(f"p114 {command}:"), (command, result.output)
        assert result.exit_code == 0 or command == "validate"  # the hand-written file has 2 periods: checks FAIL


def _run(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("P114_", "DAGSTER_HOME"))}
    return subprocess.run([sys.executable, "-c", "from p114_assets.app.cli import main; main()", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


@pytest.mark.parametrize("args, said", [
    (["validate", "{t}/pipe.gz"], "{t}/pipe.gz is a FIFO, not a regular file"),
    (["validate", "/dev/zero"], "/dev/zero is a character device, not a regular file"),  # read it and memory runs out
    (["parse", "{t}/pipe.gz", "--out", "{t}/out"], "{t}/pipe.gz is a FIFO, not a regular file"),
    (["status", "--start", "2001-03-27", "--end", "2099-12-31", "--warehouse", "{t}/w.duckdb"], "at most 3,653 (ten years)"),
    (["report", "--warehouse", "{t}/w.duckdb", "--out", "{t}/pipe.gz"], "{t}/pipe.gz is a FIFO, not a regular file"),
])  # fmt: skip
def test_what_once_hung_is_refused_at_once(place, args, said):
    done = _run(*_fill(args, place), cwd=place, timeout=60)  # both hung for over 120 s before
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"p114 {args[0]}: "), done.stderr
    assert _fill([said], place)[0] in done.stderr


def test_a_full_disk_is_named_and_generate_leaves_no_part_file(place, monkeypatch):
    from pathlib import Path as P

    real = P.write_bytes

    def full(self, data):  # half the bytes land, then the disk is full: what a real full disk does
        real(self, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(P, "write_bytes", full)
    result = CliRunner().invoke(main, ["generate", "--start", "2024-01-01", "--units", "9", "--out", str(place / "out")],
                                catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == f"p114 generate: No space left on device (writing 2024-01-01 II to {place / 'out'})"
    assert list((place / "out").iterdir()) == []  # no .part


def _tmpfs(path: Path, size: str, read_only: bool = False) -> bool:
    path.mkdir()
    options = f"size={size}" + (",ro" if read_only else "")
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True).returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    if not _tmpfs(disk, "2m"):
        pytest.skip("this machine does not allow mounting a tmpfs (the injected ENOSPC test covers it)")
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


def test_a_really_full_disk(small_disk, tmp_path):
    done = _run("generate", "--start", "2024-01-01", "--units", "2000", "--run-types", "SF", "--out", str(small_disk / "g"),
                cwd=tmp_path, timeout=120)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == f"p114 generate: No space left on device (writing 2024-01-01 SF to {small_disk / 'g'})"
    assert list((small_disk / "g").iterdir()) == []


def test_an_unwritable_out_folder(tmp_path):
    folder = tmp_path / "ro"
    if not _tmpfs(folder, "1m", read_only=True):
        if os.geteuid() == 0:
            pytest.skip("root writes anywhere, and this machine does not allow a read-only mount")
        folder.chmod(0o555)
    try:
        for args, said in ((["report", "--out", f"{folder}/r.html"], f"cannot write {folder}/r.html: the folder {folder} is not writable"),
                           (["generate", "--start", "2024-01-01", "--out", f"{folder}/sub"],
                            f"cannot create the folder {folder}/sub: {folder} is not writable")):  # fmt: skip
            result = CliRunner().invoke(main, args, catch_exceptions=False)
            _assert_one_line(result, args[0], 2, said)
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


def test_the_group_itself():
    bare = CliRunner().invoke(main, [], catch_exceptions=False)
    assert bare.exit_code == 0 and bare.stdout.startswith("Usage: p114 [OPTIONS] COMMAND") and not bare.stderr
    unknown = CliRunner().invoke(main, ["materialise"], catch_exceptions=False)
    assert unknown.exit_code == 2 and unknown.stderr == "p114: No such command 'materialise'. Did you mean 'materialize'?\n"
