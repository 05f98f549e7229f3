"""Reading ahead: the next item of an iterator computed in a worker thread while the caller uses the
current one.

Worth it where both sides spend their time inside polars, which lets go of the GIL: reading and building
the next chunk then overlaps with writing or grouping the current one, on a second core.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar, cast

T = TypeVar("T")
_END = object()


def ahead(items: Iterator[T], *, name: str = "ahead") -> Iterator[T]:
    """``items`` in order, each next one computed while the current one is used (one at most in hand).

    An exception raised computing an item is raised here, when that item is reached. Closing this
    iterator early waits for the item in progress, so nothing runs on after the caller has moved on.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=name) as pool:
        future = pool.submit(next, items, _END)
        while (item := future.result()) is not _END:
            future = pool.submit(next, items, _END)
            yield cast(T, item)
