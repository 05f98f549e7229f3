"""Connection lanes: the API requests of one client spread over single-connection httpx clients.

httpcore's pool, each time a request starts or ends, walks its connections once per queued request,
asking each whether it is idle, and asks every idle one whether its socket became readable (a
``getpeername`` and a ``poll`` each). With one pool of C connections and C requests in flight that is
O(C²) work per request: at 16 connections it was about half of the client's CPU per bulk request, and
beyond ~32 it doubled the CPU per request. A lane is an ``httpx.AsyncClient`` limited to one connection
and lent to one request at a time, so the pool it walks holds one connection; a request waits for a free
lane the way it waited for a free connection in the shared pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx


class Lanes:
    """``count`` single-connection clients, each lent to one request at a time (see the module doc)."""

    def __init__(self, open_client: Callable[[int], httpx.AsyncClient], count: int) -> None:
        if count < 1:
            raise ValueError("at least one lane is needed")
        # Opened up front but connected lazily: a lane no request needs costs no socket.
        self._clients = [open_client(1) for _ in range(count)]
        self._free: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
        for client in self._clients:
            self._free.put_nowait(client)

    def __len__(self) -> int:
        return len(self._clients)

    async def acquire(self) -> httpx.AsyncClient:
        """A free lane, once one is; give it back with :meth:`release` whatever happens."""
        return await self._free.get()

    def release(self, client: httpx.AsyncClient) -> None:
        self._free.put_nowait(client)

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()
