"""Synthetic S0142 files: one settlement date and run of a market, rendered, named and written.

Every record type of S0142_FORMAT.md in its order and nesting; 46 / 48 / 50 periods from
Europe/London; every run type of a date, later runs revising metered volumes and what follows
from them (acceptances stay); publication stamps on the nominal run offsets; a byte-order mark on
about 5% of files; a ZZZ trailer with the line count and the NETA IDD checksum. Same seed, same
arguments: the same bytes.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from p114_assets.core.atomic_write import write_atomically
from p114_assets.core.calendar import assumed_publication_date
from p114_assets.core.s0142.facts import idd_checksum
from p114_assets.core.s0142.files import FileName
from p114_assets.core.s0142.layout import AAA, SRH
from p114_assets.core.settlement import RUN_PRECEDENCE
from p114_assets.core.synthetic.economics import Day
from p114_assets.core.synthetic.market import DEFAULT_UNITS, SyntheticMarket
from p114_assets.core.synthetic.party_section import party_section, srh_fields
from p114_assets.core.synthetic.rendering import HEADER, keys, render, sorted_text
from p114_assets.core.synthetic.system_section import db1_values, md1_values, spi_values, system_section, unit_period_frame

FLOW_VERSION = "S0142013"
BOM_SHARE = 0.05  # about 5% of real files begin with a UTF-8 byte-order mark


@dataclass
class GeneratedFile:
    """A rendered file and the values it holds, for tests that check a parser against them."""

    file_name: FileName
    text: bytes  # uncompressed, with a BOM when the file has one
    truth: dict[str, pl.DataFrame]  # record id -> typed values by layout column (SPI, MD1, BPI, BO4, BP7, PPC, APD)
    line_count: int

    def write(self, out_dir: str | Path, compress: bool = True) -> Path:
        """Write the file under its real name; gzip with a zero mtime so bytes are reproducible."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        name = FileName(self.file_name.settlement_date, self.file_name.run_type, self.file_name.stamp, compress)
        path = out_dir / name.name
        body = gzip.compress(self.text, compresslevel=6, mtime=0) if compress else self.text
        return write_atomically(path, body)


def publication_stamp(settlement_date: dt.date, run_type: str, seed: int) -> str:
    """A stamp on the nominal publication date of the run, at a reproducible time of day."""
    day = assumed_publication_date(settlement_date, run_type)  # DF: core.calendar's assumed date after RF
    rng = np.random.default_rng([seed, settlement_date.toordinal(), RUN_PRECEDENCE[run_type], 7])
    seconds = int(rng.integers(6 * 3600, 23 * 3600))
    return f"{day:%Y%m%d}{seconds // 3600:02d}{seconds // 60 % 60:02d}{seconds % 60:02d}"


def has_bom(seed: int, settlement_date: dt.date, run_type: str) -> bool:
    digest = hashlib.sha256(f"{seed}|{settlement_date}|{run_type}".encode()).digest()
    return digest[0] < 256 * BOM_SHARE


def generate_file(market: SyntheticMarket, settlement_date: dt.date, run_type: str) -> GeneratedFile:
    """Render the S0142 file of one settlement date and run of `market`."""
    if run_type not in RUN_PRECEDENCE:
        raise ValueError(f"unknown run type {run_type!r}")
    day = Day(market, settlement_date, run_type)
    stamp = publication_stamp(settlement_date, run_type, market.seed)
    srh = srh_fields(day)
    header = pl.DataFrame({"n": [0]}).with_columns(*keys(HEADER))
    aaa = {"flow_version": FLOW_VERSION, "file_type": "D", "publication_ts": stamp, "from_role": "SA",
           "from_participant": "UKDC", "to_role": "PB", "to_participant": "PORTAL",
           "file_sequence_number": str(40_000 + int(stamp[-6:]) % 9973), "test_data_flag": "OPER"}  # fmt: skip
    srh_values = dict(zip([f.column for f in SRH.named], srh + ["NGC"]))
    frames = [render(header, AAA, {c: pl.lit(v) for c, v in aaa.items()}),
              render(header.with_columns(k1=pl.lit(1, pl.Int64)), SRH, {c: pl.lit(v) for c, v in srh_values.items()})]  # fmt: skip
    up = unit_period_frame(day)
    spi, md1, db1 = spi_values(day), md1_values(day), db1_values(day)
    system, truth_system = system_section(day, up, spi, md1, db1)
    parties, truth_parties = party_section(day, up, spi, md1, db1, srh)
    text = sorted_text(frames + system + parties)
    n_lines = text.count("\n") + 1
    trailer = f"ZZZ|{n_lines}|{idd_checksum((text + 'ZZZ||').encode())}|\n"
    data = (text + trailer).encode()
    if has_bom(market.seed, settlement_date, run_type):
        data = b"\xef\xbb\xbf" + data
    return GeneratedFile(FileName(settlement_date, run_type, stamp), data, truth_system | truth_parties, n_lines)


def generate_files(
    start: dt.date,
    end: dt.date,
    run_types: list[str],
    out_dir: str | Path,
    units: int = DEFAULT_UNITS,
    seed: int = 0,
    market: SyntheticMarket | None = None,
    on_file=None,
) -> list[Path]:
    """Write one file per date in [start, end] and run type. `on_file(path)` is called after each."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    market = market or SyntheticMarket.build(units, seed)
    paths = []
    day = start
    while day <= end:
        for run in run_types:
            path = generate_file(market, day, run).write(out_dir)
            paths.append(path)
            if on_file:
                on_file(path)
        day += dt.timedelta(days=1)
    return paths


__all__ = ["FLOW_VERSION", "GeneratedFile", "generate_file", "generate_files", "has_bom", "publication_stamp"]
