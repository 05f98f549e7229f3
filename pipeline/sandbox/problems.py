"""Error shapes of the External Contacts API.

Two shapes exist: the standard error body of a failed request
(``{message, code, status, contextId, details[], errors[]}``) and the per-entity error inside a bulk
response (``{code, message, status, retryable, details[{fieldName, value, message}], entity}``).
One :class:`EntityError` produces either.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

# Error codes the sandbox uses (documented in docs/sandbox.md).
BAD_REQUEST = "bad.request"
INVALID_VALUE = "invalid.value"
NOT_FOUND = "not.found"
ENTITY_EXISTS = "entity.exists"
IDENTIFIER_CONFLICT = "identifier.conflict"
CONFLICT = "conflict"
NAME_CONFLICT = CONFLICT
BAD_CREDENTIALS = "bad.credentials"
TOO_MANY_REQUESTS = "too.many.requests.retry.after"


def detail(field_name: str, value: Any, message: str) -> dict[str, str]:
    """One ``{fieldName, value, message}`` entry; non-text values are shown as JSON."""
    shown = value if isinstance(value, str) else json.dumps(value, default=str)
    return {"fieldName": field_name, "value": shown, "message": message}


@dataclass
class EntityError(Exception):
    """Why one operation (or a whole single-entity request) failed."""

    status: int
    code: str
    message: str
    details: list[dict[str, str]] = field(default_factory=list)
    retryable: bool = False

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def bulk_error(self, entity: Any) -> dict[str, Any]:
        """The ``error`` object of a failed bulk result; ``entity`` is the operation as sent."""
        return {
            "code": self.code,
            "message": self.message,
            "status": self.status,
            "retryable": self.retryable,
            "details": list(self.details),
            "entity": entity,
        }

    def body(self) -> dict[str, Any]:
        """The standard error body, for a request that failed as a whole."""
        message = self.message
        extra = [f"{d['fieldName']}: {d['message']}" for d in self.details if d["message"] not in message]
        if extra:
            message += ": " + "; ".join(extra)
        details = [{"errorCode": self.code, "fieldName": d["fieldName"]} for d in self.details]
        return error_body(self.status, self.code, message, details)


def error_body(
    status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """``{message, code, status, contextId, details, errors}`` with a fresh contextId."""
    return {
        "message": message,
        "code": code,
        "status": status,
        "contextId": str(uuid.uuid4()),
        "details": details or [],
        "errors": [],
    }


class Problems:
    """Collects field problems so that one response reports all of them at once."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, field_name: str, value: Any, message: str) -> None:
        self.items.append(detail(field_name, value, message))

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self, code: str = INVALID_VALUE, message: str = "Validation failed") -> None:
        """Raise one 400 error listing every problem; its message names the first one."""
        if self.items:
            first = self.items[0]
            more = f" (and {len(self.items) - 1} more)" if len(self.items) > 1 else ""
            summary = f"{message}: {first['fieldName']}: {first['message']}{more}"
            raise EntityError(400, code, summary, self.items)


def bad_request(message: str, *details: dict[str, str]) -> EntityError:
    return EntityError(400, BAD_REQUEST, message, list(details))


def not_found(what: str) -> EntityError:
    return EntityError(404, NOT_FOUND, f"{what} not found")
