"""Connection lanes: the API requests of one client spread over single-connection httpx transports.

httpcore's pool, each time a request starts or ends, walks its connections once per queued request,
asking each whether it is idle, and asks every idle one whether its socket became readable (a
``getpeername`` and a ``poll`` each). With one pool of C connections and C requests in flight that is
O(C²) work per request: at 16 connections it was about half of the client's CPU per bulk request, and
beyond ~32 it doubled the CPU per request. A lane is limited to one connection and lent to one request at
a time, so the pool it walks holds one connection; a request waits for a free lane the way it waited for
a free connection in the shared pool.

A lane is an ``httpx.AsyncHTTPTransport`` (httpx's public transport API), not an ``AsyncClient``: for
API requests the client layer only merged default headers and a timeout, ran the no-auth and
no-redirect steps and stored cookies nobody sends back (the API authenticates by bearer token), about a
seventh of the client's CPU per bulk request. :meth:`Lanes.send` does what of it applies: the same
headers and timeout, the whole body read, the response closed. When a proxy is configured in the
environment the client does without lanes (httpx reads that configuration; we do not imitate it).
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.request
from typing import Any

import httpx

# What httpx.AsyncClient adds to every request (besides Host and Content-Length, which Request sets).
_CLIENT_HEADERS = {"Accept": "*/*", "Accept-Encoding": "gzip, deflate", "Connection": "keep-alive"}


def environment_proxies() -> bool:
    """Whether the environment names a proxy (``*_proxy`` variables, or the system's settings)."""
    return bool(urllib.request.getproxies())


class Lanes:
    """``count`` single-connection transports, each lent to one request at a time (see the module doc)."""

    def __init__(
        self,
        count: int,
        *,
        verify: ssl.SSLContext | bool,
        timeout: httpx.Timeout,
        headers: dict[str, str],
    ) -> None:
        if count < 1:
            raise ValueError("at least one lane is needed")
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        # Opened up front but connected lazily: a lane no request needs costs no socket.
        self._transports = [httpx.AsyncHTTPTransport(verify=verify, limits=limits) for _ in range(count)]
        self._free: asyncio.Queue[httpx.AsyncHTTPTransport] = asyncio.Queue()
        for transport in self._transports:
            self._free.put_nowait(transport)
        self._headers = {**_CLIENT_HEADERS, **headers}
        self._extensions = {"timeout": timeout.as_dict()}

    def __len__(self) -> int:
        return len(self._transports)

    async def send(
        self,
        method: str,
        url: httpx.URL,
        *,
        content: bytes | None,
        headers: dict[str, str],
        params: Any = None,
    ) -> httpx.Response:
        """``method url`` on the next free lane, its body read; raises httpx's transport errors."""
        if params:
            url = url.copy_merge_params(params)
        request = httpx.Request(
            method, url, content=content, headers={**self._headers, **headers}, extensions=self._extensions
        )
        transport = await self._free.get()
        try:
            response = await transport.handle_async_request(request)
            response.request = request
            try:
                await response.aread()
            finally:
                await response.aclose()
        finally:
            self._free.put_nowait(transport)
        return response

    async def aclose(self) -> None:
        for transport in self._transports:
            await transport.aclose()
