"""An async job's result comes back from ``asyncrun.run`` without ever being formatted."""

from __future__ import annotations

import asyncio

import pytest

from pipeline import asyncrun


class _Large:
    """Stands for a result of millions of rows, whose repr would take seconds and gigabytes."""

    def __init__(self) -> None:
        self.reprs = 0

    def __repr__(self) -> str:
        self.reprs += 1
        return "<large>"


async def _job(result: _Large) -> _Large:
    await asyncio.sleep(0)
    return result


def test_the_result_is_returned_without_its_repr_being_built() -> None:
    """``asyncio.run`` formats its main task's result on the way out (CPython looks the SIGINT handler,
    a partial holding the task, up as an enum); ``asyncrun.run`` hands the result over outside the task."""
    result = _Large()
    assert asyncrun.run(_job(result)) is result
    assert result.reprs == 0


def test_an_exception_of_the_job_propagates() -> None:
    """A failing job raises its own exception, as ``asyncio.run`` does."""

    async def failing() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        asyncrun.run(failing())
