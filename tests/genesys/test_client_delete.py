"""``GenesysClient.delete`` against the sandbox over real HTTP: deleted, not there, and a DELETE whose
answer was lost (the connection dropped after the sandbox applied it) retried into a 404."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from test_client_sandbox import client_for, run, upsert

from pipeline.errors import TerminalApiError
from pipeline.genesys import GenesysClient
from pipeline.sandbox import Sandbox, SandboxConfig, run_sandbox


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with run_sandbox(SandboxConfig(rate_limit=0, seed=0)) as sb:
        yield sb


def _contact(sb: Sandbox) -> str:
    result = run(client_for(sb), lambda c: c.bulk_enrich("contacts", [upsert("C-1")]))
    return str(result.results[0].entity["id"])  # type: ignore[index]


class _DropFirstDelete(httpx.AsyncBaseTransport):
    """Real HTTP, with the sandbox told to drop the connection after applying the first DELETE only."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.inner = httpx.AsyncHTTPTransport()
        self.deletes = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "DELETE":
            return await self.inner.handle_async_request(request)
        self.deletes += 1
        self.sb.configure(fault_rate=1.0 if self.deletes == 1 else 0.0, fault_kinds=("drop_after_write",))
        response = await self.inner.handle_async_request(request)
        await response.aread()
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_delete_removes_the_record_and_says_so(sandbox: Sandbox) -> None:
    """Deleting a stored contact answers True and the sandbox no longer holds it."""
    contact_id = _contact(sandbox)
    assert run(client_for(sandbox), lambda c: c.delete("contacts", contact_id)) is True
    assert sandbox.store.get("contacts", contact_id) is None


def test_deleting_a_missing_record_answers_false(sandbox: Sandbox) -> None:
    """A 404 to the first attempt means there was nothing to delete."""
    assert run(client_for(sandbox), lambda c: c.delete("organizations", "no-such-id")) is False


def test_a_lost_answer_then_404_counts_as_deleted(sandbox: Sandbox) -> None:
    """The first DELETE is applied but its answer is lost; the retry's 404 means that attempt deleted it."""
    contact_id = _contact(sandbox)
    transport = _DropFirstDelete(sandbox)
    settings = client_for(sandbox).settings
    client = GenesysClient(settings, transport=transport)
    assert run(client, lambda c: c.delete("contacts", contact_id)) is True
    assert transport.deletes == 2
    assert sandbox.stats.faults.get("drop_after_write") == 1
    assert sandbox.store.get("contacts", contact_id) is None


def test_an_organization_with_linked_contacts_is_refused(sandbox: Sandbox) -> None:
    """The sandbox's 409 for an organization contacts still link to reaches the caller as a terminal
    error, and the organization stays."""
    org_op: dict[str, Any] = {
        "id": "A-1",
        "action": "Upsert",
        "matchingIdentifiers": [upsert("A-1")["matchingIdentifiers"][0]],
        "externalOrganization": {"name": "Acme", "externalIds": upsert("A-1")["contact"]["externalIds"]},
    }
    org = run(client_for(sandbox), lambda c: c.bulk_enrich("organizations", [org_op])).results[0].entity
    assert org is not None
    contact = upsert("C-1")
    contact["contact"]["externalOrganization"] = {"id": org["id"]}
    run(client_for(sandbox), lambda c: c.bulk_enrich("contacts", [contact]))
    with pytest.raises(TerminalApiError) as refused:
        run(client_for(sandbox), lambda c: c.delete("organizations", org["id"]))
    assert (refused.value.status, refused.value.code) == (409, "conflict")
    assert sandbox.store.get("organizations", org["id"]) is not None
