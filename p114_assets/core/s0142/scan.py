"""One pass over an S0142 body: decompressed piece by piece in a thread (ISA-L releases the GIL), while
this thread indexes each piece's lines, checks them, folds them into the checksum and takes the lines
of every record type that is loaded. The text is never split into Python strings, nor read twice.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
from isal import isal_zlib

from p114_assets.core.s0142.files import GZIP_MAGIC
from p114_assets.core.s0142.layout import KNOWN_RECORD_IDS, MAX_LINE_BYTES
from p114_assets.core.s0142.lines import UTF8_BOM, Lines, _fields, code_text, record_code

STEP = 1 << 19  # compressed bytes per decompression call: about 3.5 MB of text
PLAIN_PIECE = 8 << 20  # bytes per piece of a plain (not gzipped) body
READ_IN_THREAD = True  # bench_parse's phase profile reads inline, to charge each phase its own CPU
QUEUED = 4  # decompressed chunks waiting for the scan: the inflater pauses rather than fill memory
MAX_PENDING_READS = 3
BATCH_BYTES = 8 << 20  # text of one record type read at once; a batch is read while the rest inflates
MAX_TEXT_BYTES = 1 << 29  # 512 MiB: a real S0142 body is about 90-130 MB; more is not an S0142 file
ZZZ = record_code("ZZZ")
_KNOWN = np.array(sorted(record_code(rid) for rid in KNOWN_RECORD_IDS), np.uint32)
_KNOWN_IDS = [code_text(int(code)) for code in _KNOWN]


class ScanError(ValueError):
    """A problem found by the scan; the parser adds the file name."""

    def __init__(self, reason: str, line: int | None = None, check: str = "records"):
        super().__init__(reason)
        self.reason, self.line, self.check = reason, line, check


def _inflate(raw: bytes, out: queue.Queue, stop: threading.Event) -> None:
    """Decompress every gzip member of `raw` into `out`, then None; an error ends it as a ScanError."""
    try:
        view, position, total = memoryview(raw), 0, 0
        while position < len(raw):
            if bytes(view[position : position + 2]) != GZIP_MAGIC:
                raise ScanError("gzip body is corrupt (bytes after the last gzip member)", check="gzip_body")
            inflater = isal_zlib.decompressobj(31)
            while not inflater.eof and position < len(raw) and not stop.is_set():
                chunk = view[position : position + STEP]
                position += len(chunk)
                text = inflater.decompress(chunk)
                total += len(text)
                if total > MAX_TEXT_BYTES:
                    raise ScanError(f"the body is over {MAX_TEXT_BYTES >> 20} MiB uncompressed, far more than an "
                                    "S0142 file holds", check="gzip_body")  # fmt: skip
                while text and not stop.is_set():  # a bounded queue: text waits here, not in memory
                    try:
                        out.put(text, timeout=0.05)
                        break
                    except queue.Full:
                        continue
            if stop.is_set():
                return
            if not inflater.eof:
                raise ScanError("gzip body is truncated (the file is cut off)", check="gzip_body")
            position -= len(inflater.unused_data)
        _last(out, None, stop)
    except ScanError as exc:
        _last(out, exc, stop)
    except (isal_zlib.error, EOFError, OSError, ValueError) as exc:
        _last(out, ScanError(f"gzip body is truncated or corrupt ({exc})", check="gzip_body"), stop)
    except BaseException as exc:  # noqa: BLE001 - never leave the scan waiting (MemoryError and the like)
        _last(out, ScanError(f"decompression failed ({type(exc).__name__}: {exc})", check="gzip_body"), stop)


def _last(out: queue.Queue, item, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            out.put(item, timeout=0.05)
            return
        except queue.Full:
            continue


def _gzip_texts(raw: bytes) -> Iterator[bytes]:
    """Decompressed text as it comes from the inflating thread."""
    out: queue.Queue = queue.Queue(maxsize=QUEUED)
    stop = threading.Event()
    worker = threading.Thread(target=_inflate, args=(raw, out, stop), name="p114-inflate", daemon=True)
    worker.start()
    try:
        while (item := out.get()) is not None:
            if isinstance(item, ScanError):
                raise item
            yield item
    finally:
        stop.set()  # the inflater stops at its next chunk when the scan fails early


def _plain_texts(raw: bytes) -> Iterator[memoryview]:
    view = memoryview(raw)
    for start in range(0, len(raw), PLAIN_PIECE):
        yield view[start : start + PLAIN_PIECE]


@dataclass
class Tally:
    """What the checks need of a piece's lines (-1 where there is none)."""

    counts: np.ndarray  # lines of each known record id (_KNOWN order)
    first_over: int  # the first line longer than MAX_LINE_BYTES
    first_non_blank: int
    last_non_blank: int
    zzz: int  # the first ZZZ line
    after_zzz: int  # the first non-blank line after it
    strange: list[int]  # the first 101 non-blank lines with an unknown record id
    strange_total: int


def tally(lines: Lines) -> Tally:
    """One native pass over the piece's index (_fields.tally); tally_numpy is its reference."""
    if _fields is None:
        return tally_numpy(lines)
    counts, *rest = _fields.tally(lines.starts, lines.ends, lines.codes, _KNOWN, MAX_LINE_BYTES, ZZZ)
    return Tally(np.frombuffer(counts, np.int64), *rest)


def tally_numpy(lines: Lines) -> Tally:
    length = lines.ends - lines.starts
    over = np.flatnonzero(length > MAX_LINE_BYTES)
    non_blank = np.flatnonzero(length > 0)
    zzz = np.flatnonzero(lines.codes == ZZZ)
    after = non_blank[non_blank > zzz[0]] if zzz.size else non_blank[:0]
    position = np.minimum(np.searchsorted(_KNOWN, lines.codes), len(_KNOWN) - 1)
    known = _KNOWN[position] == lines.codes
    strange = np.flatnonzero(~known & (length > 0))
    first = lambda found: int(found[0]) if found.size else -1  # noqa: E731
    return Tally(np.bincount(position[known], minlength=len(_KNOWN)), first(over), first(non_blank),
                 int(non_blank[-1]) if non_blank.size else -1, first(zzz), first(after),
                 [int(i) for i in strange[:101]], int(strange.size))  # fmt: skip


class LongLine(ScanError):
    """A line past MAX_LINE_BYTES, found while cutting pieces; the scan knows its number."""

    def __init__(self) -> None:
        super().__init__(f"line is longer than {MAX_LINE_BYTES:,} bytes, longer than any S0142 record can be")


def pieces(raw: bytes) -> Iterator[bytes | memoryview]:
    """The body as pieces of whole lines: each text chunk cut after its last newline; the line that
    straddles two chunks becomes a small piece of its own, so nothing big is ever copied. Only the
    first and last MAX_LINE_BYTES of a chunk are searched: a chunk with no newline there holds a
    line that is too long anyway."""
    texts = _gzip_texts(raw) if raw[:2] == GZIP_MAGIC else _plain_texts(raw)
    try:
        yield from _cut(texts)
    finally:
        texts.close()


def _cut(texts: Iterator[bytes | memoryview]) -> Iterator[bytes | memoryview]:
    reach = MAX_LINE_BYTES + 2
    carry = b""
    for text in texts:
        arr = np.frombuffer(text, np.uint8)
        head = np.flatnonzero(arr[:reach] == 10)
        if not head.size or len(carry) + int(head[0]) > reach:
            carry += bytes(text)
            if len(carry) > reach:
                raise LongLine()
            continue
        first = int(head[0])
        tail = np.flatnonzero(arr[-reach:] == 10)
        last = arr.size - min(arr.size, reach) + int(tail[-1]) if tail.size else int(np.flatnonzero(arr == 10)[-1])
        yield carry + bytes(text[: first + 1])
        if last > first:
            yield memoryview(text)[first + 1 : last + 1]
        carry = bytes(text[last + 1 :])
        if len(carry) > reach:
            raise LongLine()
    if carry:
        yield carry


@dataclass
class Taken:
    """The lines of one record type taken so far, waiting to be read in a batch."""

    arrays: list[pa.LargeStringArray] = field(default_factory=list)
    line_numbers: list[np.ndarray] = field(default_factory=list)
    nbytes: int = 0

    def add(self, lines: pa.LargeStringArray, numbers: np.ndarray) -> None:
        self.arrays.append(lines)
        self.line_numbers.append(numbers)
        self.nbytes += lines.buffers()[2].size if len(lines) else 0

    def pop(self) -> tuple[pa.LargeStringArray, np.ndarray]:
        arrays, numbers = self.arrays, self.line_numbers
        self.arrays, self.line_numbers, self.nbytes = [], [], 0
        joined = arrays[0] if len(arrays) == 1 else pa.concat_arrays(arrays)
        return joined, np.concatenate(numbers) if numbers else np.zeros(0, np.int64)


@dataclass
class Scan:
    """What one pass over a body found: first lines, trailer, counts, checksum, and the lines of
    each loaded record type: handed to `read(record_id, lines, line_numbers)` in batches as they
    fill, or piece by piece to `read_lines`."""

    read: Callable[[str, pa.LargeStringArray, np.ndarray], None] | None = None
    # or: each piece's lines of a loaded type, as `read_lines(record_id, piece, rows of the piece)`
    read_lines: Callable[[str, Lines, np.ndarray], None] | None = None
    loaded: tuple[str, ...] = ()
    uncompressed_bytes: int = 0
    has_bom: bool = False
    line_count: int = 0  # lines up to the last non-blank one (what ZZZ counts)
    first_lines: dict[int, str] = field(default_factory=dict)  # lines 1 and 2 (AAA, SRH)
    zzz_line: int | None = None
    zzz_text: str | None = None
    checksum: int = 0
    counts: np.ndarray = field(default_factory=lambda: np.zeros(len(_KNOWN), np.int64))
    unknown: dict[str, tuple[int, int]] = field(default_factory=dict)  # id -> (count, first line)
    taken: dict[str, Taken] = field(default_factory=dict)
    on_header: Callable[[dict[int, str]], None] | None = None  # called once, with lines 1 and 2
    readers: int = 1  # reader threads; more than one only for `read_lines`, whose reads may finish out of order
    _reader: ThreadPoolExecutor | None = None
    _pending: list[Future] = field(default_factory=list)

    def run(self, raw: bytes) -> "Scan":
        """Index and check every piece, reading full batches on the way; the last batches wait for
        `finish` (after the trailer is judged, so a cut-off file is named as such)."""
        codes = {rid: record_code(rid) for rid in self.loaded}
        self.taken = {rid: Taken() for rid in self.loaded}
        next_line = 1
        source = pieces(raw)
        try:
            for piece in source:
                skip = 0
                if next_line == 1 and bytes(piece[:3]) == UTF8_BOM:
                    skip, self.has_bom = 3, True
                self.uncompressed_bytes += len(piece)
                lines = Lines.index(piece, next_line, skip)
                self._check(lines)
                self._take(lines, codes)
                next_line += lines.count
        except LongLine as exc:
            raise ScanError(exc.reason, next_line) from None
        finally:
            source.close()  # stops the inflating thread at once when the scan fails early
        if self.line_count == 0:
            raise ScanError("the body is empty", check="gzip_body")
        self._header()
        return self

    def finish(self) -> None:
        """Read the last batches and wait for every read; the first failure (in line order) is raised."""
        for rid in self.loaded:
            self._flush(rid)
        self._wait()

    def _wait(self) -> None:
        pending, self._pending = self._pending, []
        failures = []
        for future in pending:
            try:
                future.result()
            except ScanError as exc:
                failures.append(exc)
        if failures:
            raise min(failures, key=lambda exc: exc.line or 0)

    def close(self) -> None:
        """Stop the reader thread (after a failure, batches not yet read are dropped)."""
        if self._reader is not None:
            self._reader.shutdown(wait=True, cancel_futures=True)
            self._reader = None

    def _header(self) -> None:
        if self.on_header is not None:
            on_header, self.on_header = self.on_header, None
            on_header(self.first_lines)

    def _check(self, lines: Lines) -> None:
        if lines.count == 0:
            return
        if lines.first_line <= 2:
            for i in range(min(lines.count, 3 - lines.first_line)):
                self.first_lines[lines.first_line + i] = lines.line(i)
            if len(self.first_lines) == 2 and any(self.first_lines.values()):
                self._header()  # as soon as both are seen: a file of another kind stops here
        found = tally(lines)
        if found.first_over >= 0:
            raise ScanError(LongLine().reason, lines.first_line + found.first_over)
        if (bad := lines.first_invalid_utf8()) is not None:
            raise ScanError("line holds bytes that are not UTF-8 text", lines.first_line + bad)
        if self.zzz_line is not None and found.first_non_blank >= 0:
            raise ScanError("content after the ZZZ trailer", lines.first_line + found.first_non_blank, check="trailer_line_count")
        stop = lines.count
        if found.zzz >= 0:
            stop = found.zzz
            self.zzz_line, self.zzz_text = lines.first_line + stop, lines.line(stop)
            if found.after_zzz >= 0:
                raise ScanError("content after the ZZZ trailer", lines.first_line + found.after_zzz, check="trailer_line_count")
        if found.last_non_blank >= 0:
            self.line_count = lines.first_line + found.last_non_blank
        self.checksum ^= lines.checksum(stop)
        self.counts += found.counts
        for i in found.strange[:100]:  # counted by id; a wholly foreign file is not listed line by line
            shown = lines.line(int(i))[:4].split("|")[0]
            count, first = self.unknown.get(shown, (0, lines.first_line + int(i)))
            self.unknown[shown] = (count + 1, first)
        if found.strange_total > 100:
            count, first = self.unknown.get("(others)", (0, lines.first_line + int(found.strange[100])))
            self.unknown["(others)"] = (count + found.strange_total - 100, first)

    def _take(self, lines: Lines, codes: dict[str, int]) -> None:
        if self.read_lines is not None:  # the parser: each piece's rows of every loaded type, read in place
            rows = {rid: found for rid, code in codes.items() if (found := np.flatnonzero(lines.codes == code)).size}
            if rows:
                self._submit(self._read_piece, lines, rows)
            return
        if self.read is None:
            return
        as_arrow = None
        for rid, code in codes.items():
            rows = np.flatnonzero(lines.codes == code)
            if rows.size:
                as_arrow = as_arrow if as_arrow is not None else lines.as_arrow()
                self.taken[rid].add(as_arrow.take(pa.array(rows)), rows + lines.first_line)
                if self.taken[rid].nbytes >= BATCH_BYTES:
                    self._flush(rid)

    def _read_piece(self, lines: Lines, rows: dict[str, np.ndarray]) -> None:
        for rid, found in rows.items():
            self.read_lines(rid, lines, found)

    def _flush(self, rid: str) -> None:
        if self.read is not None and self.taken[rid].arrays:
            self._submit(self.read, rid, *self.taken[rid].pop())

    def _submit(self, read: Callable, *args) -> None:
        """Hand a read to the reader thread: typed reads (native or pyarrow, GIL released) run
        alongside the scan of the next pieces and the inflating thread."""
        if not READ_IN_THREAD:
            read(*args)
            return
        if self._reader is None:
            self._reader = ThreadPoolExecutor(max_workers=self.readers, thread_name_prefix="p114-read")
        waiting = [future for future in self._pending if not future.done()]
        if len(waiting) >= MAX_PENDING_READS:  # wait: pieces waiting to be read would only fill memory
            waiting[0].exception()
        self._pending.append(self._reader.submit(read, *args))

    @property
    def record_counts(self) -> dict[str, int]:
        counts = {rid: int(n) for rid, n in zip(_KNOWN_IDS, self.counts) if n}
        return dict(sorted(counts.items()))
