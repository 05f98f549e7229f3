"""httpcore's network backend on plain asyncio streams, for the API client's connections.

httpcore reaches the network through anyio on asyncio, which wraps every read and write of a request in
cancel scopes and asks ``sniffio`` which event loop runs, and its pool asks each idle connection whether
its socket became readable with a ``getpeername`` and a ``poll``. For a bulk request that was about a
third of the client's CPU. Here a connection is an asyncio protocol: reads wait on a future with one
timer, writes go to the transport, and "readable while idle" is known from what the protocol was told
(data or end of stream arrived), with no system call. TLS is asyncio's own (``loop.start_tls``).

The request's headers and body, written one after the other, leave in one segment: a write is handed to
the transport at the end of the event loop's turn, so the server parses one packet per request.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterable, Mapping
from typing import Any

import httpcore
import httpx

# Bytes buffered from the server before reading from the socket pauses (an export page is ~0.5 MB).
READ_HIGH_WATER = 4 * 1024 * 1024
SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]


class _Connection(asyncio.Protocol):
    """One connection: bytes received so far, the end of stream, and who waits for what."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self.reading: asyncio.Future[None] | None = None
        self.draining: asyncio.Future[None] | None = None
        self.paused_reading = False
        self.pending: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > READ_HIGH_WATER and not self.paused_reading and self.transport is not None:
            self.paused_reading = True
            self.transport.pause_reading()
        self._wake_reader()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake_reader()
        return False  # close the transport: HTTP/1.1 never half-closes

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake_reader()
        if self.draining is not None and not self.draining.done():
            self.draining.set_result(None)

    def pause_writing(self) -> None:
        self.draining = self.loop.create_future()

    def resume_writing(self) -> None:
        if self.draining is not None and not self.draining.done():
            self.draining.set_result(None)
        self.draining = None

    def _wake_reader(self) -> None:
        if self.reading is not None and not self.reading.done():
            self.reading.set_result(None)


async def _wait(future: asyncio.Future[Any], timeout: float | None, expired: type[Exception]) -> None:
    """Await ``future``, raising ``expired`` after ``timeout`` seconds (None: no limit)."""
    if timeout is None:
        await future
        return
    timer = future.get_loop().call_later(timeout, _expire, future)
    try:
        await future
    except _Expired:
        raise expired(f"no progress in {timeout} s") from None
    finally:
        timer.cancel()


class _Expired(Exception):
    pass


def _expire(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(_Expired())


class AsyncioStream(httpcore.AsyncNetworkStream):
    def __init__(self, connection: _Connection) -> None:
        self._conn = connection

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        conn = self._conn
        while not conn.buffer:
            if conn.eof:
                if conn.error is not None:
                    raise httpcore.ReadError(str(conn.error) or type(conn.error).__name__)
                return b""
            conn.reading = conn.loop.create_future()
            try:
                await _wait(conn.reading, timeout, httpcore.ReadTimeout)
            finally:
                conn.reading = None
        data = bytes(conn.buffer[:max_bytes])
        del conn.buffer[:max_bytes]
        if conn.paused_reading and len(conn.buffer) < READ_HIGH_WATER // 2 and conn.transport is not None:
            conn.paused_reading = False
            conn.transport.resume_reading()
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        conn = self._conn
        if not buffer:
            return
        if conn.transport is None or conn.transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        if not conn.pending:
            # Handed over at the end of this turn, together with whatever follows it in the same turn
            # (the body after the headers): one segment, one wake-up of the server.
            conn.loop.call_soon(self._flush)
        conn.pending.append(buffer)
        if conn.draining is not None:
            await _wait(conn.draining, timeout, httpcore.WriteTimeout)

    def _flush(self) -> None:
        conn = self._conn
        data, conn.pending = b"".join(conn.pending), []
        if conn.transport is not None and not conn.transport.is_closing():
            conn.transport.write(data)

    async def aclose(self) -> None:
        conn = self._conn
        if conn.pending:
            self._flush()
        if conn.transport is not None:
            conn.transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        conn = self._conn
        assert conn.transport is not None
        try:
            transport = await conn.loop.start_tls(
                conn.transport,
                conn,
                ssl_context,
                server_hostname=server_hostname,
                ssl_handshake_timeout=timeout,
            )
        except TimeoutError as exc:
            conn.transport.close()
            raise httpcore.ConnectTimeout(str(exc) or "the TLS handshake timed out") from exc
        except (OSError, ssl.SSLError) as exc:
            conn.transport.close()
            raise httpcore.ConnectError(str(exc)) from exc
        assert isinstance(transport, asyncio.Transport)
        conn.transport = transport
        return self

    def get_extra_info(self, info: str) -> Any:
        conn = self._conn
        if info == "is_readable":
            # Idle and told of data or the end of stream: the server closed (or broke) the connection.
            return bool(conn.buffer) or conn.eof
        if conn.transport is None:
            return None
        if info == "ssl_object":
            return conn.transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return conn.transport.get_extra_info("sockname")
        if info == "server_addr":
            return conn.transport.get_extra_info("peername")
        if info == "socket":
            return conn.transport.get_extra_info("socket")
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend on asyncio protocols (see the module doc)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        conn = _Connection(loop)
        local = (local_address, 0) if local_address else None
        try:
            async with asyncio.timeout(timeout):
                transport, _ = await loop.create_connection(lambda: conn, host, port, local_addr=local)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"connecting to {host}:{port} timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        sock = transport.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return AsyncioStream(conn)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:  # pragma: no cover - the client never connects to a Unix socket
        raise httpcore.ConnectError("Unix sockets are not used by this client")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


def uses_proxy(env: Mapping[str, str]) -> bool:
    """Whether httpx would send requests through a proxy named in the environment (any case)."""
    return any(env.get(name) or env.get(name.lower()) for name in PROXY_VARIABLES)


class FastTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over :class:`AsyncioBackend`: the same connection pool, requests, responses and
    exceptions, only the sockets are driven by asyncio directly.

    httpx builds its httpcore pool itself and has no parameter for the network backend, so the pool is
    built again here with one (``_pool`` is where httpx's transport keeps it).
    """

    def __init__(self, verify: ssl.SSLContext, limits: httpx.Limits) -> None:
        super().__init__(verify=verify, limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=verify,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=AsyncioBackend(),
        )
