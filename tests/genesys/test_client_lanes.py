"""API requests sent over the client's lanes reach the server exactly as ``httpx.AsyncClient`` sent them:
the same request line, headers in the same order, and body."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from pipeline.genesys.lanes import Lanes


async def _capture(send: object) -> bytes:
    """What one request made by ``send(base_url)`` looks like on the wire (a one-shot local server)."""
    received = asyncio.get_running_loop().create_future()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ),
            0,
        )
        received.set_result(head + await reader.readexactly(length))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        response = await send(f"http://127.0.0.1:{port}")  # type: ignore[operator]
        assert response.status_code == 200
        assert response.json() == {}
        # Each capture has its own server, so its own port: the rest must be identical.
        return (await received).replace(f":{port}".encode(), b":PORT")


@pytest.mark.parametrize("params", [None, {"q": "a b", "n": 2}])
def test_a_lane_sends_what_an_httpx_client_sends(params: dict[str, object] | None) -> None:
    """A POST over a lane and the same POST over ``httpx.AsyncClient`` are byte for byte the same."""
    timeout = httpx.Timeout(5.0)
    headers = {"Authorization": "Bearer t", "Content-Type": "application/json"}
    body = b'{"entities": []}'

    async def by_client(base: str) -> httpx.Response:
        async with httpx.AsyncClient(timeout=timeout, headers={"User-Agent": "ua/1"}, trust_env=False) as c:
            return await c.request("POST", f"{base}/bulk", params=params, content=body, headers=headers)

    async def by_lane(base: str) -> httpx.Response:
        lanes = Lanes(1, verify=True, timeout=timeout, headers={"User-Agent": "ua/1"})
        try:
            return await lanes.send(
                "POST", httpx.URL(f"{base}/bulk"), params=params, content=body, headers=headers
            )
        finally:
            await lanes.aclose()

    assert asyncio.run(_capture(by_lane)) == asyncio.run(_capture(by_client))
