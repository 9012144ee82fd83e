"""S0142 files on disk: their names (S0142_<date>_<run>_<stamp>[.gz]), the gzip magic that opens
a compressed body, and finding the newest file of a partition in a folder."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from p114_assets.core.settlement import RUN_TYPES

GZIP_MAGIC = b"\x1f\x8b"  # the first two bytes of every gzip stream

# S0142_<settlement date>_<run type>_<publication stamp>.gz; the stamp equals the AAA creation time.
FILE_NAME_PATTERN = re.compile(rf"^S0142_(\d{{8}})_({'|'.join(RUN_TYPES)})_(\d{{14}})(\.gz)?$")


@dataclass(frozen=True)
class FileName:
    """The parts of an S0142 file name. Anything that does not match the pattern is not one."""

    settlement_date: dt.date
    run_type: str
    stamp: str  # YYYYMMDDHHMMSS, as printed
    compressed: bool = True

    @staticmethod
    def prefix(settlement_date: dt.date, run_type: str) -> str:
        """What every file name of one (settlement date, run type) starts with."""
        return f"S0142_{settlement_date:%Y%m%d}_{run_type}_"

    @property
    def name(self) -> str:
        suffix = ".gz" if self.compressed else ""
        return f"{self.prefix(self.settlement_date, self.run_type)}{self.stamp}{suffix}"

    @classmethod
    def parse(cls, name: str) -> "FileName | None":
        """The parts of `name`, or None when it is not an S0142 file name (this rejects any path)."""
        match = FILE_NAME_PATTERN.match(name)
        if not match:
            return None
        try:
            day = dt.datetime.strptime(match.group(1), "%Y%m%d").date()
            dt.datetime.strptime(match.group(3), "%Y%m%d%H%M%S")
        except ValueError:
            return None
        return cls(day, match.group(2), match.group(3), compressed=match.group(4) is not None)


def scan_folder(folder: str | Path) -> dict[tuple[dt.date, str], Path]:
    """The newest file of every (settlement date, run type) in `folder` (not recursive).

    The same date and run can be published twice; the later publication stamp wins. Files whose
    names do not follow the S0142 pattern are ignored (partial downloads end in `.part`).
    """
    latest: dict[tuple[dt.date, str], tuple[str, Path]] = {}
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    for path in folder.iterdir():
        parts = FileName.parse(path.name)
        if parts is None or not path.is_file():
            continue
        key = (parts.settlement_date, parts.run_type)
        if key not in latest or parts.stamp > latest[key][0]:
            latest[key] = (parts.stamp, path)
    return {key: path for key, (_, path) in sorted(latest.items())}


def latest_file(folder: str | Path, settlement_date: dt.date, run_type: str) -> Path | None:
    """The newest file of one (settlement date, run type) in `folder`, or None."""
    best: tuple[str, Path] | None = None
    folder = Path(folder)
    if not folder.is_dir():
        return None
    for path in folder.glob(FileName.prefix(settlement_date, run_type) + "*"):
        parts = FileName.parse(path.name)
        if parts and parts.settlement_date == settlement_date and parts.run_type == run_type and path.is_file():
            if best is None or parts.stamp > best[0]:
                best = (parts.stamp, path)
    return best[1] if best else None
