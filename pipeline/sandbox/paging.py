"""Cursor paging as the scan and external-source listings do it: ``limit`` 10..200 (default 100), an opaque
``cursor`` that lives 24 hours, and ``{entities, cursors: {after}, nextUri, selfUri}``; the last page
has no ``cursors`` and no ``nextUri``."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from pipeline.sandbox.problems import bad_request, detail
from pipeline.sandbox.store import Store

MIN_LIMIT, MAX_LIMIT, DEFAULT_LIMIT = 10, 200, 100
CURSOR_LIFETIME_S = 24 * 3600


def parse_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        limit = -1
    if not MIN_LIMIT <= limit <= MAX_LIMIT:
        raise bad_request(
            f"limit must be between {MIN_LIMIT} and {MAX_LIMIT}",
            detail("limit", raw, f"must be between {MIN_LIMIT} and {MAX_LIMIT}"),
        )
    return limit


def encode_cursor(collection: str, seq: int, now: float | None = None) -> str:
    raw = json.dumps({"c": collection, "s": seq, "t": int(now if now is not None else time.time())})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(collection: str, cursor: str | None, now: float | None = None) -> int:
    """The sequence number a cursor continues after (0 without a cursor)."""
    if not cursor:
        return 0
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        seq, issued, owner = int(raw["s"]), float(raw["t"]), raw["c"]
    except (ValueError, KeyError, TypeError) as err:
        raise bad_request("Invalid cursor", detail("cursor", cursor, "is not a cursor")) from err
    if owner != collection:
        raise bad_request("Invalid cursor", detail("cursor", cursor, "belongs to another listing"))
    if (now if now is not None else time.time()) - issued > CURSOR_LIFETIME_S:
        raise bad_request("Cursor expired", detail("cursor", cursor, "is older than 24 hours"))
    return seq


def listing(
    store: Store,
    collection: str,
    path: str,
    params: Mapping[str, str],
    keep: Callable[[dict[str, Any]], bool] | None = None,
) -> dict[str, Any]:
    """One page of a cursor listing; ``params`` are the request's query parameters."""
    limit = parse_limit(params.get("limit"))
    after = decode_cursor(collection, params.get("cursor"))
    entities, next_seq = store.page(collection, after, limit, keep)
    keep_params = {k: v for k, v in params.items() if k not in ("limit", "cursor")}
    self_params = {
        **keep_params,
        "limit": limit,
        **({"cursor": params["cursor"]} if "cursor" in params else {}),
    }
    body: dict[str, Any] = {"entities": entities, "selfUri": f"{path}?{urlencode(self_params)}"}
    if next_seq is not None:
        cursor = encode_cursor(collection, next_seq)
        body["cursors"] = {"after": cursor}
        body["nextUri"] = f"{path}?{urlencode({**keep_params, 'limit': limit, 'cursor': cursor})}"
    return body
