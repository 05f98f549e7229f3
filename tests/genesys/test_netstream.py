"""The API client's connections on plain asyncio (genesys/netstream.py): requests and answers over real
sockets on 127.0.0.1, a server closing an idle connection, a silent server, a large answer, and TLS."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sandbox_support import sandbox_settings

from pipeline.genesys.client import GenesysClient
from pipeline.genesys.netstream import FastTransport, uses_proxy
from pipeline.genesys.retrying import certificate_problem
from pipeline.genesys.settings import settings_from
from pipeline.sandbox import Sandbox, SandboxConfig, run_sandbox

LIMITS = httpx.Limits(max_connections=1, max_keepalive_connections=1)
Answer = Callable[[bytes], bytes]  # request head and body -> whole response


def _response(body: bytes, *, close: bool = False) -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nContent-Type: text/plain\r\n"
    return (head + ("Connection: close\r\n" if close else "") + "\r\n").encode() + body


class _Server:
    """A minimal HTTP/1.1 server on 127.0.0.1: counts connections, answers with ``answer``, and closes
    each connection after ``per_connection`` answers (without saying so, as a keep-alive timeout does)."""

    def __init__(self, answer: Answer, per_connection: int = 1000, ssl_context: ssl.SSLContext | None = None):
        self.answer = answer
        self.per_connection = per_connection
        self.ssl_context = ssl_context
        self.connections = 0
        self.writers: list[asyncio.StreamWriter] = []
        self.requests: list[bytes] = []
        self.closed = asyncio.Event()

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl_context)
        port = self.server.sockets[0].getsockname()[1]
        return f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            for _ in range(self.per_connection):
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.lower().split(b"\r\n")
                length = next((int(line[15:]) for line in lines if line.startswith(b"content-length:")), 0)
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                writer.write(self.answer(request))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()
        self.closed.set()

    async def stop(self) -> None:
        self.server.close()
        for writer in self.writers:  # a closing server leaves its open connections be: close them
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()
        await self.server.wait_closed()


def _run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())


def test_requests_and_answers_go_over_one_kept_alive_connection() -> None:
    """Three POSTs with bodies get their answers over one connection, each body received whole."""

    async def scenario() -> None:
        server = _Server(lambda request: _response(request.split(b"\r\n\r\n", 1)[1].upper()))
        url = await server.start()
        async with httpx.AsyncClient(transport=FastTransport(ssl.create_default_context(), LIMITS)) as http:
            answers = [(await http.post(url, content=f"body {i}".encode())).content for i in range(3)]
        await server.stop()
        assert answers == [b"BODY 0", b"BODY 1", b"BODY 2"]
        assert server.connections == 1

    _run(scenario)


def test_a_connection_the_server_closed_while_idle_is_replaced_before_the_next_request() -> None:
    """After the server hangs up an idle connection, the next request goes out on a new one and gets
    its answer: the hang-up was noticed without a failed request."""

    async def scenario() -> None:
        server = _Server(lambda _: _response(b"ok"), per_connection=1)
        url = await server.start()
        async with httpx.AsyncClient(transport=FastTransport(ssl.create_default_context(), LIMITS)) as http:
            first = await http.get(url)
            await server.closed.wait()
            for _ in range(3):  # let the loop deliver the end of stream to the idle connection
                await asyncio.sleep(0)
            second = await http.get(url)
        await server.stop()
        assert (first.content, second.content) == (b"ok", b"ok")
        assert server.connections == 2
        assert len(server.requests) == 2

    _run(scenario)


def test_a_server_that_never_answers_is_a_read_timeout() -> None:
    """A request whose answer never comes fails with httpx's ReadTimeout (what the client retries)."""

    async def scenario() -> None:
        server = _Server(lambda _: b"")  # reads the request, writes nothing
        url = await server.start()
        transport = FastTransport(ssl.create_default_context(), LIMITS)
        async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5.0, read=0.2)) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.get(url)
        await server.stop()

    _run(scenario)


def test_an_answer_larger_than_the_read_buffer_arrives_whole() -> None:
    """A 10 MB answer (reading pauses and resumes on the way) arrives byte for byte."""
    payload = bytes(range(256)) * (10 * 4096)

    async def scenario() -> None:
        server = _Server(lambda _: _response(payload))
        url = await server.start()
        async with httpx.AsyncClient(transport=FastTransport(ssl.create_default_context(), LIMITS)) as http:
            body = (await http.get(url)).content
        await server.stop()
        assert body == payload

    _run(scenario)


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_tls_answers_come_back_when_the_certificate_verifies(tmp_path: Path) -> None:
    """Over TLS with a certificate the client trusts, requests are answered (asyncio's own TLS)."""
    cert, key = _self_signed(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)

    async def scenario() -> None:
        server = _Server(lambda _: _response(b"secret-free"), ssl_context=server_context)
        url = await server.start()
        trusting = ssl.create_default_context(cafile=str(cert))
        async with httpx.AsyncClient(transport=FastTransport(trusting, LIMITS)) as http:
            answers = [(await http.get(url)).content for _ in range(2)]
        await server.stop()
        assert answers == [b"secret-free"] * 2
        assert server.connections == 1

    _run(scenario)


def test_a_certificate_that_does_not_verify_is_refused_and_named(tmp_path: Path) -> None:
    """A self-signed server is refused during the handshake, and the client can tell it was the
    certificate (so it is not retried), as over httpx's own transport."""
    cert, key = _self_signed(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)

    async def scenario() -> None:
        server = _Server(lambda _: _response(b"never"), ssl_context=server_context)
        url = await server.start()
        async with httpx.AsyncClient(transport=FastTransport(ssl.create_default_context(), LIMITS)) as http:
            with pytest.raises(httpx.ConnectError) as refused:
                await http.get(url)
        await server.stop()
        assert certificate_problem(refused.value) is not None
        assert server.requests == []

    _run(scenario)


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with run_sandbox(SandboxConfig(rate_limit=0)) as sandbox:
        yield sandbox


def test_the_clients_lanes_use_the_asyncio_backend_unless_a_proxy_is_set(
    sb: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against the sandbox (loopback ignores proxies) the lanes are FastTransport and a bulk enrich is
    stored; for a region with HTTPS_PROXY set they stay on httpx's own transport, which honours it."""

    async def lane_transports(settings: object, request: bool) -> list[type]:
        async with GenesysClient(settings) as client:  # type: ignore[arg-type]
            if request:
                await client.request("GET", "/api/v2/externalcontacts/externalsources")
            assert client._lanes is not None
            return [type(lane._transport) for lane in client._lanes._clients]

    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    assert uses_proxy({"https_proxy": "http://proxy:3128"})
    assert not uses_proxy({"NO_PROXY": "*"})
    assert set(asyncio.run(lane_transports(sandbox_settings(sb), True))) == {FastTransport}
    region = settings_from(region="mypurecloud.ie", base_url=None, client_id="x", client_secret="y", env={})
    assert FastTransport not in set(asyncio.run(lane_transports(region, False)))
    monkeypatch.delenv("HTTPS_PROXY")
    assert set(asyncio.run(lane_transports(region, False))) == {FastTransport}
