"""Client credentials: token reuse, refresh before expiry, single-flight fetching and the 401 path."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from urllib.parse import parse_qs

import httpx
import pytest
from genesys_fakes import CLIENT_ID, CLIENT_SECRET, FakeClock, FakeGenesys

from pipeline.errors import AuthError
from pipeline.genesys import API, GenesysClient

PATH = f"{API}/contacts/schemas"


def unauthorized(request: httpx.Request) -> httpx.Response:
    return httpx.Response(401, json={"code": "bad.credentials", "message": "token rejected", "status": 401})


async def get_times(client: GenesysClient, clock: FakeClock, offsets: list[float]) -> None:
    """One GET at each clock offset (seconds after the first)."""
    start = clock()
    async with client:
        for offset in offsets:
            clock.now = start + offset
            await client.request("GET", PATH)


def test_token_request_uses_basic_auth_and_client_credentials(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient]
) -> None:
    """The token is asked for with grant_type=client_credentials and HTTP Basic client id:secret."""
    asyncio.run(get_times(make_client(), fake.clock, [0]))
    (request,) = fake.token_requests
    assert request.url.path == "/oauth/token"
    assert str(request.url).startswith("https://login.test.example/")
    assert parse_qs(request.content.decode()) == {"grant_type": ["client_credentials"]}
    expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"


def test_token_is_reused_until_shortly_before_expiry(
    fake: FakeGenesys, clock: FakeClock, make_client: Callable[..., GenesysClient]
) -> None:
    """A 3600 s token serves every request until 60 s before it expires, then a new one is fetched."""
    fake.token_lifetime = 3600
    asyncio.run(get_times(make_client(token_refresh_margin_s=60), clock, [0, 100, 3539]))
    assert fake.tokens_issued == 1
    asyncio.run(get_times(make_client(token_refresh_margin_s=60), clock, [0, 3541, 3600]))
    assert fake.tokens_issued == 3  # one when the second client starts, one more at 3541 s


def test_short_lived_tokens_are_not_refreshed_before_every_request(
    fake: FakeGenesys, clock: FakeClock, make_client: Callable[..., GenesysClient]
) -> None:
    """A token shorter-lived than twice the margin is still used for the first half of its life."""
    fake.token_lifetime = 10
    asyncio.run(get_times(make_client(token_refresh_margin_s=60), clock, [0, 1, 4.9, 5.1]))
    assert fake.tokens_issued == 2


def test_concurrent_requests_share_one_token_fetch(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient]
) -> None:
    """Twenty tasks starting together cause a single token request."""

    async def main() -> None:
        async with make_client() as client:
            await asyncio.gather(*(client.request("GET", PATH) for _ in range(20)))

    asyncio.run(main())
    assert fake.tokens_issued == 1
    assert len(fake.api_sent()) == 20


def test_401_fetches_a_new_token_and_sends_once_more(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient]
) -> None:
    """A revoked token costs one extra token fetch and one resend, and the call succeeds."""

    async def main() -> GenesysClient:
        async with make_client() as client:
            await client.request("GET", PATH)
            fake.revoke_tokens()
            response = await client.request("GET", PATH)
            assert response.status_code == 200
            return client

    client = asyncio.run(main())
    assert fake.tokens_issued == 2
    assert client.stats.token_refreshes == 2
    assert client.stats.requests_sent == 3


def test_concurrent_401s_fetch_only_one_new_token(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient]
) -> None:
    """Many tasks meeting a revoked token together still cause a single new fetch."""

    async def main() -> None:
        async with make_client() as client:
            await client.request("GET", PATH)
            fake.revoke_tokens()
            await asyncio.gather(*(client.request("GET", PATH) for _ in range(10)))

    asyncio.run(main())
    assert fake.tokens_issued == 2


def test_a_second_401_in_a_row_is_an_auth_error(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient]
) -> None:
    """If even a freshly fetched token is refused, the run stops with AuthError instead of looping."""
    fake.on("GET", PATH, unauthorized, unauthorized)

    async def main() -> None:
        async with make_client() as client:
            await client.request("GET", PATH)

    with pytest.raises(AuthError, match="freshly issued token"):
        asyncio.run(main())
    assert fake.tokens_issued == 2
    assert len(fake.api_sent()) == 2


def test_refused_credentials_raise_auth_error_naming_the_client_id(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient]
) -> None:
    """A 400 from the login service is an AuthError that names the client id and not the secret."""
    fake.accept_credentials = False

    async def main() -> None:
        async with make_client() as client:
            await client.request("GET", PATH)

    with pytest.raises(AuthError, match="refused the client credentials") as info:
        asyncio.run(main())
    assert CLIENT_ID in str(info.value)
    assert CLIENT_SECRET not in str(info.value)
    assert fake.api_sent() == []
