"""Prefetch: results in order, errors at the item they belong to, the next item's work started
when the caller says so (or asks for it), never more than one ahead."""

import threading

import pytest

from p114_assets.core.prefetch import Prefetch


def test_results_come_in_order_with_their_items():
    assert [(item, future.result()) for item, future in Prefetch([3, 1, 2], lambda x: x * 10)] == [(3, 30), (1, 10), (2, 20)]
    assert list(Prefetch([], lambda x: x)) == []


def test_an_error_is_raised_by_its_own_item_and_the_others_still_come():
    def work(x):
        if x == 2:
            raise ValueError("bad item 2")
        return x

    seen = []
    for item, future in (parses := Prefetch([1, 2, 3], work)):
        parses.start_next()
        try:
            seen.append(future.result())
        except ValueError as exc:
            seen.append(str(exc))
    assert seen == [1, "bad item 2", 3]


class Recorder:
    """Work that records which items were started and lets the test see item 2 start."""

    def __init__(self):
        self.started: list[int] = []
        self.second_started = threading.Event()

    def __call__(self, x: int) -> int:
        self.started.append(x)
        if x == 2:
            self.second_started.set()
        return x


def test_start_next_works_on_the_next_item_while_the_caller_holds_this_one_and_no_further():
    work = Recorder()
    parses = Prefetch([1, 2, 3, 4], work)
    items = iter(parses)
    item, future = next(items)
    assert (item, future.result()) == (1, 1)
    assert work.started == [1]  # nothing ahead until the caller says so
    parses.start_next()
    parses.start_next()  # once is enough: still one item ahead
    assert work.second_started.wait(timeout=10)  # item 2 runs while the caller still handles item 1
    assert work.started == [1, 2]
    item, future = next(items)
    assert (item, future.result()) == (2, 2)
    assert work.started == [1, 2]  # not item 3: the caller has not said so
    assert [(i, f.result()) for i, f in items] == [(3, 3), (4, 4)]  # without start_next, each starts when asked for
    assert work.started == [1, 2, 3, 4]


def test_stopping_early_cancels_the_work_not_started():
    work = Recorder()
    parses = Prefetch(range(10), work)
    items = iter(parses)
    next(items)
    parses.start_next()
    items.close()
    assert work.started in ([0], [0, 1])
    parses.start_next()  # after the loop: nothing to start
    assert work.started in ([0], [0, 1])


@pytest.mark.parametrize("count", [1, 2])
def test_short_lists(count):
    parses = Prefetch(range(count), str)
    results = []
    for _, future in parses:
        parses.start_next()
        results.append(future.result())
    assert results == [str(i) for i in range(count)]
