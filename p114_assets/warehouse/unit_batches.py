"""Batches of whole BM units, for rewriting a range of dates a batch at a time (cluster_dates)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence


def consecutive(items: Iterable[tuple], rows: int, one_run: bool) -> Iterator[list[tuple]]:
    """Consecutive items (their row count last) together, at most `rows` rows (or one item) a list;
    `one_run`: never two runs (the items' first field) in a list."""
    group: list[tuple] = []
    held = 0
    for item in items:
        if group and ((one_run and item[0] != group[0][0]) or held + item[-1] > rows):
            yield group
            group, held = [], 0
        group.append(item)
        held += item[-1]
    if group:
        yield group


def batches(groups: Sequence[tuple[str, str, int]], rows: int) -> Iterator[tuple[str, str, str, int]]:
    """(run, first unit, last unit, rows) of consecutive (run, unit, row count) groups, each batch
    at most `rows` rows (or one unit) and of one run."""
    for batch in consecutive(groups, rows, one_run=True):
        yield batch[0][0], batch[0][1], batch[-1][1], sum(g[2] for g in batch)
