"""prefetched: results in order, errors at the item they belong to, at most one result ahead."""

import threading

import pytest

from p114_assets.core.prefetch import prefetched


def test_results_come_in_order_with_their_items():
    assert [(item, future.result()) for item, future in prefetched([3, 1, 2], lambda x: x * 10)] == [(3, 30), (1, 10), (2, 20)]
    assert list(prefetched([], lambda x: x)) == []


def test_an_error_is_raised_by_its_own_item_and_the_others_still_come():
    def work(x):
        if x == 2:
            raise ValueError("bad item 2")
        return x

    seen = []
    for item, future in prefetched([1, 2, 3], work):
        try:
            seen.append(future.result())
        except ValueError as exc:
            seen.append(str(exc))
    assert seen == [1, "bad item 2", 3]


def test_the_next_item_is_worked_on_while_the_caller_holds_this_one_and_no_further():
    started: list[int] = []
    second_started = threading.Event()

    def work(x):
        started.append(x)
        if x == 2:
            second_started.set()
        return x

    items = prefetched([1, 2, 3, 4], work)
    item, future = next(items)
    assert (item, future.result()) == (1, 1)
    # while the caller handles item 1, item 2 is being worked on (without the caller asking)
    assert second_started.wait(timeout=10)
    assert started == [1, 2]  # but not item 3: one result ahead at most
    item, future = next(items)
    assert (item, future.result()) == (2, 2)
    assert [i for i, _ in items] == [3, 4]
    assert started == [1, 2, 3, 4]


def test_stopping_early_cancels_the_work_not_started():
    started: list[int] = []
    items = prefetched(range(10), lambda x: started.append(x) or x)
    next(items)
    items.close()
    assert started in ([0], [0, 1])


@pytest.mark.parametrize("count", [1, 2])
def test_short_lists(count):
    assert [f.result() for _, f in prefetched(range(count), str)] == [str(i) for i in range(count)]
