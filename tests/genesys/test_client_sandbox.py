"""The client against the embedded sandbox over real HTTP on loopback: tokens, bulk enrich, 429s,
revoked tokens and writes applied before the connection dropped."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

from pipeline.errors import TransientApiError
from pipeline.genesys import GenesysClient, settings_from
from pipeline.sandbox import DEMO_EXTERNAL_SOURCE_ID, DEMO_EXTERNAL_SOURCE_NAME, SandboxConfig, run_sandbox

T = TypeVar("T")
SOURCE = {"id": DEMO_EXTERNAL_SOURCE_ID}


@pytest.fixture
def sandbox() -> Iterator[Any]:
    with run_sandbox(SandboxConfig(rate_limit=300, fault_rate=0.0, seed=0, token_lifetime=86400)) as sb:
        yield sb


def client_for(sb: Any, **overrides: Any) -> GenesysClient:
    settings = settings_from(
        region=None, base_url=sb.base_url, client_id=sb.client_id, client_secret=sb.client_secret, env={}
    )
    # Real sleeps here: keep backoff short so fault tests stay quick.
    overrides = {"backoff_base_s": 0.01, "backoff_max_s": 0.1, **overrides}
    return GenesysClient(dataclasses.replace(settings, **overrides))


def run(client: GenesysClient, use: Callable[[GenesysClient], Awaitable[T]]) -> T:
    async def main() -> T:
        async with client:
            return await use(client)

    return asyncio.run(main())


def upsert(contact_id: str, last_name: str = "Doe", first: str = "ExternalId") -> dict[str, Any]:
    """A contact Upsert keyed on its Contact ID, as the planner builds it."""
    external_id = {"type": "ExternalId", "value": contact_id, "externalSource": SOURCE}
    email = {"type": "Email", "value": f"{contact_id.lower()}@example.com"}
    return {
        "id": f"row-{contact_id}",
        "action": "Upsert",
        "matchingIdentifiers": [external_id, email] if first == "ExternalId" else [email, external_id],
        "contact": {
            "firstName": "Jo",
            "lastName": last_name,
            "workEmail": f"{contact_id.lower()}@example.com",
            "externalIds": [{"externalSource": SOURCE, "value": contact_id}],
        },
    }


def test_bulk_enrich_creates_then_updates_over_http(sandbox: Any) -> None:
    """A first bulk enrich creates the contacts with one token; sending it again updates them."""
    ops = [upsert(f"C-{i}") for i in range(3)]
    client = client_for(sandbox)

    async def twice(c: GenesysClient) -> tuple[Any, Any]:
        return await c.bulk_enrich("contacts", ops), await c.bulk_enrich("contacts", ops)

    first, second = run(client, twice)
    assert sorted(r.status for r in first.results) == [201, 201, 201]
    assert sorted(r.status for r in second.results) == [200, 200, 200]
    assert first.by_id().keys() == {op["id"] for op in ops}
    assert sandbox.store.count("contacts") == 3
    assert (client.stats.token_refreshes, client.stats.requests_sent, client.stats.throttled) == (1, 2, 0)


def test_dry_run_changes_nothing(sandbox: Any) -> None:
    """A dry-run bulk enrich reports what would happen and stores nothing."""
    result = run(client_for(sandbox), lambda c: c.bulk_enrich("contacts", [upsert("C-1")], dry_run=True))
    assert result.results[0].success
    assert sandbox.store.count("contacts") == 0


def test_reading_helpers_over_http(sandbox: Any) -> None:
    """Sources, lookups, scans, schemas and get() work against the sandbox's endpoints."""

    async def use(c: GenesysClient) -> dict[str, Any]:
        created = (await c.bulk_enrich("contacts", [upsert("C-7")])).results[0].entity or {}
        identifier = {"type": "ExternalId", "value": "C-7", "externalSource": SOURCE}
        new_source = await c.create_external_source("pipeline tests")
        return {
            "demo": await c.find_external_source(DEMO_EXTERNAL_SOURCE_NAME),
            "missing": await c.find_external_source("no such source"),
            "new": new_source,
            "found_new": await c.find_external_source("pipeline tests"),
            "lookup": await c.lookup_identifier("contacts", identifier),
            "absent": await c.lookup_identifier("contacts", {**identifier, "value": "C-404"}),
            "scan": await c.scan("contacts", limit=10),
            "get": await c.get("contacts", created["id"]),
            "schemas": await c.list_schemas("contacts"),
            "created": created,
        }

    got = run(client_for(sandbox), use)
    assert got["demo"]["id"] == DEMO_EXTERNAL_SOURCE_ID
    assert got["missing"] is None
    assert got["found_new"]["id"] == got["new"]["id"]
    assert got["lookup"]["id"] == got["created"]["id"]
    assert got["absent"] is None
    assert [e["id"] for e in got["scan"].entities] == [got["created"]["id"]]
    assert got["scan"].after is None
    assert got["get"]["lastName"] == "Doe"
    assert isinstance(got["schemas"], list)


def test_429_from_a_tiny_budget_is_waited_out() -> None:
    """With no client-side limit against a 3-per-second server, 429s come back yet every call succeeds."""
    with run_sandbox(SandboxConfig(rate_limit=3, rate_window_s=1.0, seed=0)) as sb:
        client = client_for(sb, rate_limit_per_minute=0)

        async def burst(c: GenesysClient) -> list[Any]:
            return await asyncio.gather(*(c.scan("contacts", limit=10) for _ in range(8)))

        pages = run(client, burst)
        assert sb.stats.rate_limited == client.stats.throttled
    assert len(pages) == 8
    assert client.stats.throttled >= 1
    assert client.stats.retries >= client.stats.throttled


def test_revoked_tokens_cost_exactly_one_refresh(sandbox: Any) -> None:
    """After the server revokes every token, the next call fetches one new token and succeeds."""
    client = client_for(sandbox)

    async def use(c: GenesysClient) -> Any:
        await c.bulk_enrich("contacts", [upsert("C-1")])
        sandbox.revoke_tokens()
        return await asyncio.gather(*(c.scan("contacts", limit=10) for _ in range(4)))

    pages = run(client, use)
    assert all(len(p.entities) == 1 for p in pages)
    assert client.stats.token_refreshes == 2


def test_dropped_connections_after_applied_upserts_create_no_duplicates() -> None:
    """Upserts matched on ExternalId first are replayed after applied-then-dropped writes, yet each
    contact exists once."""
    # No budget on either side: pacing is not the subject, and would only make this slow.
    config = SandboxConfig(rate_limit=0, fault_rate=0.5, fault_kinds=("drop_after_write",), seed=0)
    with run_sandbox(config) as sb:
        client = client_for(sb, max_attempts=12, rate_limit_per_minute=0)
        batches = [[upsert(f"C-{b}-{i}") for i in range(3)] for b in range(12)]

        async def push(c: GenesysClient) -> list[Any]:
            return await asyncio.gather(*(c.bulk_enrich("contacts", batch) for batch in batches))

        results = run(client, push)
        drops = sb.stats.faults.get("drop_after_write", 0)
        assert drops > 0, "some writes were applied and then had their connection dropped"
        assert client.stats.retries == drops
        assert all(r.success for result in results for r in result.results)
        assert sb.store.count("contacts") == 3 * len(batches)


def test_dropped_connection_is_not_replayed_when_matching_is_not_by_external_id_first() -> None:
    """When an operation matches on Email first a replay is not known to be safe: the error surfaces."""
    config = SandboxConfig(fault_rate=1.0, fault_kinds=("drop_after_write",), seed=0)
    with run_sandbox(config) as sb:
        client = client_for(sb)
        with pytest.raises(TransientApiError, match="not retried"):
            run(client, lambda c: c.bulk_enrich("contacts", [upsert("C-1", first="Email")]))
        assert client.stats.requests_sent == 1
        assert sb.store.count("contacts") == 1, "the write was applied although the client never saw it"
