"""The lines of S0142 text as numpy arrays over the raw bytes: where each line starts and ends, and
its record id, found once for a piece of text without a Python loop per line.

A piece is whole lines of the decompressed body (the parser feeds pieces as decompression produces
them). Everything here is vectorised: the newline scan, the record ids (the first four bytes of each
line read as one big-endian word, so the `|` after the id is checked with it), the caps on line
length, the UTF-8 check and the IDD file checksum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

try:
    from p114_assets.core.s0142 import _fields
except ImportError:  # not built: the numpy forms below do the same (one place decides, for scan and records too)
    _fields = None

UTF8_BOM = b"\xef\xbb\xbf"
BLANK = 0  # the code of a blank line (and of any line shorter than an id and its separator)
_BELOW = np.array([0, 0xFF, 0xFFFF, 0xFFFFFF], np.uint32)  # the bytes of a little-endian word before offset 0-3


def record_code(record_id: str) -> int:
    """The code of a record id: its three letters and the `|` after them as a big-endian word."""
    return int.from_bytes(record_id.encode("ascii") + b"|", "big")


def code_text(code: int) -> str:
    """A readable form of the first bytes of a line, for an error message."""
    return code.to_bytes(4, "big").rstrip(b"|").decode("utf-8", errors="backslashreplace")


@dataclass
class Lines:
    """One piece of text: whole lines, numbered from `first_line` (1-based)."""

    text: bytes | memoryview
    first_line: int
    starts: np.ndarray  # int64 byte offset of each line in the piece
    ends: np.ndarray  # int64 offset just past its last character, line end (LF, CRLF) excluded
    codes: np.ndarray  # uint32 record code (record_code) of each line; BLANK for short lines
    _nexts: np.ndarray | None = None  # see `nexts`; made only when asked for (rarely)

    @classmethod
    def index(cls, text: bytes | memoryview, first_line: int, skip: int = 0) -> "Lines":
        """Index a piece. `skip` bytes at its start (a byte-order mark) belong to no line."""
        if _fields is not None:  # one native pass; the numpy form below is its reference
            starts, ends, codes = _fields.index(text, skip)
            return cls(text, first_line, np.frombuffer(starts, np.int64), np.frombuffer(ends, np.int64),
                       np.frombuffer(codes, np.uint32))  # fmt: skip
        return cls.index_numpy(text, first_line, skip)

    @classmethod
    def index_numpy(cls, text: bytes | memoryview, first_line: int, skip: int = 0) -> "Lines":
        arr = np.frombuffer(text, np.uint8)
        size = arr.size
        newlines = np.flatnonzero(arr == 10)
        ends = newlines if size <= skip or arr[-1] == 10 else np.append(newlines, size)  # a last line with no LF
        starts = np.empty(ends.size, np.int64)
        nexts = ends + 1  # where the next line starts (past the LF)
        codes = np.zeros(ends.size, np.uint32)
        if ends.size:
            starts[0] = skip
            starts[1:] = nexts[:-1]
            nexts[-1] = min(nexts[-1], size)
            ends -= (ends > starts) & (arr[ends - 1] == 13)  # CRLF: the CR is part of the line end
            if size >= 4:  # the first four bytes of each line as one big-endian word, read in place
                words = np.ndarray(shape=(size - 3,), dtype=">u4", buffer=text, strides=(1,))
                codes = words[np.minimum(starts, size - 4)].astype(np.uint32)
                codes[ends - starts < 4] = BLANK
        return cls(text, first_line, starts, ends, codes, nexts)

    @property
    def nexts(self) -> np.ndarray:
        """int64 offset of the next line (the end of each line, line end included): the next line's
        start, and the piece's end for the last line (derived, not stored: a fifth less index)."""
        if self._nexts is None:
            self._nexts = np.append(self.starts[1:], np.int64(len(self.text))) if self.count else self.starts.copy()
        return self._nexts

    @property
    def count(self) -> int:
        return int(self.starts.size)

    def line(self, i: int) -> str:
        """The text of line i of the piece (0-based), for messages and the header."""
        raw = bytes(self.text[self.starts[i] : self.ends[i]])
        return raw.decode("utf-8", errors="backslashreplace")

    def as_arrow(self) -> pa.LargeStringArray:
        """Every line as one string value holding its line end, without copying the text: taking
        some lines from it gives their text back-to-back, ready for a CSV reader."""
        offsets = np.empty(self.count + 1, np.int64)
        offsets[:-1] = self.starts
        offsets[-1] = self.nexts[-1] if self.count else 0
        if self.count and self.starts[0] > 0:
            offsets[0] = self.starts[0]
        return pa.LargeStringArray.from_buffers(self.count, pa.py_buffer(offsets), pa.py_buffer(self.text))

    def first_over(self, limit: int) -> int | None:
        """The index of the first line longer than `limit` bytes, if any."""
        over = np.flatnonzero(self.ends - self.starts > limit)
        return int(over[0]) if over.size else None

    def first_invalid_utf8(self) -> int | None:
        """The index of the first line holding bytes that are not UTF-8, if any (ASCII is checked
        by one max over the bytes; only a piece with other bytes is decoded)."""
        arr = np.frombuffer(self.text, np.uint8)
        if arr.size == 0 or arr.max() < 0x80:
            return None
        try:
            bytes(self.text).decode("utf-8")
        except UnicodeDecodeError as exc:
            return int(np.searchsorted(self.nexts, exc.start, side="right"))
        return None

    @staticmethod
    def _words(words: np.ndarray, tail: np.uint32, index: np.ndarray) -> np.ndarray:
        """The word at each index; the zero-padded tail of the piece past its last whole word."""
        if not words.size:
            return np.full(index.size, tail, np.uint32)
        out = words[np.minimum(index, words.size - 1)]
        beyond = index >= words.size
        if beyond.any():
            out[beyond] = tail
        return out

    def checksum(self, stop: int | None = None) -> int:
        """The NETA IDD Part 1 (2.2.2) checksum of lines [0, stop): the XOR of every record cut into
        4-byte big-endian words, each record taken as its text without its line end, the last word
        padded with NUL bytes.

        XOR is associative, so each byte can be folded in on its own: a byte at offset k of its
        record lands in byte k mod 4 of a word. The XOR of each line's bytes is taken over the
        piece's aligned little-endian words (numpy reduceat), trimmed to the line with masks, and
        lines are grouped by where they start mod 4 to turn piece-aligned lanes into record lanes.
        """
        n = self.count if stop is None else stop
        if n <= 0:
            return 0
        if _fields is not None:  # one native pass; the numpy form below is its reference
            return _fields.checksum(self.text, self.starts, self.ends, n)
        return self.checksum_numpy(n)

    def checksum_numpy(self, n: int) -> int:
        """The checksum of lines [0, n) in numpy (without the native module, and its reference)."""
        n_words = len(self.text) // 4
        words = np.frombuffer(self.text, "<u4", count=n_words)
        first = self.starts >> 2  # the word each line starts in
        inside = int(np.searchsorted(first, n_words))  # lines that start in a whole word (a prefix)
        span = np.zeros(self.count, np.uint32)
        if inside:
            span[:inside] = np.bitwise_xor.reduceat(words, first[:inside])  # words[first[i] : first[i + 1]]
        ahead = np.empty_like(first)
        ahead[:-1] = first[1:]
        ahead[-1] = n_words
        first, ahead, span = first[:n], ahead[:n], span[:n]
        span[ahead <= first] = 0  # (reduceat gives words[first[i]] there)
        starts, ends = self.starts[:n], self.ends[:n]
        last = ends >> 2  # the word holding a line's end
        # The segment runs from the line's first word up to the next line's: drop the bytes before the
        # line's start, and keep the bytes of its last word before its end (that word is in the
        # segment when the next line starts in a later word, and not in it otherwise).
        if n_words and last[-1] < n_words:
            head, end = words[first], words[last]
        else:  # a line ends in the piece's last, partial word
            tail = np.uint32(int.from_bytes(bytes(self.text[n_words * 4 :]).ljust(4, b"\0"), "little"))
            head, end = self._words(words, tail, first), self._words(words, tail, last)
        keep_end = _BELOW[ends & 3]
        keep_end ^= np.where(ahead > last, np.uint32(0xFFFFFFFF), np.uint32(0))
        span ^= head & _BELOW[starts & 3]
        span ^= end & keep_end
        # Rotate each line's word so that byte k of its record sits in lane k (the piece's lanes are
        # offset by where the line starts), XOR them all, and read the lanes big-endian.
        doubled = span.astype(np.uint64)
        doubled |= doubled << np.uint64(32)
        doubled >>= (starts & 3).astype(np.uint64) << np.uint64(3)
        lanes = np.bitwise_xor.reduce(doubled.astype(np.uint32))
        return int.from_bytes(int(lanes).to_bytes(4, "little"), "big")


def checksum_of_records(records: list[bytes]) -> int:
    """The same checksum, line by line in plain Python: the reference the vectorised one is tested
    against."""
    total = 0
    for record in records:
        padded = record + b"\0" * (-len(record) % 4)
        for i in range(0, len(padded), 4):
            total ^= int.from_bytes(padded[i : i + 4], "big")
    return total
