"""A wrapper that keeps credentials and tokens out of reprs, logs and tracebacks."""

from __future__ import annotations

import hmac
from typing import Final

from pipeline.logs import register_secret

MASK: Final = "***"


class Secret:
    """A string that shows as ``***`` everywhere except through :meth:`reveal`.

    ``repr`` and ``str`` are masked so a secret inside a dataclass, an f-string or a log argument cannot
    leak by accident; the one way out is an explicit ``reveal()`` at the point of use.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        # Anything that formats the raw value by mistake is still caught by the log filter.
        register_secret(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        # Constant-time comparison: equality on secrets should not leak their prefix through timing.
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))
