"""Where S0142 files come from and where they are kept."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from functools import lru_cache
from pathlib import Path

import dagster as dg
from pydantic import Field

from p114_assets import config
from p114_assets.core.atomic_write import replacing
from p114_assets.core.calendar import SEARCH_AFTER_WORKING_DAYS, SEARCH_BEFORE_WORKING_DAYS
from p114_assets.core.portal import DEFAULT_URL, KeyRefused, PortalClient, PortalError
from p114_assets.core.s0142.files import FileName, latest_file
from p114_assets.core.synthetic import SyntheticMarket, generate_file


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
        with replacing(target) as partial:
            try:
                os.link(src, partial)
            except OSError:
                shutil.copyfile(src, partial)
        return target


class FileRejected(dg.Failure):
    """The source answered for a partition with something that is not an S0142 file (an error
    page served as a download, a body cut off): the partition fails its file checks."""

    def __init__(self, description: str):
        super().__init__(description=description, allow_retries=False)


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
                f"(looked for {FileName.prefix(settlement_date, run_type)}*.gz)",
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


class PortalSource(S0142Source):
    """The Elexon Portal (production). The Portal lists files by publication date, so a
    partition's file is found by listing the publication dates around the one the settlement
    calendar expects, and the latest stamp wins (a run can be published twice)."""

    key: str = Field(description="Portal scripting key; configure as dg.EnvVar('ELEXON_PORTAL_KEY'), never a literal")
    base_url: str = Field(default=DEFAULT_URL, description="scheme and host; the client appends /p114/list and /p114/download")
    timeout_seconds: float = Field(default=60.0, description="timeout of each request")
    max_tries: int = Field(default=5, description="tries per request for transient failures (429, 5xx, timeouts, cut-off bodies)")
    search_before_working_days: int = Field(default=SEARCH_BEFORE_WORKING_DAYS, description="publication dates listed before the expected one")
    search_after_working_days: int = Field(default=SEARCH_AFTER_WORKING_DAYS, description="publication dates listed after the expected one")

    def describe(self) -> str:
        return f"Elexon Portal {self.base_url}"

    def client(self) -> PortalClient:
        return PortalClient(self.key, self.base_url, timeout=self.timeout_seconds, max_tries=self.max_tries)

    def publication_dates(self, settlement_date: dt.date, run_type: str) -> list[dt.date]:
        days = config.calendar().search_dates(settlement_date, run_type, self.search_before_working_days,
                                              self.search_after_working_days)  # fmt: skip
        return [d for d in days if d <= dt.date.today()]

    def fetch(self, settlement_date: dt.date, run_type: str, staging: Path) -> Path:
        prefix = FileName.prefix(settlement_date, run_type)
        days = self.publication_dates(settlement_date, run_type)
        try:
            with self.client() as portal:
                found = [name for day in days for name in portal.list(day) if name.startswith(prefix)]
                if not found:
                    listed = f"{min(days)}..{max(days)}" if days else "none yet"
                    raise dg.Failure(description=f"no S0142 file for {settlement_date} {run_type} in the Portal lists of "
                                     f"publication dates {listed}", allow_retries=False)  # fmt: skip
                newest = max(found, key=lambda name: FileName.parse(name).stamp)
                try:
                    return portal.download(newest, staging).path
                except KeyRefused:
                    raise
                except PortalError as exc:  # never holds the key
                    raise FileRejected(f"{newest}: {exc}") from None
        except PortalError as exc:  # never holds the key
            raise dg.Failure(description=f"{settlement_date} {run_type}: {exc}", allow_retries=not isinstance(exc, KeyRefused)) from None
