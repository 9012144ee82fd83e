"""Work on the next item while the caller finishes this one: one item ahead, on one thread.

A backfill run loads its partitions one after another into a warehouse that takes one writer;
parsing the next file while this one is checked keeps the second core busy. Parsing (ISA-L,
numpy, pyarrow) and the warehouse (DuckDB) release the GIL for most of their time, so a thread is
enough. Memory stays bounded: at most one result is computed ahead of the one the caller holds,
and the caller says when that may start (`start_next`), so it need not coincide with the caller's
own peak (a DuckDB write takes a few hundred MB for a moment).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Prefetch(Generic[T, R]):
    """Iterate (item, future of `work(item)`) in order. The next item's work starts on a thread
    when the caller calls `start_next()` while handling an item, else when the caller asks for the
    next item. `future.result()` waits for the work, or raises what `work` raised. Work not yet
    started is cancelled if the caller stops early."""

    def __init__(self, items: Iterable[T], work: Callable[[T], R]):
        self.items, self.work = list(items), work
        self._futures: dict[int, Future[R]] = {}
        self._index = -1
        self._pool: ThreadPoolExecutor | None = None

    def _submit(self, index: int) -> Future[R]:
        if index not in self._futures:
            assert self._pool is not None
            self._futures[index] = self._pool.submit(self.work, self.items[index])
        return self._futures[index]

    def start_next(self) -> None:
        """Start the next item's work now (nothing if this is the last item)."""
        if self._pool is not None and self._index + 1 < len(self.items):
            self._submit(self._index + 1)

    def __iter__(self) -> Iterator[tuple[T, Future[R]]]:
        if not self.items:
            return
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch")
        try:
            for index, item in enumerate(self.items):
                self._index = index
                current = self._submit(index)
                self._futures.pop(index - 1, None)  # the caller's reference to the last one is the only one left
                yield item, current
                del current
        finally:
            for future in self._futures.values():
                future.cancel()  # the caller stopped early: this work is nobody's
            self._pool.shutdown(wait=True)
            self._pool, self._futures = None, {}
