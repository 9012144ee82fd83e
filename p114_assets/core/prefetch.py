"""Work on the next item while the caller handles this one: one item ahead, on one thread.

A backfill run loads its partitions one after another into a warehouse that takes one writer;
parsing the next file while this one is written keeps the second core busy. Parsing (ISA-L,
numpy, pyarrow) and writing (DuckDB) release the GIL for most of their time, so a thread is enough.
Memory stays bounded: at most one result is computed ahead of the one the caller holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def prefetched(items: Iterable[T], work: Callable[[T], R]) -> Iterator[tuple[T, Future[R]]]:
    """Yield (item, future of `work(item)`) in order. While the caller handles one item, the next
    one's work runs on a thread; `future.result()` waits for it, or raises what `work` raised.

    The work of item k+2 starts only when the caller asks for item k+1, so at most one result is
    ready beyond the one in hand. Work not yet started is cancelled if the caller stops early."""
    items = list(items)
    if not items:
        return
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch")
    ahead: Future[R] | None = pool.submit(work, items[0])  # submitted, not yet handed to the caller
    try:
        for index, item in enumerate(items):
            current, ahead = ahead, None
            if index + 1 < len(items):
                current.exception()  # wait for this one first: one thread, one result ahead
                ahead = pool.submit(work, items[index + 1])
            yield item, current
            del current  # the caller's reference is the only one left
    finally:
        if ahead is not None:
            ahead.cancel()  # the caller stopped early: this work is nobody's
        pool.shutdown(wait=True)
