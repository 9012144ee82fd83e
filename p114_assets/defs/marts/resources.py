"""Where the marts write their pictures."""

from pathlib import Path

import dagster as dg
from pydantic import Field


class ReportStore(dg.ConfigurableResource):
    """A directory for plots and reports written by assets."""

    path: str = Field(default="data/reports", description="directory for PNG plots and reports")

    def save(self, name: str, data: bytes) -> Path:
        folder = Path(self.path)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        partial = target.with_name(target.name + ".part")
        partial.write_bytes(data)
        partial.replace(target)
        return target
