"""Secrets and tokens stay out of logs, reprs and error messages, whatever path a request takes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import httpx
import pytest
from genesys_fakes import CLIENT_SECRET, TOKEN_PREFIX, FakeGenesys, dropped, reply, too_many

from pipeline.errors import PipelineError
from pipeline.genesys import API, GenesysClient

PATH = f"{API}/contacts/schemas"


def test_secret_and_tokens_never_reach_logs_reprs_or_errors(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient], caplog: pytest.LogCaptureFixture
) -> None:
    """Through 401, 429, 5xx, dropped connections, 4xx and refused credentials, nothing leaks."""
    caplog.set_level(logging.DEBUG)
    client = make_client(max_attempts=2)
    texts: list[str] = []

    async def attempt(method: str, **kwargs: object) -> None:
        try:
            await client.request(method, PATH, **kwargs)  # type: ignore[arg-type]
        except PipelineError as exc:
            texts.extend(
                [str(exc), repr(exc), repr(exc.__dict__), repr(exc.__cause__), repr(exc.__context__)]
            )

    async def main() -> None:
        async with client:
            await attempt("GET")
            fake.revoke_tokens()
            fake.on("GET", PATH, too_many("1"), reply(500), reply(200))
            await attempt("GET")
            fake.on("POST", PATH, dropped(httpx.ReadError))
            await attempt("POST", json={"lastName": "Secretive"})
            fake.on("GET", PATH, reply(500), reply(503))
            await attempt("GET")
            fake.on("GET", PATH, reply(400, {"code": "bad.request", "message": "nope"}))
            await attempt("GET")
            texts.extend([repr(client), repr(client.settings), str(client.settings), repr(client.stats)])
            texts.append(repr(client._tokens))
            fake.revoke_tokens()
            fake.accept_credentials = False
            await attempt("GET")

    asyncio.run(main())
    assert fake.tokens_issued == 2
    assert len(texts) > 20, "errors were raised and recorded"
    texts.extend(record.getMessage() for record in caplog.records)
    texts.extend(repr(record.args) for record in caplog.records)
    assert any("429" in t for t in texts), "the log shows what happened"
    for text in texts:
        assert CLIENT_SECRET not in text
        assert TOKEN_PREFIX not in text
        assert "Secretive" not in text, "request bodies (personal data) are not logged"


def test_personal_data_quoted_by_the_server_is_masked_in_errors(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient]
) -> None:
    """An error message echoing an email or phone shows it masked, while ids stay readable."""
    message = "workEmail jane.doe@example.com or phone +14155550123 already used by c-42"
    fake.on("GET", PATH, reply(409, {"code": "identifier.conflict", "message": message}))

    async def main() -> None:
        async with make_client() as client:
            await client.request("GET", PATH)

    with pytest.raises(PipelineError) as info:
        asyncio.run(main())
    text = str(info.value)
    assert "jane.doe" not in text
    assert "4155550" not in text
    assert "j***@example.com" in text
    assert "c-42" in text
