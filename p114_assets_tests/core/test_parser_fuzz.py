"""Fuzz: a seeded corpus of mutants of small files (truncated, fields dropped, duplicated and
appended, ids damaged, BOMs and non-UTF-8 bytes inserted, NaN / inf / 1e400, long lines and fields,
blank keys, lines swapped, dropped and duplicated...). Each mutant is either an S0142Error naming
the file, or a parse that loses no record and moves no value: every row's fields equal what an
independent reading of its own line by position gives."""

from __future__ import annotations

import datetime as dt
import gzip
import random
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

import pytest

from p114_assets.core.synthetic import SyntheticMarket, generate_file
from p114_assets.core.s0142.layout import LAYOUTS, MAX_LINE_BYTES
from p114_assets.core.s0142.parser import S0142Error, parse_bytes
from p114_assets.core.s0142.tables import ARROW_TYPES, column_type
from p114_assets_tests.conftest import fixture_text

CASES = 1100
BUDGET_SECONDS = 75  # the corpus stops early (and the test says so) rather than slow the suite down
NAME = "S0142_20240101_II_20240115103000.gz"
TABLE_OF = {"SPI": "system_period", "MD1": "market_index", "BO4": "bid_offer_pair", "PPC": "party_period",
            "APD": "account_period", "BP7": "bm_unit_period"}  # fmt: skip
ODD_VALUES = ["NaN", "nan", "inf", "-inf", "1e400", "Infinity", "", "x", "-", "1.2.3", " 5", "0x10", "+7", "1e3",
              "99999999999999999999", "é", "'", '"', "N" * 120, "\t", "0" * 60]  # fmt: skip


@dataclass
class Mutant:
    label: str
    lines: list[bytes]
    line_end: bytes = b"\n"
    bom: bool = False
    cut: int | None = None  # truncate the body at this byte

    def body(self) -> bytes:
        body = (b"\xef\xbb\xbf" if self.bom else b"") + b"".join(line + self.line_end for line in self.lines)
        return body[: self.cut] if self.cut is not None else body


def renumber(lines: list[bytes]) -> list[bytes]:
    """Make the ZZZ count right again, so a mutant reaches the records."""
    out = [line for line in lines if not line.startswith(b"ZZZ|")]
    return out + [f"ZZZ|{len(out) + 1}|0|".encode()]


def mutate(rng: random.Random, base: list[bytes]) -> Mutant:
    lines = list(base)
    i = rng.randrange(2, len(lines) - 1)  # a record between SRH and ZZZ
    fields = lines[i].split(b"|")
    kind = rng.choice(["truncate", "drop_field", "duplicate_field", "append_fields", "damage_id", "bom", "non_utf8",
                       "odd_value", "long_line", "blank_key", "swap", "drop_line", "duplicate_line", "crlf",
                       "blank_line", "no_trailing_bar", "cr_inside", "move_line"])  # fmt: skip
    fix = rng.random() < 0.7  # most mutants keep a right ZZZ count, to reach the records
    if kind == "truncate":
        body = b"".join(line + b"\n" for line in lines)
        return Mutant(kind, lines, cut=rng.randrange(0, len(body)))
    if kind == "drop_field" and len(fields) > 2:
        del fields[rng.randrange(1, len(fields) - 1)]
    elif kind == "duplicate_field" and len(fields) > 2:
        j = rng.randrange(1, len(fields) - 1)
        fields.insert(j, fields[j])
    elif kind == "append_fields":
        fields[-1:] = [str(rng.choice(ODD_VALUES[6:]) if rng.random() < 0.3 else k).encode() for k in range(rng.randint(1, 6))] + [b""]
    elif kind == "damage_id":
        position = rng.randrange(0, 3)
        fields[0] = fields[0][:position] + bytes([rng.choice(b"ABDPZ17\xe5 |")]) + fields[0][position + 1 :]
    elif kind == "bom":
        fields[0] = b"\xef\xbb\xbf" + fields[0]
    elif kind == "non_utf8":
        j = rng.randrange(0, len(fields))
        fields[j] = fields[j] + bytes([rng.choice([0x80, 0xC3, 0xE5, 0xFF])])
    elif kind == "odd_value" and len(fields) > 2:
        fields[rng.randrange(1, len(fields) - 1)] = rng.choice(ODD_VALUES).encode()
    elif kind == "long_line":
        fields[rng.randrange(1, max(2, len(fields) - 1))] = b"7" * rng.choice([150, MAX_LINE_BYTES + 10, 300_000])
    elif kind == "blank_key" and len(fields) > 2:
        fields[1] = b""
    elif kind == "swap":
        j = min(i + 1, len(lines) - 2)
        lines[i], lines[j] = lines[j], lines[i]
        return Mutant(kind, lines)
    elif kind in ("drop_line", "duplicate_line", "blank_line", "move_line"):
        if kind == "drop_line":
            del lines[i]
        elif kind == "duplicate_line":
            lines.insert(i, lines[i])
        elif kind == "blank_line":
            lines.insert(i, b"")
        else:
            lines.insert(rng.randrange(2, len(lines) - 1), lines.pop(i))
        return Mutant(kind, renumber(lines) if fix else lines)
    elif kind == "crlf":
        return Mutant(kind, lines, line_end=b"\r\n", bom=rng.random() < 0.5)
    elif kind == "no_trailing_bar":
        fields = fields[:-1]
    elif kind == "cr_inside":
        j = rng.randrange(1, len(fields))
        fields[j] = b"\r" + fields[j]
    lines[i] = b"|".join(fields)
    return Mutant(kind, lines)


def reference(line: bytes, record_id: str) -> dict:
    """A record read by position, independently of the parser: blank is None, numbers by Python."""
    layout = LAYOUTS[record_id]
    values = line.decode().split("|")[1:-1]
    out = {}
    for f, text in zip(layout.fields(), values):
        if text == "":
            out[f.column] = None
        elif f.type == "float":  # exact where the table stores a decimal (issue 13), else a float
            out[f.column] = Decimal(text) if str(ARROW_TYPES[column_type(f)]).startswith("decimal") else float(text)
        else:
            out[f.column] = int(text) if f.type == "int" else text
    extra = "|".join(values[layout.width :]).rstrip("|")
    out["extra_fields"] = extra or None
    return out


def same(a, b) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and a != a and b != b)


def check_accepted(mutant: Mutant, parsed) -> None:
    """No row lost, no value moved: every loaded record of the mutant is a row holding its own fields."""
    text = mutant.body().decode("utf-8-sig")
    lines = text.replace("\r\n", "\n").split("\n")
    by_line = {t: {} for t in parsed.tables}
    for table, arrow in parsed.tables.items():
        for row in arrow.to_pylist():
            number = row.get("bp7_line_number") or row.get("line_number")
            if number is not None:
                by_line[table][number] = row
    counts = Counter(line[:3] for line in lines if line[3:4] == "|")
    for record_id, table in TABLE_OF.items():
        assert len(by_line[table]) == counts[record_id], f"{mutant.label}: {record_id} rows lost"
    bm = parsed.tables["bm_unit_period"].to_pylist()
    assert len({r["bpi_line_number"] for r in bm if r["bpi_line_number"]}) == counts["BPI"], f"{mutant.label}: BPI lost"
    for number, line in enumerate(lines, 1):
        record_id = line[:3]
        if record_id in TABLE_OF and line[3:4] == "|":
            row = by_line[TABLE_OF[record_id]][number]
            for column, value in reference(line.encode(), record_id).items():
                if record_id == "BP7" and column == "extra_fields" and row[column] and "BPI: " in row[column]:
                    continue  # BP7 extras then the twin BPI's
                assert same(row[column], value), f"{mutant.label}, line {number}: {column} = {row[column]!r}, not {value!r}"


@pytest.fixture(scope="module")
def bases() -> list[list[bytes]]:
    small = generate_file(SyntheticMarket.build(9, seed=3), dt.date(2024, 3, 31), "II")  # a 46-period day
    generated = small.text.decode("utf-8-sig").splitlines()
    return [[line.encode() for line in text.splitlines()] for text in
            (fixture_text("hand_written_ii.s0142"), fixture_text("vlp_ii.s0142"), fixture_text("vlp_sf.s0142"))] + [
        [line.encode() for line in generated]]  # fmt: skip


def test_fuzz_corpus_fails_closed(bases):
    rng = random.Random(20261130)
    started = time.perf_counter()
    outcome: Counter[str] = Counter()
    by_kind: Counter[tuple[str, str]] = Counter()
    others: list[str] = []
    for case in range(CASES):
        if time.perf_counter() - started > BUDGET_SECONDS:
            break
        base = bases[0] if case % 10 < 6 else bases[1 + case % 2] if case % 10 < 9 else bases[3]
        mutant = mutate(rng, base)
        raw = mutant.body()
        raw = gzip.compress(raw, compresslevel=1, mtime=0) if case % 2 else raw
        try:
            parsed = parse_bytes(raw, NAME)
        except S0142Error as exc:
            assert exc.file == NAME and str(exc).startswith(NAME), str(exc)
            assert "unexpected failure" not in exc.reason, f"{mutant.label}: {exc}"
            outcome["S0142Error"] += 1
            by_kind[(mutant.label, "error")] += 1
            continue
        except Exception as exc:  # noqa: BLE001 - the point of the test
            others.append(f"{mutant.label}: {type(exc).__name__}: {exc}"[:300])
            outcome["other exception"] += 1
            continue
        check_accepted(mutant, parsed)
        outcome["accepted"] += 1
        by_kind[(mutant.label, "accepted")] += 1
    cases = sum(outcome.values())
    print(f"\nfuzz: {cases} cases in {time.perf_counter() - started:.1f} s: {outcome['S0142Error']} S0142Error, "
          f"{outcome['accepted']} accepted (checked value by value), {outcome['other exception']} other exceptions")  # fmt: skip
    print("  by mutation:", dict(sorted(by_kind.items())))
    assert not others, others[:5]
    assert cases >= 1000, f"only {cases} cases within {BUDGET_SECONDS} s"
    assert outcome["accepted"] > 100 and outcome["S0142Error"] > 300  # the corpus reaches both ends
