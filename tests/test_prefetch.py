"""Reading ahead keeps order, raises where the failing item would come, and leaves nothing running."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from pipeline.prefetch import ahead


def test_items_come_in_order_and_each_next_one_is_computed_in_another_thread() -> None:
    """Every item arrives once, in order; the items after the first are made off the caller's thread."""
    threads: list[str] = []

    def items() -> Iterator[int]:
        for i in range(5):
            threads.append(threading.current_thread().name)
            yield i

    assert list(ahead(items(), name="probe")) == [0, 1, 2, 3, 4]
    assert all(name.startswith("probe") for name in threads)


def test_a_failing_item_raises_when_it_is_reached() -> None:
    """The items before the failure are delivered first; then the error itself surfaces."""

    def items() -> Iterator[int]:
        yield 1
        raise ValueError("broken chunk")

    reader = ahead(items())
    assert next(reader) == 1
    with pytest.raises(ValueError, match="broken chunk"):
        next(reader)


def test_stopping_early_waits_for_the_item_in_progress() -> None:
    """Closing the iterator returns only once the worker is idle: nothing writes after the caller left."""
    started, release = threading.Event(), threading.Event()
    done: list[int] = []

    def items() -> Iterator[int]:
        yield 0
        started.set()
        release.wait(timeout=5)
        done.append(1)
        yield 1

    reader = ahead(items())
    assert next(reader) == 0
    started.wait(timeout=5)
    release.set()
    reader.close()
    assert done == [1]
