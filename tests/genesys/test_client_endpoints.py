"""The typed helpers: bulk enrich, scans, identifier lookups, external sources, schemas and records."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
from genesys_fakes import FakeGenesys, dropped, reply

from pipeline.errors import TerminalApiError, TransientApiError
from pipeline.genesys import API, EntityError, GenesysClient, matches_external_id_first

T = TypeVar("T")
ENRICH = f"{API}/bulk/contacts/enrich"


def run(client: GenesysClient, use: Callable[[GenesysClient], Awaitable[T]]) -> T:
    async def main() -> T:
        async with client:
            return await use(client)

    return asyncio.run(main())


def operation(op_id: str, first_identifier: str = "ExternalId") -> dict[str, Any]:
    return {
        "id": op_id,
        "action": "Upsert",
        "matchingIdentifiers": [{"type": first_identifier, "value": f"v-{op_id}"}],
        "contact": {"lastName": "Doe"},
    }


def test_bulk_enrich_results_are_paired_by_id_not_position(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient]
) -> None:
    """Results returned out of order are typed and found by their operation id."""
    body = {
        "results": [
            {
                "id": "row-3",
                "success": False,
                "status": 400,
                "error": {
                    "code": "invalid.value",
                    "message": "bad email",
                    "status": 400,
                    "retryable": False,
                    "details": [{"fieldName": "workEmail", "value": "x", "message": "invalid"}],
                },
            },
            {"id": "row-2", "success": True, "status": 201, "entity": {"id": "g-2"}},
        ],
        "errorCount": 1,
        "errorIndexes": [0],
    }
    fake.on("POST", ENRICH, reply(200, body))
    result = run(make_client(), lambda c: c.bulk_enrich("contacts", [operation("row-2"), operation("row-3")]))
    by_id = result.by_id()
    assert by_id["row-2"].success
    assert by_id["row-2"].entity == {"id": "g-2"}
    assert by_id["row-2"].status == 201
    failed = by_id["row-3"]
    assert failed.error == EntityError(
        code="invalid.value",
        message="bad email",
        status=400,
        retryable=False,
        details=({"fieldName": "workEmail", "value": "x", "message": "invalid"},),
    )
    assert result.error_count == 1
    (sent,) = fake.api_sent()
    assert json.loads(sent.request.content) == {"entities": [operation("row-2"), operation("row-3")]}
    assert "dryRun" not in sent.request.url.params


def test_bulk_enrich_refuses_more_than_ten_entities(make_client: Callable[..., GenesysClient]) -> None:
    """The API takes at most ten operations per bulk request; more is a programming error."""
    with pytest.raises(ValueError, match="1 to 10"):
        run(make_client(), lambda c: c.bulk_enrich("contacts", [operation(str(i)) for i in range(11)]))


def test_bulk_enrich_dry_run_sends_the_query_flag(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient]
) -> None:
    """dry_run asks the API with dryRun=true and marks the result as a dry run."""
    result = run(make_client(), lambda c: c.bulk_enrich("organizations", [operation("a")], dry_run=True))
    (sent,) = fake.api_sent()
    assert sent.path == f"{API}/bulk/organizations/enrich"
    assert sent.request.url.params["dryRun"] == "true"
    assert result.dry_run


def test_bulk_enrich_matched_on_external_id_is_replayed_after_a_drop(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient]
) -> None:
    """Operations matching on ExternalId first are idempotent, so a dropped connection is retried."""
    fake.on("POST", ENRICH, dropped(httpx.ReadError), reply(200, {"results": [{"id": "a", "success": True}]}))
    result = run(make_client(), lambda c: c.bulk_enrich("contacts", [operation("a")]))
    assert result.by_id()["a"].success
    assert len(fake.api_sent()) == 2


def test_bulk_enrich_matched_on_email_first_is_not_replayed(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient]
) -> None:
    """An operation matching on Email first could create a twin on replay, so a drop is not retried."""
    fake.on("POST", ENRICH, dropped(httpx.ReadError), reply(200))
    with pytest.raises(TransientApiError, match="not retried"):
        run(make_client(), lambda c: c.bulk_enrich("contacts", [operation("a"), operation("b", "Email")]))
    assert len(fake.api_sent()) == 1


def test_matching_on_external_id_first_is_detected() -> None:
    """Only a first matching identifier of type ExternalId counts as idempotent."""
    assert matches_external_id_first(operation("a"))
    assert not matches_external_id_first(operation("a", "Phone"))
    assert not matches_external_id_first({"id": "a", "action": "Insert"})


def test_scan_passes_cursor_and_division_and_returns_the_next_cursor(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient]
) -> None:
    """A scan page carries its entities and the after cursor; the last page has none."""
    path = f"{API}/scan/organizations"
    fake.on("GET", path, reply(200, {"entities": [{"id": "o1"}], "cursors": {"after": "c2"}}))
    fake.on("GET", path, reply(200, {"entities": [{"id": "o2"}], "cursors": {}}))

    async def both(c: GenesysClient) -> tuple[Any, Any]:
        first = await c.scan("organizations", limit=50, division_id="d1")
        return first, await c.scan("organizations", cursor=first.after)

    first, last = run(make_client(), both)
    assert (first.entities, first.after) == ([{"id": "o1"}], "c2")
    assert (last.entities, last.after) == ([{"id": "o2"}], None)
    params = [dict(s.request.url.params) for s in fake.api_sent()]
    assert params == [{"limit": "50", "divisionId": "d1"}, {"limit": "200", "cursor": "c2"}]


def test_lookup_identifier_returns_none_when_not_found(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient]
) -> None:
    """A 404 from an identifier lookup means no record holds it."""
    path = f"{API}/identifierlookup/contacts"
    fake.on("POST", path, reply(404, {"code": "not.found", "message": "none"}), reply(200, {"id": "c1"}))
    identifier = {"type": "ExternalId", "value": "42", "externalSource": {"id": "s1"}}

    async def both(c: GenesysClient) -> tuple[Any, Any]:
        return await c.lookup_identifier("contacts", identifier), await c.lookup_identifier(
            "contacts", identifier
        )

    assert run(make_client(), both) == (None, {"id": "c1"})
    assert json.loads(fake.api_sent()[0].request.content) == identifier


def test_lookup_identifier_raises_other_client_errors(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient]
) -> None:
    """Only 404 means "absent": a 400 still raises."""
    fake.on(
        "POST", f"{API}/identifierlookup/organizations", reply(400, {"code": "bad.request", "message": "x"})
    )
    with pytest.raises(TerminalApiError):
        run(make_client(), lambda c: c.lookup_identifier("organizations", {"type": "Email", "value": "x"}))


def test_find_external_source_pages_until_an_exact_name_match(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient]
) -> None:
    """The API filters by prefix, so names that merely start the same are skipped across pages."""
    path = f"{API}/externalsources"
    fake.on(
        "GET", path, reply(200, {"entities": [{"id": "s1", "name": "Shop EU"}], "cursors": {"after": "p2"}})
    )
    fake.on("GET", path, reply(200, {"entities": [{"id": "s2", "name": "Shop"}], "cursors": {"after": "p3"}}))
    assert run(make_client(), lambda c: c.find_external_source("Shop")) == {"id": "s2", "name": "Shop"}
    assert [s.request.url.params.get("cursor") for s in fake.api_sent()] == [None, "p2"]
    assert fake.api_sent()[0].request.url.params["name"] == "Shop"


def test_find_external_source_returns_none_when_absent(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient]
) -> None:
    """No exact match on the last page gives None."""
    fake.on("GET", f"{API}/externalsources", reply(200, {"entities": [{"id": "s1", "name": "Shopify"}]}))
    assert run(make_client(), lambda c: c.find_external_source("Shop")) is None


def test_create_external_source_posts_an_active_source(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient]
) -> None:
    """Creating a source sends its name as active and returns the stored source."""
    fake.on("POST", f"{API}/externalsources", reply(200, {"id": "s9", "name": "CRM"}))
    assert run(make_client(), lambda c: c.create_external_source("CRM")) == {"id": "s9", "name": "CRM"}
    assert json.loads(fake.api_sent()[0].request.content) == {"name": "CRM", "active": True}


def test_list_schemas_returns_the_entities(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient]
) -> None:
    """The schema listing is unwrapped to its list of schemas."""
    fake.on(
        "GET", f"{API}/contacts/schemas", reply(200, {"entities": [{"id": "sc1", "version": 2}], "total": 1})
    )
    assert run(make_client(), lambda c: c.list_schemas("contacts")) == [{"id": "sc1", "version": 2}]


def test_get_fetches_one_record_by_id(fake: FakeGenesys, make_client: Callable[..., GenesysClient]) -> None:
    """get() reads one record, escaping the id into the path."""
    fake.on("GET", f"{API}/organizations/o 1", reply(200, {"id": "o 1"}))
    assert run(make_client(), lambda c: c.get("organizations", "o 1")) == {"id": "o 1"}
    assert fake.api_sent()[0].request.url.raw_path == f"{API}/organizations/o%201".encode()


def test_unknown_kind_is_refused(make_client: Callable[..., GenesysClient]) -> None:
    """Only contacts and organizations exist."""
    with pytest.raises(ValueError, match="kind"):
        run(make_client(), lambda c: c.scan("users"))  # type: ignore[arg-type]


def test_requests_need_the_context_manager(make_client: Callable[..., GenesysClient]) -> None:
    """Using the client outside `async with` is a clear error rather than a hidden client leak."""
    with pytest.raises(RuntimeError, match="async with"):
        asyncio.run(make_client().request("GET", f"{API}/contacts/schemas"))


@pytest.mark.parametrize(
    "first", [dropped(httpx.ReadError), reply(503, {"code": "service.unavailable", "message": "later"})]
)
def test_merge_is_not_replayed_after_a_lost_answer(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient], first: Any
) -> None:
    """A merge whose answer was lost is sent once: a replay would name contacts already merged away."""
    path = f"{API}/contacts/merge"
    fake.on("POST", path, first, reply(200, {"id": "merged"}))
    with pytest.raises(TransientApiError, match="not retried"):
        run(make_client(), lambda c: c.merge_contacts(["a", "b"], {"lastName": "Doe"}))
    (sent,) = fake.api_sent()
    assert json.loads(sent.request.content) == {
        "contactIds": ["a", "b"],
        "valueOverride": {"lastName": "Doe"},
    }


def test_merge_takes_two_to_twenty_five_distinct_ids(make_client: Callable[..., GenesysClient]) -> None:
    """Fewer than two or more than 25 distinct ids is a programming error, caught before sending."""
    with pytest.raises(ValueError, match="2 to 25"):
        run(make_client(), lambda c: c.merge_contacts(["a", "a"]))
    with pytest.raises(ValueError, match="2 to 25"):
        run(make_client(), lambda c: c.merge_contacts([str(i) for i in range(26)]))
