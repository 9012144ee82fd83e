"""Where the marts write their pictures."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from p114_assets.core.atomic_write import write_atomically


class ReportStore(dg.ConfigurableResource):
    """A directory for plots and reports written by assets."""

    path: str = Field(default="data/reports", description="directory for PNG plots and reports")

    def save(self, name: str, data: bytes) -> Path:
        folder = Path(self.path)
        folder.mkdir(parents=True, exist_ok=True)
        return write_atomically(folder / name, data)
