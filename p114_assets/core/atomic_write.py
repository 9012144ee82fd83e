"""Writing a file so that readers see the old file or the whole new one, never half of it: the
bytes go to `<name>.part` beside the target, which is renamed onto the target only when complete
(a rename within a folder is atomic)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(target: str | Path) -> Iterator[Path]:
    """A `.part` path beside `target` to write to: renamed onto `target` when the block ends
    normally; removed, leaving `target` as it was, when the block raises."""
    target = Path(target)
    partial = target.with_name(target.name + ".part")
    partial.unlink(missing_ok=True)
    try:
        yield partial
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def write_atomically(target: str | Path, data: bytes | str) -> Path:
    """Write `data` (text as UTF-8) to `target` through a `.part` file; returns the target."""
    target = Path(target)
    with replacing(target) as partial:
        if isinstance(data, str):
            partial.write_text(data, encoding="utf-8")
        else:
            partial.write_bytes(data)
    return target
