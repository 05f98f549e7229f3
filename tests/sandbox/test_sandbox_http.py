"""Every endpoint over real HTTP on 127.0.0.1: tokens, enrich, scans, lookups, external sources, merge,
schemas, and response field names exactly as the official SDK models spell them."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from sandbox_ops import EC, Api, contact_op, email_id, ext_id, non_camel_keys, org_op, phone_id

from pipeline.sandbox import (
    DEMO_CONTACT_SCHEMA_ID,
    DEMO_DIVISION_ID,
    DEMO_EXTERNAL_SOURCE_ID,
    DEMO_EXTERNAL_SOURCE_NAME,
    DEMO_ORGANIZATION_SCHEMA_ID,
    SECOND_DIVISION_ID,
    Sandbox,
    SandboxConfig,
    run_sandbox,
)

# Field names of the SDK models (PureCloudPlatformClientV2 attribute maps).
# fmt: off
CONTACT_KEYS = {
    "id", "division", "firstName", "middleName", "lastName", "salutation", "title", "workPhone", "cellPhone",
    "homePhone", "otherPhone", "workEmail", "personalEmail", "otherEmail", "address", "twitterId", "lineId",
    "whatsAppId", "facebookId", "instagramId", "appleOpaqueIds", "externalIds", "identifiers", "modifyDate",
    "createDate", "externalOrganization", "surveyOptOut", "externalSystemUrl", "schema", "customFields",
    "externalDataSources", "type", "canonicalContact", "mergeSet", "mergedFrom", "mergedTo", "mergeOperation",
    "selfUri",
}
ORGANIZATION_KEYS = {
    "id", "name", "division", "companyType", "industry", "address", "phoneNumber", "faxNumber",
    "employeeCount", "revenue", "tags", "websites", "tickers", "twitterId", "externalSystemUrl", "modifyDate",
    "createDate", "trustor", "schema", "customFields", "identifiers", "externalIds", "externalDataSources",
    "selfUri",
}
# fmt: on
PHONE_KEYS = {
    "display",
    "extension",
    "acceptsSMS",
    "normalizationCountryCode",
    "userInput",
    "e164",
    "countryCode",
}
ERROR_BODY_KEYS = {"message", "code", "status", "contextId", "details", "errors"}
BULK_KEYS = {"results", "errorCount", "errorIndexes"}
RESULT_KEYS = {"id", "success", "entity", "error", "status"}
ENTITY_ERROR_KEYS = {"code", "message", "status", "retryable", "details", "entity"}
DETAIL_KEYS = {"fieldName", "value", "message"}
LISTING_KEYS = {"entities", "nextUri", "selfUri", "previousUri", "cursors"}
SOURCE_KEYS = {"id", "name", "active", "linkConfiguration", "selfUri"}
SCHEMA_KEYS = {
    "id",
    "name",
    "version",
    "appliesTo",
    "enabled",
    "createdBy",
    "dateCreated",
    "jsonSchema",
    "selfUri",
}
IDENTIFIER_KEYS = {"division", "type", "value", "dateCreated", "externalSource"}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == status, body
    assert set(body) == ERROR_BODY_KEYS
    assert (body["status"], body["code"]) == (status, code)
    return body


def assert_contact_shape(contact: dict[str, Any]) -> None:
    assert set(contact) <= CONTACT_KEYS
    for phone in ("workPhone", "cellPhone", "homePhone", "otherPhone"):
        assert set(contact.get(phone, {})) <= PHONE_KEYS
    for identifier in contact.get("identifiers", []):
        assert set(identifier) <= IDENTIFIER_KEYS
    assert not non_camel_keys(contact)


# --- OAuth -----------------------------------------------------------------------------------------


def test_token_is_issued_for_the_right_client_credentials(sb: Sandbox) -> None:
    """Basic auth + grant_type=client_credentials gives a bearer token with its lifetime."""
    response = httpx.post(
        f"{sb.base_url}/oauth/token",
        auth=(sb.client_id, sb.client_secret),
        data={"grant_type": "client_credentials"},
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert (body["token_type"], body["expires_in"]) == ("bearer", 86400)


@pytest.mark.parametrize(
    ("auth", "data", "status"),
    [
        (("demo-client", "wrong"), {"grant_type": "client_credentials"}, 401),
        (None, {"grant_type": "client_credentials"}, 401),
        (("demo-client", "demo-secret"), {"grant_type": "password"}, 400),
    ],
)
def test_token_is_refused_otherwise(sb: Sandbox, auth: Any, data: dict[str, str], status: int) -> None:
    """Wrong or missing credentials are 401; another grant type is 400 unsupported_grant_type."""
    response = httpx.post(f"{sb.base_url}/oauth/token", auth=auth, data=data)
    assert response.status_code == status
    assert response.json()["error"] in ("invalid_client", "unsupported_grant_type")


@pytest.mark.parametrize("header", [None, "Bearer not-a-token", "Basic ZGVtbzpkZW1v"])
def test_api_calls_need_a_valid_bearer_token(sb: Sandbox, header: str | None) -> None:
    """Without a valid bearer token every API call is 401 with the standard error body."""
    headers = {"Authorization": header} if header else {}
    response = httpx.get(f"{sb.base_url}{EC}/scan/contacts", headers=headers)
    assert_error(response, 401, "bad.credentials")


def test_tokens_expire_and_can_be_revoked() -> None:
    """A token stops working after token_lifetime seconds, and at once when revoked."""
    with run_sandbox(SandboxConfig(token_lifetime=1, rate_limit=0)) as sb:
        api = Api(sb)
        assert api.get("scan/contacts").status_code == 200
        time.sleep(1.1)
        assert_error(api.get("scan/contacts"), 401, "bad.credentials")
        api.token = api.fetch_token()
        assert api.get("scan/contacts").status_code == 200
        sb.revoke_tokens()
        assert_error(api.get("scan/contacts"), 401, "bad.credentials")
        api.close()


# --- enrich ----------------------------------------------------------------------------------------


def test_bulk_results_are_shuffled_and_paired_by_id(api: Api) -> None:
    """Ten operations come back in another order; each result carries its operation's id and entity."""
    ops = [contact_op(f"C{i}", firstName=f"N{i}") for i in range(10)]
    body = api.bulk("contacts", ops).json()
    assert set(body) == BULK_KEYS
    assert [r["id"] for r in body["results"]] != [op["id"] for op in ops]
    by_id = {r["id"]: r for r in body["results"]}
    for op in ops:
        result = by_id[op["id"]]
        assert set(result) <= RESULT_KEYS
        assert (result["success"], result["status"]) == (True, 201)
        assert result["entity"]["firstName"] == op["contact"]["firstName"]
        assert_contact_shape(result["entity"])
    assert (body["errorCount"], body["errorIndexes"]) == (0, [])
    assert api.sb.store.count("contacts") == 10


def test_bulk_errors_are_per_entity_and_indexed_into_results(api: Api) -> None:
    """A bad operation fails alone with code, status, retryable, details and the operation itself."""
    ops = [contact_op("C1"), contact_op("C2", workEmail="nope"), contact_op("C3")]
    body = api.bulk("contacts", ops).json()
    assert body["errorCount"] == 1
    failed = body["results"][body["errorIndexes"][0]]
    assert (failed["id"], failed["success"], failed["status"]) == ("row-C2", False, 400)
    assert set(failed["error"]) == ENTITY_ERROR_KEYS
    assert failed["error"]["retryable"] is False
    assert set(failed["error"]["details"][0]) == DETAIL_KEYS
    assert failed["error"]["entity"] == ops[1]
    assert api.sb.store.count("contacts") == 2


@pytest.mark.parametrize("count", [0, 11])
def test_bulk_takes_one_to_ten_entities(api: Api, count: int) -> None:
    """An empty bulk request or one with more than ten operations is a 400 bad.request."""
    assert_error(api.bulk("contacts", [contact_op(f"C{i}") for i in range(count)]), 400, "bad.request")
    assert api.sb.store.count("contacts") == 0


def test_single_enrich_answers_201_then_200(api: Api) -> None:
    """The single endpoints answer 201 when they create and 200 when they update."""
    org = api.post("organizations/enrich", org_op("O1"))
    assert org.status_code == 201
    assert set(org.json()) <= ORGANIZATION_KEYS
    op = contact_op("C1", externalOrganization={"id": org.json()["id"]})
    assert api.post("contacts/enrich", op).status_code == 201
    again = api.post("contacts/enrich", op)
    assert again.status_code == 200
    assert again.json()["externalOrganization"]["id"] == org.json()["id"]


def test_single_enrich_errors_use_the_standard_body(api: Api) -> None:
    """A failing single enrich answers the error's status with the standard error body."""
    assert_error(api.post("contacts/enrich", contact_op("C1", "Update")), 404, "not.found")
    body = assert_error(api.post("contacts/enrich", contact_op("C1", workEmail="x")), 400, "invalid.value")
    assert body["details"] == [{"errorCode": "invalid.value", "fieldName": "contact.workEmail"}]
    assert_error(api.post("contacts/enrich", "not json"), 400, "bad.request")
    raw = api.request("POST", "contacts/enrich", content=b"{", headers={"Content-Type": "application/json"})
    assert_error(raw, 400, "bad.request")


def test_dry_run_reports_and_changes_nothing(api: Api) -> None:
    """?dryRun=true answers as if it had written, for single and bulk enrich, and stores nothing."""
    single = api.post("contacts/enrich", contact_op("C1"), params={"dryRun": "true"})
    assert single.status_code == 201
    bulk = api.bulk("organizations", [org_op("O1")], params={"dryRun": "true"}).json()
    assert bulk["results"][0]["status"] == 201
    assert (api.sb.store.count("contacts"), api.sb.store.count("organizations")) == (0, 0)


# --- reading back ----------------------------------------------------------------------------------


def test_scan_pages_with_cursors(api: Api) -> None:
    """Scans page with limit and cursor until there is no 'after'; every record is seen once."""
    for start in range(0, 25, 10):
        api.bulk("contacts", [contact_op(f"C{i}") for i in range(start, min(start + 10, 25))])
    seen, pages, params = [], 0, {"limit": 10}
    while True:
        body = api.get("scan/contacts", params=params).json()
        assert set(body) <= LISTING_KEYS
        seen += [c["externalIds"][0]["value"] for c in body["entities"]]
        pages += 1
        if "cursors" not in body:
            assert "nextUri" not in body
            break
        assert body["nextUri"].startswith(f"{EC}/scan/contacts?")
        params = {"limit": 10, "cursor": body["cursors"]["after"]}
    assert pages == 3
    assert sorted(seen) == sorted(f"C{i}" for i in range(25))


def test_scan_filters_by_division(api: Api) -> None:
    """divisionId limits a scan to one division."""
    other = contact_op("C2")
    other["division"] = {"id": SECOND_DIVISION_ID}
    api.bulk("contacts", [contact_op("C1"), other])
    body = api.get("scan/contacts", params={"divisionId": SECOND_DIVISION_ID}).json()
    assert [c["division"]["id"] for c in body["entities"]] == [SECOND_DIVISION_ID]


@pytest.mark.parametrize("params", [{"limit": 9}, {"limit": 201}, {"limit": "ten"}, {"cursor": "garbage"}])
def test_scan_refuses_bad_limits_and_cursors(api: Api, params: dict[str, Any]) -> None:
    """limit outside 10..200 or a cursor that is not one is a 400."""
    assert_error(api.get("scan/organizations", params=params), 400, "bad.request")


def test_get_by_id(api: Api) -> None:
    """GET by id returns the record; an unknown id is a 404 with the standard body."""
    contact = api.post("contacts/enrich", contact_op("C1")).json()
    org = api.post("organizations/enrich", org_op("O1")).json()
    assert api.get(f"contacts/{contact['id']}").json() == contact
    assert api.get(f"organizations/{org['id']}").json() == org
    assert_error(api.get("contacts/nope"), 404, "not.found")
    assert_error(api.get("organizations/nope"), 404, "not.found")


def test_delete_by_id_releases_the_claims(api: Api) -> None:
    """Deleting a contact frees its identifiers for another record."""
    contact = api.post("contacts/enrich", contact_op("C1")).json()
    assert api.request("DELETE", f"contacts/{contact['id']}").status_code == 200
    assert_error(api.get(f"contacts/{contact['id']}"), 404, "not.found")
    assert api.post("contacts/enrich", contact_op("C1", "Insert")).status_code == 201


def test_identifier_lookup(api: Api) -> None:
    """Lookups find the record claiming an ExternalId, Email or Phone, and answer 404 otherwise."""
    op = contact_op("C1", workEmail="c1@example.com", cellPhone={"display": "+1 415 555 0101"})
    contact = api.post("contacts/enrich", op).json()
    org = api.post("organizations/enrich", org_op("O1")).json()
    for ident in (ext_id("C1"), email_id("C1@EXAMPLE.com"), phone_id("+14155550101")):
        assert api.post("identifierlookup/contacts", ident).json()["id"] == contact["id"]
    scoped = {**email_id("c1@example.com"), "division": {"id": DEMO_DIVISION_ID}}
    assert api.post("identifierlookup/contacts", scoped).status_code == 200
    assert api.post("identifierlookup/organizations", ext_id("O1")).json()["id"] == org["id"]
    assert_error(api.post("identifierlookup/contacts", ext_id("C9")), 404, "not.found")
    assert_error(api.post("identifierlookup/organizations", ext_id("C1")), 404, "not.found")
    assert_error(api.post("identifierlookup/organizations", email_id("c1@example.com")), 400, "bad.request")


# --- external sources, merge, schemas -------------------------------------------------------------


def test_external_sources_crud(api: Api) -> None:
    """Sources are created with unique names, listed by name prefix, read, replaced and deleted."""
    listed = api.get("externalsources").json()
    assert [s["name"] for s in listed["entities"]] == [DEMO_EXTERNAL_SOURCE_NAME]
    created = api.post(
        "externalsources", {"name": "CRM", "active": True, "linkConfiguration": {"uriTemplate": "x"}}
    )
    assert created.status_code == 200
    source = created.json()
    assert set(source) == SOURCE_KEYS
    assert_error(api.post("externalsources", {"name": "crm"}), 409, "conflict")
    assert_error(api.post("externalsources", {"name": ""}), 400, "invalid.value")
    assert [s["id"] for s in api.get("externalsources", params={"name": "cr"}).json()["entities"]] == [
        source["id"]
    ]
    assert api.get(f"externalsources/{source['id']}").json() == source
    renamed = api.request("PUT", f"externalsources/{source['id']}", json={"name": "CRM 2", "active": False})
    assert renamed.json()["name"] == "CRM 2"
    assert api.get("externalsources", params={"active": "false"}).json()["entities"][0]["name"] == "CRM 2"
    assert api.request("DELETE", f"externalsources/{source['id']}").status_code == 204
    assert_error(api.get(f"externalsources/{source['id']}"), 404, "not.found")
    assert_error(api.get("externalsources", params={"limit": 5}), 400, "bad.request")


def test_records_cannot_use_a_deleted_source(api: Api) -> None:
    """After a source is deleted, operations naming it fail as an unknown external source."""
    source = api.post("externalsources", {"name": "Temp"}).json()
    api.request("DELETE", f"externalsources/{source['id']}")
    op = contact_op("C1", identifiers=[ext_id("C1", source["id"])])
    assert_error(api.post("contacts/enrich", op), 400, "invalid.value")


def test_merge_endpoint(api: Api) -> None:
    """POST /contacts/merge merges 2..25 contacts into a new one; fewer or unknown ids are refused."""
    a = api.post("contacts/enrich", contact_op("A", firstName="Ann")).json()
    b = api.post("contacts/enrich", contact_op("B", lastName="Berg")).json()
    merged = api.post("contacts/merge", {"contactIds": [a["id"], b["id"]], "valueOverride": {"title": "CEO"}})
    assert merged.status_code == 200
    body = merged.json()
    assert_contact_shape(body)
    assert (body["firstName"], body["lastName"], body["title"]) == ("Ann", "Berg", "CEO")
    assert api.sb.store.count("contacts") == 1
    assert_error(api.post("contacts/merge", {"contactIds": [body["id"]]}), 400, "bad.request")
    assert_error(api.post("contacts/merge", {"contactIds": [body["id"], "nope"]}), 404, "not.found")


def test_schemas_are_listed_per_kind(api: Api) -> None:
    """Both kinds list their demo schema, with its custom fields, and can be read by id."""
    contact = api.get("contacts/schemas").json()
    assert set(contact) == {"total", "entities", "selfUri"}
    assert [s["id"] for s in contact["entities"]] == [DEMO_CONTACT_SCHEMA_ID]
    schema = contact["entities"][0]
    assert set(schema) <= SCHEMA_KEYS
    assert {"loyalty_tier_text", "customer_since_date", "vip_boolean"} <= set(
        schema["jsonSchema"]["properties"]
    )
    org = api.get("organizations/schemas").json()
    assert [s["id"] for s in org["entities"]] == [DEMO_ORGANIZATION_SCHEMA_ID]
    assert api.get(f"organizations/schemas/{DEMO_ORGANIZATION_SCHEMA_ID}").status_code == 200
    assert_error(api.get(f"organizations/schemas/{DEMO_CONTACT_SCHEMA_ID}"), 404, "not.found")


def test_schema_files_add_schemas(tmp_path: Any) -> None:
    """schema_files loads more DataSchemas, whose fields then validate custom fields."""
    path = tmp_path / "schemas.json"
    prop = {"allOf": [{"$ref": "#/definitions/integer"}]}
    schema = {"id": "s-1", "name": "Extra", "appliesTo": ["CONTACT"], "jsonSchema": {"properties": {}}}
    schema["jsonSchema"]["properties"]["shoe_size_integer"] = prop
    path.write_text(json.dumps({"entities": [schema]}))
    with run_sandbox(SandboxConfig(schema_files=(path,), rate_limit=0)) as sb:
        api = Api(sb)
        assert len(api.get("contacts/schemas").json()["entities"]) == 2
        good = contact_op("C1", schema={"id": "s-1"}, customFields={"shoe_size_integer": 44})
        assert api.post("contacts/enrich", good).status_code == 201
        bad = contact_op("C2", schema={"id": "s-1"}, customFields={"shoe_size_integer": "big"})
        assert_error(api.post("contacts/enrich", bad), 400, "invalid.value")
        api.close()


def test_divisions_and_unknown_routes(api: Api) -> None:
    """The demo divisions are listed; an unknown API route is a 404 with the standard body."""
    body = api.get("/api/v2/authorization/divisions").json()
    assert {d["id"] for d in body["entities"]} == {DEMO_DIVISION_ID, SECOND_DIVISION_ID}
    assert api.get("/api/v2/authorization/divisions/home").json()["id"] == DEMO_DIVISION_ID
    assert_error(api.get("nothing/here"), 404, "not.found")


def test_every_response_is_camel_case(api: Api) -> None:
    """No response body of any endpoint has a key that is not camelCase."""
    org = api.post("organizations/enrich", org_op("O1", phoneNumber={"display": "+1 212 555 0100"})).json()
    contact = contact_op(
        "C1", workPhone={"display": "+1 415 555 0100"}, externalOrganization={"id": org["id"]}
    )
    bodies = [
        org,
        api.bulk("contacts", [contact, contact_op("C2", workEmail="bad")]).json(),
        api.get("scan/contacts", params={"limit": 10}).json(),
        api.get("scan/organizations").json(),
        api.post("identifierlookup/contacts", ext_id("C1")).json(),
        api.get("externalsources").json(),
        api.get("contacts/schemas").json(),
        api.get("contacts/nope").json(),
    ]
    for body in bodies:
        assert not non_camel_keys(body), body
    assert DEMO_EXTERNAL_SOURCE_ID in str(bodies[1])
