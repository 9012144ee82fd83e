"""Where S0142 files come from and where they are kept."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from functools import lru_cache
from pathlib import Path

import dagster as dg
from pydantic import Field

from p114_assets.core.s0142.files import latest_file
from p114_assets.core.s0142.generator import SyntheticMarket, generate_file


class LandingZone(dg.ConfigurableResource):
    """The directory that keeps every fetched S0142 file under its original name."""

    path: str = Field(default="data/landing", description="landing directory for S0142 files")

    def directory(self) -> Path:
        folder = Path(self.path)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def latest(self, settlement_date: dt.date, run_type: str) -> Path | None:
        return latest_file(self.path, settlement_date, run_type)

    def staging(self) -> Path:
        """Where downloads and generated files wait until they are validated (same file system as
        the landing directory, so admitting a file is a rename)."""
        folder = self.directory() / ".staging"
        folder.mkdir(exist_ok=True)
        return folder

    def put(self, src: Path) -> Path:
        """Keep `src` in the landing directory: nothing to do if it is already there, else a hard
        link (no copy) or, across file systems, a copy renamed into place when complete."""
        folder = self.directory()
        target = folder / src.name
        if src.resolve().parent == folder.resolve():
            return src
        if src.resolve().parent == self.staging().resolve():  # ours to move
            return src.replace(target)
        if target.exists() and target.stat().st_size == src.stat().st_size:
            return target
        partial = target.with_name(target.name + ".part")
        partial.unlink(missing_ok=True)
        try:
            os.link(src, partial)
        except OSError:
            shutil.copyfile(src, partial)
        partial.replace(target)
        return target


class S0142Source(dg.ConfigurableResource):
    """Somewhere S0142 files can be fetched from, one (settlement date, run type) at a time."""

    def fetch(self, settlement_date: dt.date, run_type: str, staging: Path) -> Path:
        """A local path to the newest file of the partition: where it already is, or downloaded
        into `staging`. Not yet trusted: the caller validates it before it enters the landing
        zone. Raises dg.Failure when the source has no such file."""
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


class FolderSource(S0142Source):
    """S0142 files already on disk, for example downloaded by hand or by `p114 fetch`."""

    path: str = Field(default="data/incoming", description="folder holding S0142_*.gz files")

    def describe(self) -> str:
        return f"folder {Path(self.path).resolve()}"

    def fetch(self, settlement_date: dt.date, run_type: str, staging: Path) -> Path:
        found = latest_file(self.path, settlement_date, run_type)
        if found is None:
            raise dg.Failure(
                description=f"no S0142 file for {settlement_date} {run_type} in {Path(self.path).resolve()} "
                f"(looked for S0142_{settlement_date:%Y%m%d}_{run_type}_*.gz)",
                allow_retries=False,
            )
        return found


@lru_cache(maxsize=4)
def _market(units: int, seed: int) -> SyntheticMarket:
    return SyntheticMarket.build(units, seed)


class GeneratorSource(S0142Source):
    """Synthetic S0142 files from the built-in generator: for demos and trying the platform out
    without a P114 licence. Same (units, seed): the same market and the same bytes."""

    units: int = Field(default=400, description="BM units in the synthetic market (real files: about 8,000)")
    seed: int = Field(default=0, description="seed of the synthetic market")

    def describe(self) -> str:
        return f"generator ({self.units} units, seed {self.seed})"

    def fetch(self, settlement_date: dt.date, run_type: str, staging: Path) -> Path:
        generated = generate_file(_market(self.units, self.seed), settlement_date, run_type)
        return generated.write(staging)
