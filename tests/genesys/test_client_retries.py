"""Retries: 429s pause the whole client, 5xx/timeouts/connection errors are retried within bounds, and
replays of POSTs that may have been applied happen only when the caller declares them safe."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from genesys_fakes import FakeClock, FakeGenesys, dropped, reply, too_many

from pipeline.errors import TerminalApiError, TransientApiError
from pipeline.genesys import API, GenesysClient

GET_PATH = f"{API}/contacts/schemas"
POST_PATH = f"{API}/externalsources"
OTHER_PATH = f"{API}/organizations/schemas"


def call(
    client: GenesysClient, method: str = "GET", path: str = GET_PATH, **kwargs: object
) -> httpx.Response:
    async def main() -> httpx.Response:
        async with client:
            return await client.request(method, path, **kwargs)  # type: ignore[arg-type]

    return asyncio.run(main())


def test_429_with_retry_after_pauses_every_task(
    fake: FakeGenesys, clock: FakeClock, make_client: Callable[..., GenesysClient]
) -> None:
    """After one task meets a 429 with Retry-After: 7, no task of the client sends anything for 7 seconds."""
    client = make_client()

    async def main() -> None:
        async with client:
            await client.request("GET", OTHER_PATH)  # takes the token
            fake.on("GET", GET_PATH, too_many("7"))
            throttled = asyncio.create_task(client.request("GET", GET_PATH))
            while client.stats.throttled == 0:
                await asyncio.sleep(0)
            await asyncio.gather(throttled, *(client.request("GET", OTHER_PATH) for _ in range(5)))

    asyncio.run(main())
    sent = fake.api_sent()
    t429 = next(s.time for s in sent if s.path == GET_PATH)
    later = sent[2:]
    assert len(later) == 6, "the throttled request again, and the five others"
    assert all(s.time >= t429 + 7 for s in later)
    assert (client.stats.throttled, client.stats.retries) == (1, 1)


def test_429_without_retry_after_backs_off_with_jitter(
    fake: FakeGenesys, clock: FakeClock, make_client: Callable[..., GenesysClient]
) -> None:
    """Without Retry-After the pause grows with each 429 and stays within the backoff bounds."""
    fake.on("GET", GET_PATH, too_many(), too_many(), too_many(), reply(200))
    client = make_client(backoff_base_s=1.0, backoff_max_s=30.0)
    assert call(client).status_code == 200
    pauses = [s for s in clock.sleeps if s > 0]
    assert len(pauses) == 3
    assert 0.5 <= pauses[0] <= 1.0
    assert 1.0 <= pauses[1] <= 2.0
    assert 2.0 <= pauses[2] <= 4.0
    assert client.stats.throttled == 3


def test_429s_are_bounded_by_their_own_budget(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient]
) -> None:
    """A server that only ever answers 429 is given up on after max_throttled_attempts."""
    fake.on("GET", GET_PATH, *(too_many("1") for _ in range(10)))
    client = make_client(max_throttled_attempts=4)
    with pytest.raises(TransientApiError, match="gave up after 4 attempts") as info:
        call(client)
    assert info.value.status == 429
    assert info.value.retry_after == 1.0
    assert client.stats.requests_sent == 4


def test_5xx_is_retried_until_success(fake: FakeGenesys, make_client: Callable[..., GenesysClient]) -> None:
    """Two server errors then a success: the caller sees the success and the retries are counted."""
    fake.on("GET", GET_PATH, reply(503), reply(502), reply(200, {"entities": []}))
    client = make_client()
    assert call(client).json() == {"entities": []}
    assert (client.stats.requests_sent, client.stats.retries) == (3, 2)


def test_exhausted_retries_raise_transient_api_error(
    fake: FakeGenesys, clock: FakeClock, make_client: Callable[..., GenesysClient]
) -> None:
    """A server error on every attempt ends in TransientApiError after max_attempts, with backoff between."""
    fake.on(
        "GET", GET_PATH, *(reply(500, {"code": "internal.server.error", "message": "boom"}) for _ in range(9))
    )
    client = make_client(max_attempts=3, backoff_base_s=1.0, backoff_max_s=10.0)
    with pytest.raises(TransientApiError, match="gave up after 3 attempts") as info:
        call(client)
    assert (info.value.status, info.value.code) == (500, "internal.server.error")
    assert client.stats.requests_sent == 3
    assert len(clock.sleeps) == 2
    assert all(0 <= s <= 10 for s in clock.sleeps)


@pytest.mark.parametrize("exc_type", [httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError])
def test_get_is_retried_after_timeouts_and_dropped_connections(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient], exc_type: type[httpx.TransportError]
) -> None:
    """A GET is safe to replay, so it is retried after any transport failure."""
    fake.on("GET", GET_PATH, dropped(exc_type), reply(200))
    assert call(make_client()).status_code == 200
    assert len(fake.api_sent()) == 2


def test_post_is_not_replayed_after_a_dropped_connection_by_default(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient]
) -> None:
    """A POST whose connection dropped after sending may have been applied: it fails instead of replaying."""
    fake.on("POST", POST_PATH, dropped(httpx.ReadError), reply(200))
    with pytest.raises(TransientApiError, match="not retried"):
        call(make_client(), "POST", POST_PATH, json={"name": "x"})
    assert len(fake.api_sent()) == 1


def test_post_is_not_replayed_after_a_5xx_by_default(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient]
) -> None:
    """A 5xx to a POST may follow a write, so without retry_unsafe it is not replayed."""
    fake.on("POST", POST_PATH, reply(500), reply(200))
    with pytest.raises(TransientApiError, match="not retried") as info:
        call(make_client(), "POST", POST_PATH, json={"name": "x"})
    assert info.value.status == 500
    assert len(fake.api_sent()) == 1


def test_post_is_replayed_when_declared_safe(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient]
) -> None:
    """With retry_unsafe=True a POST is retried after a dropped connection and after a 5xx."""
    fake.on("POST", POST_PATH, dropped(httpx.ReadError), reply(503), reply(200, {"ok": True}))
    assert call(make_client(), "POST", POST_PATH, json={}, retry_unsafe=True).json() == {"ok": True}
    assert len(fake.api_sent()) == 3


def test_post_is_retried_when_the_connection_never_opened(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient]
) -> None:
    """A connect error means nothing reached the server, so even an unsafe POST is retried."""
    fake.on("POST", POST_PATH, dropped(httpx.ConnectError), dropped(httpx.ConnectTimeout), reply(200))
    assert call(make_client(), "POST", POST_PATH, json={}).status_code == 200


def test_4xx_is_terminal_and_carries_the_genesys_code(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient]
) -> None:
    """A 400 is raised at once as TerminalApiError with status, code and message, and is not retried."""
    body = {"message": "name is required", "code": "bad.request", "status": 400, "contextId": "c1"}
    fake.on("POST", POST_PATH, reply(400, body))
    client = make_client()
    with pytest.raises(TerminalApiError) as info:
        call(client, "POST", POST_PATH, json={}, retry_unsafe=True)
    err = info.value
    assert (err.status, err.code, err.method, err.url) == (400, "bad.request", "POST", POST_PATH)
    assert "name is required" in str(err)
    assert "Bearer" not in str(err)
    assert client.stats.requests_sent == 1


def test_non_json_error_body_falls_back_to_the_reason_phrase(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient]
) -> None:
    """An HTML error page from a proxy still gives a readable TerminalApiError."""
    fake.on("GET", GET_PATH, lambda r: httpx.Response(403, text="<html>denied</html>"))
    with pytest.raises(TerminalApiError, match="403") as info:
        call(make_client())
    assert info.value.code is None
    assert "Forbidden" in str(info.value)
