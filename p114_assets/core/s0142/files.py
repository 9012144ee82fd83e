"""Finding S0142 files on disk by their names: S0142_<date>_<run>_<stamp>[.gz]."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from p114_assets.core.s0142.layout import FileName


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
    for path in folder.glob(f"S0142_{settlement_date:%Y%m%d}_{run_type}_*"):
        parts = FileName.parse(path.name)
        if parts and parts.settlement_date == settlement_date and parts.run_type == run_type and path.is_file():
            if best is None or parts.stamp > best[0]:
                best = (parts.stamp, path)
    return best[1] if best else None
