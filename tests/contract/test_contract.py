"""Contract: every body the pipeline sends and every answer the sandbox gives fits the official SDK's
External Contacts models (vendored in ``external_contacts_models.json`` with the SDK version)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from contract import load, problems
from sandbox_support import sandbox_settings

from pipeline.fields import load_specs
from pipeline.importing.job import ImportOptions, import_file
from pipeline.importing.plan import (
    PlanOptions,
    contact_operations,
    link_organization,
    organization_operations,
)
from pipeline.prepare.stage import PrepareOptions, prepare_file
from pipeline.sandbox import (
    DEMO_CONTACT_SCHEMA_ID,
    DEMO_EXTERNAL_SOURCE_ID,
    SECOND_DIVISION_ID,
    Sandbox,
    SandboxConfig,
    run_sandbox,
)

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
EC = "/api/v2/externalcontacts"
SAMPLE_FILES = (
    ("contacts.csv", None),
    ("contacts-with-problems.csv", None),
    ("dynamics-export.csv", "dynamics.mapping.toml"),
)
KIND, ID = "(contacts|organizations)", "[^/]+"
# (method, path) -> (request model, answer model); None: no body / no check.
ROUTES: list[tuple[str, re.Pattern[str], str | None, str | None]] = [
    (m, re.compile(f"^{EC}{p}$"), req, ans)
    for m, p, req, ans in [
        ("POST", "/bulk/contacts/enrich", "BulkContactsEnrichRequest", "BulkContactsEnrichResponse"),
        ("POST", "/bulk/organizations/enrich", "BulkOrganizationsEnrichRequest",
         "BulkOrganizationsEnrichResponse"),
        ("POST", "/contacts/enrich", "ContactEnrichRequest", "ExternalContact"),
        ("POST", "/organizations/enrich", "ExternalOrganizationEnrichRequest", "ExternalOrganization"),
        ("GET", "/scan/contacts(/divisionviews/all)?", None, "CursorContactListing"),
        ("GET", "/scan/organizations(/divisionviews/all)?", None, "CursorOrganizationListing"),
        ("POST", "/identifierlookup/contacts", "ContactIdentifier", "ExternalContact"),
        ("POST", "/identifierlookup/organizations", "ExternalOrganizationIdentifier", "ExternalOrganization"),
        ("GET", "/externalsources", None, "CursorExternalSourceListing"),
        ("POST", "/externalsources", "ExternalSource", "ExternalSource"),
        ("GET", f"/externalsources/{ID}", None, "ExternalSource"),
        ("GET", f"/{KIND}/schemas", None, "DataSchemaListing"),
        ("GET", f"/{KIND}/schemas/{ID}", None, "DataSchema"),
        ("POST", "/contacts/merge", "MergeContactsRequest", "ExternalContact"),
        ("GET", f"/contacts/{ID}/identifiers", None, "ContactIdentifierListing"),
        ("PATCH", f"/contacts/{ID}/identifiers", "IdentifierClaimRequest", "ContactIdentifier"),
        ("PATCH", f"/organizations/{ID}/identifiers", "ExternalOrganizationIdentifierClaimRequest",
         "ExternalOrganizationIdentifier"),
        ("GET", f"/contacts/{ID}", None, "ExternalContact"),
        ("GET", f"/organizations/{ID}", None, "ExternalOrganization"),
    ]
]  # fmt: skip
MODELS = load()["models"]


def models_of(method: str, path: str) -> tuple[str | None, str | None]:
    for m, pattern, request, answer in ROUTES:
        if m == method and pattern.match(path):
            return request, answer
    raise AssertionError(f"{method} {path}: no SDK model listed for this call in tests/contract")


def check(method: str, path: str, sent: Any, answer: Any, status: int) -> list[str]:
    """Problems of one exchange: its body (when it has one) and its 2xx answer."""
    if not path.startswith(EC):
        return []  # the token and division endpoints are outside External Contacts
    request_model, answer_model = models_of(method, path)
    found = []
    if sent is not None:
        assert request_model is not None, f"{method} {path} sent a body the contract does not expect"
        found += [f"request {method} {path} {p}" for p in problems(MODELS, request_model, sent)]
    if 200 <= status < 300 and answer_model is not None and answer not in (None, {}):
        found += [f"answer {method} {path} {p}" for p in problems(MODELS, answer_model, answer)]
    return found


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with run_sandbox(SandboxConfig(rate_limit=0)) as sandbox:
        yield sandbox


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, Any, Any, int]]:
    """Every exchange the pipeline's HTTP client makes: method, path, JSON sent, JSON answered, status.

    Recorded at httpx's transport, which every request goes through (token requests by an
    ``AsyncClient``, API requests by the client's lanes)."""
    exchanges: list[tuple[str, str, Any, Any, int]] = []
    handle = httpx.AsyncHTTPTransport.handle_async_request

    async def recording(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        response = await handle(self, request)
        await response.aread()
        sent = json.loads(request.content) if request.content and request.url.path.startswith(EC) else None
        answer = (
            response.json()
            if response.content and "json" in response.headers.get("content-type", "")
            else None
        )
        exchanges.append((request.method, request.url.path, sent, answer, response.status_code))
        return response

    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", recording)
    return exchanges


def test_the_import_sends_and_reads_only_what_the_sdk_models_allow(
    sb: Sandbox, recorded: list[tuple[str, str, Any, Any, int]], tmp_path: Path
) -> None:
    """Importing every sample (creating the source, matching by email and phone, in the second
    division) sends bodies and gets answers that fit the SDK models, field by field."""
    options = ImportOptions(
        external_source="contract-source", create_source=True, contact_schema="Demo contact fields",
        match=("email", "phone"), division_id=SECOND_DIVISION_ID,
    )  # fmt: skip
    for name, mapping in SAMPLE_FILES:
        prepare = PrepareOptions(mapping=SAMPLES / mapping if mapping else None)
        import_file(
            SAMPLES / name,
            sandbox_settings(sb),
            options,
            prepare=prepare,
            report_path=tmp_path / f"{name}.r.csv",
        )
    paths = {path for _, path, *_ in recorded}
    assert f"{EC}/bulk/contacts/enrich" in paths
    assert f"{EC}/externalsources" in paths
    assert len(recorded) > 40, len(recorded)
    assert [p for exchange in recorded for p in check(*exchange)] == []


def test_plan_operations_for_the_samples_fit_the_enrich_request_models() -> None:
    """The operations planned for every sample (with a schema, a division and email/phone matching)
    fit ContactEnrichRequest and ExternalOrganizationEnrichRequest."""
    plan = PlanOptions(
        external_source_id=DEMO_EXTERNAL_SOURCE_ID, division_id=SECOND_DIVISION_ID,
        contact_schema={"id": DEMO_CONTACT_SCHEMA_ID, "version": 1}, match=("email", "phone"),
        match_policy="any",
    )  # fmt: skip
    found, count = [], 0
    for name, mapping in SAMPLE_FILES:
        prepare = PrepareOptions(mapping=SAMPLES / mapping if mapping else None)
        grouped = prepare_file(SAMPLES / name, prepare).grouped
        for op in organization_operations(grouped.organizations, load_specs(), plan):
            found += problems(MODELS, "ExternalOrganizationEnrichRequest", op.body, f"{name}:{op.key}")
            count += 1
        for op in contact_operations(grouped.contacts, load_specs(), plan):
            linked = link_organization(op, "00000000-0000-4000-8000-000000000000")
            found += problems(MODELS, "ContactEnrichRequest", linked.body, f"{name}:{op.key}")
            count += 1
    assert count > 250
    assert found == []


def test_sandbox_answers_fit_the_sdk_models(sb: Sandbox) -> None:
    """Reads with every expand, division-view scans, identifier claim and release, merge, failed bulk
    operations, sources and schemas: each answer fits its SDK model."""
    token = httpx.post(
        f"{sb.base_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(sb.client_id, sb.client_secret),
    ).json()["access_token"]
    found: list[str] = []
    with httpx.Client(base_url=sb.base_url, headers={"Authorization": f"Bearer {token}"}) as http:

        def call(method: str, path: str, body: Any = None, **params: Any) -> Any:
            response = http.request(method, f"{EC}{path}", json=body, params=params or None)
            assert response.status_code < 300, response.text
            found.extend(check(method, f"{EC}{path}", body, response.json(), response.status_code))
            return response.json()

        source = {"externalSource": {"id": DEMO_EXTERNAL_SOURCE_ID}}
        org = call("POST", "/organizations/enrich", _org_op("K-ORG"))
        people = [
            call("POST", "/contacts/enrich", _contact_op(k, org["id"], workEmail="same@example.com"))
            for k in ("K1", "K2")
        ]
        bad = _contact_op("K3", org["id"], workEmail="not an email")
        bulk = call("POST", "/bulk/contacts/enrich", {"entities": [bad, _contact_op("K4", org["id"])]})
        assert bulk["errorCount"] == 1
        for person in people:
            call("GET", f"/contacts/{person['id']}", expand="identifiers,division,externalOrganization")
        call("GET", f"/organizations/{org['id']}", expand="identifiers")
        claim = {"operation": "Claim", "identifier": {"type": "Email", "value": "same@example.com"}}
        call("PATCH", f"/contacts/{people[1]['id']}/identifiers", claim)
        call("GET", f"/contacts/{people[1]['id']}/identifiers")
        release = {"operation": "Release", "identifier": {"type": "ExternalId", "value": "K-ORG", **source}}
        call("PATCH", f"/organizations/{org['id']}/identifiers", release)
        for kind in ("contacts", "organizations"):
            call("GET", f"/scan/{kind}", limit=10)
            call("GET", f"/scan/{kind}/divisionviews/all", limit=10)
            schemas = call("GET", f"/{kind}/schemas")
            call("GET", f"/{kind}/schemas/{schemas['entities'][0]['id']}")
        call("POST", "/identifierlookup/contacts", {"type": "Email", "value": "same@example.com"})
        call("GET", "/externalsources", limit=10)
        created = call("POST", "/externalsources", {"name": "second", "active": True})
        call("GET", f"/externalsources/{created['id']}")
        call(
            "POST",
            "/contacts/merge",
            {"contactIds": [p["id"] for p in people], "valueOverride": {"title": "CEO"}},
        )
    assert found == []


def _contact_op(key: str, org_id: str, **fields: Any) -> dict[str, Any]:
    ext = {"externalSource": {"id": DEMO_EXTERNAL_SOURCE_ID}, "value": key}
    return {
        "id": f"row-{key}",
        "action": "Upsert",
        "matchingIdentifiers": [{"type": "ExternalId", **ext}],
        "contact": {"externalIds": [ext], "externalOrganization": {"id": org_id}, "firstName": key, **fields},
    }


def _org_op(key: str) -> dict[str, Any]:
    ext = {"externalSource": {"id": DEMO_EXTERNAL_SOURCE_ID}, "value": key}
    return {
        "id": f"org-{key}",
        "action": "Upsert",
        "matchingIdentifiers": [{"type": "ExternalId", **ext}],
        "externalOrganization": {
            "name": f"Org {key}",
            "externalIds": [ext],
            "phoneNumber": {"display": "+1 415 555 0100"},
        },
    }


def test_the_checker_refuses_unknown_fields_wrong_types_and_bad_enums() -> None:
    """The contract can fail: an unknown field, a text where an integer belongs and an action outside
    the enum are each reported."""
    body = {"action": "Replace", "contact": {"nickname": "x", "surveyOptOut": "yes"}}
    found = problems(MODELS, "ContactEnrichRequest", body)
    assert any("'Replace' is not one of" in p for p in found)
    assert any("has no field 'nickname'" in p for p in found)
    assert any("surveyOptOut: must be true or false" in p for p in found)
    assert problems(MODELS, "DataSchema", {"version": "1"}) == ["$.version: must be an integer, got '1'"]
