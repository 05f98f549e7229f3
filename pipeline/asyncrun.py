"""``asyncio.run`` for coroutines whose result may be large.

On its way out, ``asyncio.run`` asks ``signal.getsignal(SIGINT)``, which (CPython 3.11) tries to turn the
handler asyncio installed, a partial holding the main task, into a ``Handlers`` enum; the failed lookup
formats its message with the handler's repr, hence the task's, hence its result's. ``reprlib`` cuts a
list short but not a dataclass: a ``plan`` result of 2.7M diff rows was written out whole, 10 s and a
gigabyte for 200k input rows, most of the 13.7 GB one million rows took. The result is handed over
outside the task instead, so the task's own result is None.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coroutine)``, its result returned without ever being part of a task's repr."""
    box: list[T] = []

    async def main() -> None:
        box.append(await coroutine)

    asyncio.run(main())
    return box[0]
