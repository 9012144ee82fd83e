"""S0142 parser: one gz (or plain) settlement report -> Arrow tables, failing closed.

How it stays fast on 1.5 million lines (scan.py, lines.py, records.py, nesting.py):
- ISA-L inflates the body in a thread while this one takes each piece as it comes: numpy finds the
  line starts and record ids over the raw bytes, checks caps, UTF-8 and ids, and folds the lines into
  the IDD checksum;
- only the loaded record types are read, each by pyarrow's multi-threaded CSV reader with its
  columns typed as its table declares them;
- nesting is implied by order, so each record's period, party and BM unit come from a binary search
  of line numbers, and BPI meets BP7 by direct addressing on (period, unit).
No Python loop touches a line.

Failing closed: every malformed file is an S0142Error naming the file, the line where there is one,
and the reason; a record with fewer fields than its layout, an unknown record id, a byte that is
not UTF-8, NaN or infinity, a blank key field, an over-long line or field, a header field of the
wrong shape. Fields past the layout (newer flow versions) are kept in `extra_fields`.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterator
from contextlib import contextmanager
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from isal import igzip, isal_zlib

from p114_assets.core.s0142 import nesting
from p114_assets.core.s0142.files import GZIP_MAGIC, FileName
from p114_assets.core.s0142.layout import LAYOUTS, RecordLayout
from p114_assets.core.s0142.lines import UTF8_BOM, Lines
from p114_assets.core.s0142.records import RecordError, read_lines, read_records
from p114_assets.core.s0142.scan import Scan, ScanError
from p114_assets.core.s0142.tables import ARROW_TYPES, RAW_TABLES
from p114_assets.core.settlement import RUN_TYPES

# The file-level checks an S0142Error can fail, in the order a parse meets them.
FILE_CHECKS = ("gzip_body", "header", "trailer_line_count", "records")


class S0142Error(ValueError):
    """An S0142 file that cannot be trusted: which file, which line (when known) and why, and which
    file-level check it failed (one of FILE_CHECKS, or header_matches_partition)."""

    def __init__(self, file: str, reason: str, line: int | None = None, check: str = "records"):
        self.file = file
        self.reason = reason
        self.line = line
        self.check = check
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.file}, line {self.line}" if self.line else self.file
        return f"{where}: {self.reason}"

    def __reduce__(self):  # keep file/line/reason across process boundaries (Dagster, multiprocessing)
        return (S0142Error, (self.file, self.reason, self.line, self.check))


@dataclass(frozen=True)
class S0142Header:
    """Facts about one file: from AAA, SRH and ZZZ (authoritative) and its name (a cross-check)."""

    file_name: str
    flow_version: str
    publication_stamp: str  # YYYYMMDDHHMMSS as printed in AAA
    settlement_date: dt.date
    run_type: str
    line_count: int
    checksum: str | None  # ZZZ 2 as printed
    saa_run_number: str | None
    compressed_bytes: int
    uncompressed_bytes: int
    has_bom: bool
    record_counts: dict[str, int] = field(default_factory=dict, compare=False)
    checksum_computed: int | None = None  # the NETA IDD Part 1 (2.2.2) checksum of the records, AAA to ZZZ

    @property
    def publication_ts(self) -> dt.datetime:
        return dt.datetime.strptime(self.publication_stamp, "%Y%m%d%H%M%S")

    @property
    def partition(self) -> tuple[dt.date, str]:
        return self.settlement_date, self.run_type

    @property
    def checksum_matches(self) -> str:
        """"matches" / "differs" / "absent": ZZZ 2 against the IDD checksum, read as an unsigned or a
        signed 32-bit decimal. Informational: whether a Portal copy's ZZZ 2 is this checksum is not
        yet confirmed by a real file, so nothing fails on it."""
        if not self.checksum or self.checksum_computed is None:
            return "absent"
        try:
            printed = int(self.checksum)
        except ValueError:
            return "differs"
        return "matches" if printed in (self.checksum_computed, self.checksum_computed - (1 << 32)) else "differs"


@dataclass
class ParsedS0142:
    header: S0142Header
    tables: dict[str, pa.Table]

    @property
    def row_counts(self) -> dict[str, int]:
        return {name: table.num_rows for name, table in self.tables.items()}


# ---------------------------------------------------------------------------------------------
# Body


_MAX_RATIO = 64  # a gzip trailer claiming more than this expansion is not believed (e.g. a cut-off file)


def read_body(raw: bytes, name: str) -> bytes:
    """The text of a file: gunzipped if it starts with the gzip magic, else checked to be S0142 text.

    A Portal error page served with status 200 (for example ``Scripting Error 001``) is neither, and
    the error shows what the body says. (The parser streams the body itself; this is the plain
    whole-body form, and the decompress-alone baseline of bench/bench_parse.py.)
    """
    if raw[:2] != GZIP_MAGIC:
        _check_plain(raw, name)
        return raw
    # The gzip trailer holds the uncompressed size: decompress into one buffer of that size.
    claimed = struct.unpack("<I", raw[-4:])[0] if len(raw) >= 18 else 0
    size_hint = max(1 << 16, min(claimed, len(raw) * _MAX_RATIO))
    try:
        text = isal_zlib.decompress(raw, 31, size_hint)
        if len(text) & 0xFFFFFFFF != claimed:  # several gzip members (or a damaged trailer): decode them all
            text = igzip.decompress(raw)
    except (isal_zlib.error, EOFError, OSError, ValueError) as exc:
        raise S0142Error(name, f"gzip body is truncated or corrupt ({exc})", check="gzip_body") from None
    if len(text) < 64 and not text.strip():  # only a tiny body can be empty; never copy a big one
        raise S0142Error(name, "the body is empty", check="gzip_body")
    return text


def _check_plain(raw: bytes, name: str) -> None:
    text = raw[len(UTF8_BOM) :] if raw.startswith(UTF8_BOM) else raw
    if not text.startswith(b"AAA|"):
        raise S0142Error(name, f"not a gzip file and not S0142 text; the body begins {_preview(raw)!r}", check="gzip_body")


def _preview(raw: bytes, limit: int = 80) -> str:
    first = raw[:limit].split(b"\n", 1)[0].strip()
    return first.decode("utf-8", errors="replace") or f"<{len(raw)} bytes>"


# ---------------------------------------------------------------------------------------------
# Header and trailer: AAA first, SRH second, ZZZ last with the line count


_STAMP, _DATE, _FLOW, _COUNT = re.compile(r"\d{14}"), re.compile(r"\d{8}"), re.compile(r"S0142\d{3}"), re.compile(r"\d{1,9}")


def _fields(line: str) -> list[str]:
    """The fields of a header or trailer line; its trailing '|' is optional."""
    return (line[:-1] if line.endswith("|") else line).split("|")


def _head(first_lines: dict[int, str], name: str) -> dict:
    """AAA on line 1 and SRH on line 2, each field in its format."""
    first = first_lines.get(1, "")
    if not first.startswith("AAA|"):
        raise S0142Error(name, f"file does not start with an AAA header; line 1 is {first[:60]!r}", 1, check="header")
    aaa = _fields(first)
    if not _FLOW.fullmatch(aaa[1]):
        raise S0142Error(name, f"AAA names flow {aaa[1]!r}, not an S0142 flow (S0142 and a 3-digit version)", 1, check="header")
    if len(aaa) - 1 < LAYOUTS["AAA"].width:
        raise S0142Error(name, f"AAA has {len(aaa) - 1} fields but its layout has {LAYOUTS['AAA'].width}", 1, check="header")
    stamp = aaa[3]
    if not _STAMP.fullmatch(stamp) or not _valid(stamp, "%Y%m%d%H%M%S"):
        raise S0142Error(name, f"AAA creation time {stamp!r} is not YYYYMMDDHHMMSS", 1, check="header")

    second = first_lines.get(2, "")
    if not second.startswith("SRH|"):
        raise S0142Error(name, f"no SRH settlement report header on line 2 (it is {second[:40]!r})", 2, check="header")
    srh = _fields(second)
    if len(srh) - 1 < LAYOUTS["SRH"].width:
        raise S0142Error(name, f"SRH has {len(srh) - 1} fields but its layout has {LAYOUTS['SRH'].width}", 2, check="header")
    if not _DATE.fullmatch(srh[1]) or not _valid(srh[1], "%Y%m%d"):
        raise S0142Error(name, f"SRH settlement date {srh[1]!r} is not YYYYMMDD", 2, check="header")
    if srh[2] not in RUN_TYPES:
        raise S0142Error(name, f"SRH run type {srh[2]!r} is not one of {' '.join(RUN_TYPES)}", 2, check="header")
    return {"file_name": name, "flow_version": aaa[1], "publication_stamp": stamp,
            "settlement_date": dt.datetime.strptime(srh[1], "%Y%m%d").date(), "run_type": srh[2],
            "saa_run_number": srh[3] or None}  # fmt: skip


def _valid(text: str, pattern: str) -> bool:
    try:
        dt.datetime.strptime(text, pattern)
    except ValueError:
        return False
    return True


def _trailer(scan: Scan, name: str) -> dict:
    """A ZZZ trailer whose count is the number of lines, with nothing after it but blank lines."""
    if scan.zzz_line is None:
        raise S0142Error(name, f"no ZZZ trailer: the file is cut off after line {scan.line_count}", scan.line_count,
                         check="trailer_line_count")  # fmt: skip
    zzz = _fields(scan.zzz_text or "")
    if len(zzz) < 2 or not _COUNT.fullmatch(zzz[1]):
        raise S0142Error(name, f"ZZZ line count {zzz[1] if len(zzz) > 1 else ''!r} is not a number", scan.zzz_line,
                         check="trailer_line_count")  # fmt: skip
    if int(zzz[1]) != scan.zzz_line:
        raise S0142Error(name, f"ZZZ says the file has {int(zzz[1])} lines but it has {scan.zzz_line}", scan.zzz_line,
                         check="trailer_line_count")  # fmt: skip
    return {"line_count": scan.zzz_line, "checksum": (zzz[2] or None) if len(zzz) > 2 else None}


def _scan(scan: Scan, raw: bytes, name: str) -> tuple[dict, dict]:
    """One pass over the body: header (checked as soon as lines 1 and 2 are seen), trailer, ids."""
    if raw[:2] != GZIP_MAGIC:
        _check_plain(raw, name)
    head: dict = {}
    scan.on_header = lambda lines: head.update(_head(lines, name))
    try:
        scan.run(raw)
    except ScanError as exc:
        raise S0142Error(name, exc.reason, exc.line, exc.check) from None
    trailer = _trailer(scan, name)
    if scan.unknown:
        listed = ", ".join(f"{rid!r} x{count:,} (first on line {line})" for rid, (count, line) in scan.unknown.items())
        first = min(line for _, line in scan.unknown.values())
        total = sum(count for count, _ in scan.unknown.values())
        raise S0142Error(name, f"{total:,} line(s) with a record id that S0142 does not have: {listed}", first)
    return head, trailer


def _header(scan: Scan, head: dict, trailer: dict, raw: bytes) -> S0142Header:
    return S0142Header(**head, **trailer, compressed_bytes=len(raw), uncompressed_bytes=scan.uncompressed_bytes,
                       has_bom=scan.has_bom, record_counts=scan.record_counts, checksum_computed=scan.checksum)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Records -> tables


# Each loaded record type, the raw table that holds it (its columns are typed as that table declares).
_HOME = {"SPI": "system_period", "MD1": "market_index", "BPI": "bm_unit_period", "BO4": "bid_offer_pair",
         "BP7": "bm_unit_period", "PPC": "party_period", "APD": "account_period", "SP7": None, "BPH": None}  # fmt: skip
_LOADED = tuple(_HOME)
_MARKER_KEYS = {"SPI": ("settlement_period",), "SP7": ("settlement_period",), "BPH": ("party_id",)}


def _reader(record_id: str) -> tuple[RecordLayout, dict[str, pa.DataType], tuple[str, ...]]:
    """The layout, column types and required (key) columns of a loaded record type."""
    layout, table = LAYOUTS[record_id], _HOME[record_id]
    schema = RAW_TABLES[table].arrow_schema() if table else pa.schema([])
    types = {f.column: schema.field(f.column).type if f.column in schema.names else ARROW_TYPES[f.type]
             for f in layout.fields()}  # fmt: skip
    keys = set(_MARKER_KEYS.get(record_id, ()))
    if table:
        spec = RAW_TABLES[table]
        keys |= set(spec.key) | {c.name for c in spec.columns if not c.nullable}
    return layout, types, tuple(f.column for f in layout.fields() if f.column in keys)


_READERS = {rid: _reader(rid) for rid in _LOADED}
READERS = 2  # threads splitting pieces: both cores once the inflating thread is done
JOIN_IN_THREAD = True  # bench_parse's phase profile joins inline, to charge each phase its own CPU


def parse_bytes(raw: bytes, name: str) -> ParsedS0142:
    """Parse the bytes of one S0142 file (gz or plain). `name` is used in errors and metadata."""
    try:
        with _system_allocator():
            return _parse(raw, name)
    except S0142Error:
        raise
    except (pa.ArrowException, ValueError, IndexError, KeyError, TypeError) as exc:  # a safety net, never expected
        raise S0142Error(name, f"unexpected failure while parsing ({type(exc).__name__}: {str(exc)[:200]})") from exc


@contextmanager
def _system_allocator() -> Iterator[None]:
    """Arrow memory from glibc's allocator while a file is parsed. A cold parse is bound by touching
    fresh memory, and pyarrow's default allocator (mimalloc in this build; jemalloc measured the
    same) touches more of it: with glibc's, bench_parse measured 0.85-0.96 CPU s a real-scale parse
    against 1.1-1.7, and 370 MB peak against 440. Buffers keep their own pool, so the switch is safe
    for other threads; the default comes back when the last parse ends."""
    with _POOL_LOCK:  # parses in several threads: the first in switches, the last out restores
        if not _POOL_USERS:
            _POOL_USERS.append(pa.default_memory_pool())
            pa.set_memory_pool(pa.system_memory_pool())
        _POOL_USERS.append(None)
    try:
        yield
    finally:
        with _POOL_LOCK:
            _POOL_USERS.pop()
            if len(_POOL_USERS) == 1:
                pa.set_memory_pool(_POOL_USERS.pop())


_POOL_LOCK = threading.Lock()
_POOL_USERS: list = []  # the pool to restore, then one entry per parse running


def _parse(raw: bytes, name: str) -> ParsedS0142:
    parts: dict[str, list[tuple[int, pa.Table]]] = {rid: [] for rid in _LOADED}  # (first line, rows) a piece

    def read(rid: str, lines: Lines, rows: np.ndarray) -> None:
        layout, types, required = _READERS[rid]
        try:
            parts[rid].append((lines.first_line, read_lines(lines, rows, layout, types, required)))
        except RecordError as exc:
            raise ScanError(exc.reason, exc.line) from None

    scan = Scan(read_lines=read, loaded=_LOADED, readers=READERS)
    try:
        head, trailer = _scan(scan, raw, name)
        scan.finish()
    except ScanError as exc:
        raise S0142Error(name, exc.reason, exc.line, exc.check) from None
    finally:
        scan.close()
    header = _header(scan, head, trailer, raw)
    records = {rid: _concat([table for _, table in sorted(parts[rid], key=lambda part: part[0])], rid) for rid in _LOADED}
    try:
        tables = _tables(records, header)
    except nesting.NestingError as exc:
        raise S0142Error(name, exc.reason, exc.line) from None
    return ParsedS0142(header, tables)


def _concat(tables: list[pa.Table], rid: str) -> pa.Table:
    if not tables:
        layout, types, required = _READERS[rid]
        return read_records(pa.array([], pa.large_string()), np.zeros(0, np.int64), layout, types, required)
    return pa.concat_tables(tables, promote_options="none") if len(tables) > 1 else tables[0]


def _tables(records: dict[str, pa.Table], header: S0142Header) -> dict[str, pa.Table]:
    """The six raw tables. Every record is placed first (so a nesting error is the same whatever
    the threads do); then the BPI/BP7 join, the biggest part, runs in a thread beside the rest."""
    markers = nesting.Markers.build(records["SPI"], records["SP7"], records["BPH"])

    def columns(rid: str, section: int, party_column: str | None = None) -> dict:
        table = records[rid]
        period, party = markers.attach(table, rid, section)
        out = {name: table.column(name) for name in table.column_names}
        out["settlement_period"] = pa.array(period, pa.int64())
        if party_column:
            out[party_column] = markers.party_ids(party)
        return out

    bpi_period, _ = markers.attach(records["BPI"], "BPI", nesting.SPI)
    bp7_period, bp7_party = markers.attach(records["BP7"], "BP7", nesting.SP7)
    bpi_lines = nesting.line_numbers(records["BPI"])  # once, for the join and the BO4 units

    def bm_unit_period() -> pa.Table:
        bm = nesting.bm_unit_period(records["BPI"], bpi_period, records["BP7"], bp7_period, markers.party_ids(bp7_party),
                                    bpi_lines)  # fmt: skip
        return _with_file_columns({name: bm.column(name) for name in bm.column_names}, header, "bm_unit_period")

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="p114-join") as pool:
        joined = pool.submit(bm_unit_period) if JOIN_IN_THREAD else None
        bo4 = columns("BO4", nesting.SPI)
        bo4["bm_unit_id"] = nesting.attach_unit(records["BO4"], records["BPI"], markers, bpi_lines)
        tables = {
            "system_period": {name: records["SPI"].column(name) for name in records["SPI"].column_names},
            "market_index": columns("MD1", nesting.SPI),
            "bid_offer_pair": bo4,
            "party_period": columns("PPC", nesting.SP7, "party_id"),
            "account_period": columns("APD", nesting.SP7, "party_id"),
        }
        done = {name: _with_file_columns(cols, header, name) for name, cols in tables.items()}
        done["bm_unit_period"] = joined.result() if joined is not None else bm_unit_period()
    return {name: done[name] for name in RAW_TABLES}


def _with_file_columns(columns: dict, header: S0142Header, table: str) -> pa.Table:
    spec = RAW_TABLES[table]
    schema = spec.arrow_schema()
    rows = len(next(iter(columns.values())))
    constants = {"settlement_date": header.settlement_date, "run_type": header.run_type,
                 "publication_ts": header.publication_ts, "flow_version": header.flow_version}  # fmt: skip
    arrays = []
    for column in schema:
        if column.name in constants:
            value = pa.repeat(pa.scalar(constants[column.name], column.type), rows)
        else:
            value = columns[column.name]
        value = value if isinstance(value, pa.ChunkedArray) else pa.chunked_array([value], value.type)
        arrays.append(value if value.type == column.type else pc.cast(value, column.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def parse_file(path: str | Path) -> ParsedS0142:
    """Parse one S0142 file from disk."""
    path = Path(path)
    return parse_bytes(_read(path), path.name)


def inspect_file(path: str | Path) -> S0142Header:
    """Header and trailer checks (gzip body, AAA, SRH, ZZZ count, record ids), without reading
    records: one scan of the body, with record counts and the IDD checksum."""
    path = Path(path)
    raw = _read(path)
    scan = Scan()
    head, trailer = _scan(scan, raw, path.name)
    return _header(scan, head, trailer, raw)


def _refuse(path: Path) -> bytes:
    raise S0142Error(path.name, "cannot read file (not a regular file)", check="gzip_body")


def _read(path: Path) -> bytes:
    try:
        if path.exists() and not path.is_file():  # a directory, a FIFO or a device
            return _refuse(path)
        return path.read_bytes()
    except OSError as exc:
        raise S0142Error(path.name, f"cannot read file ({exc.strerror or exc})", check="gzip_body") from None


def check_name_matches_header(header: S0142Header) -> None:
    """The file name is a cross-check of the header: a disagreement means a mislabelled file."""
    parts = FileName.parse(header.file_name)
    if parts is None:
        return  # a file given by hand under another name is judged by its header alone
    expected = (header.settlement_date, header.run_type, header.publication_stamp)
    actual = (parts.settlement_date, parts.run_type, parts.stamp)
    if expected != actual:
        raise S0142Error(
            header.file_name,
            f"file name says {parts.settlement_date} {parts.run_type} {parts.stamp} but the header says "
            f"{header.settlement_date} {header.run_type} {header.publication_stamp}",
            check="header_matches_partition",
        )


def check_header_matches(header: S0142Header, settlement_date: dt.date, run_type: str) -> None:
    """The file of a partition: its name agrees with its header, and its header with the partition."""
    check_name_matches_header(header)
    if header.partition != (settlement_date, run_type):
        raise S0142Error(
            header.file_name,
            f"header says {header.settlement_date} {header.run_type}, but the partition is {settlement_date} {run_type}",
            check="header_matches_partition",
        )


__all__ = [
    "check_header_matches",
    "FILE_CHECKS",
    "LAYOUTS",
    "ParsedS0142",
    "S0142Error",
    "S0142Header",
    "check_name_matches_header",
    "inspect_file",
    "parse_bytes",
    "parse_file",
    "read_body",
]
