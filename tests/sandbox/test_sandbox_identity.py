"""Identifier claims over HTTP (shared emails, claim, release), ``expand`` on reads, division-view scans."""

from __future__ import annotations

from typing import Any

from sandbox_ops import Api, contact_op, email_id, ext_id, org_op

from pipeline.sandbox import SECOND_DIVISION_ID, Sandbox


def _claims(sb: Sandbox, record_id: str, collection: str = "contacts") -> set[tuple[str, str]]:
    record = sb.store.get(collection, record_id)
    assert record is not None
    return {(i["type"], i["value"]) for i in record["identifiers"]}


def _lookup_email(api: Api, email: str) -> Any:
    return api.post("identifierlookup/contacts", email_id(email))


def test_two_contacts_share_an_email_and_the_bulk_call_succeeds(api: Api, sb: Sandbox) -> None:
    """A family email on two contacts: both are written, the first holds the claim, lookups find it."""
    ops = [
        contact_op("F1", workEmail="family@example.com"),
        contact_op("F2", personalEmail="family@example.com"),
    ]
    body = api.bulk("contacts", ops).json()
    assert body["errorCount"] == 0
    by_key = {c["externalIds"][0]["value"]: c for c in sb.store.all("contacts")}
    assert by_key["F2"]["personalEmail"] == "family@example.com"
    assert ("Email", "family@example.com") in _claims(sb, by_key["F1"]["id"])
    assert ("Email", "family@example.com") not in _claims(sb, by_key["F2"]["id"])
    assert _lookup_email(api, "family@example.com").json()["id"] == by_key["F1"]["id"]


def test_claiming_an_identifier_another_contact_holds_moves_it(api: Api, sb: Sandbox) -> None:
    """PATCH .../identifiers Claim takes the email from its holder; Release gives it up; both answer
    the ContactIdentifier, and releasing one not held is 404."""
    first = api.post("contacts/enrich", contact_op("M1", workEmail="shared@example.com")).json()
    second = api.post("contacts/enrich", contact_op("M2", workEmail="shared@example.com")).json()
    claim = {"operation": "Claim", "identifier": email_id("Shared@Example.com")}
    answer = api.request("PATCH", f"contacts/{second['id']}/identifiers", json=claim)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["type"], answer.json()["value"]) == ("Email", "shared@example.com")
    assert ("Email", "shared@example.com") in _claims(sb, second["id"])
    assert ("Email", "shared@example.com") not in _claims(sb, first["id"])
    assert _lookup_email(api, "shared@example.com").json()["id"] == second["id"]
    listing = api.get(f"contacts/{second['id']}/identifiers").json()["entities"]
    assert {(i["type"], i["value"]) for i in listing} == _claims(sb, second["id"])
    release = {"operation": "Release", "identifier": email_id("shared@example.com")}
    assert api.request("PATCH", f"contacts/{second['id']}/identifiers", json=release).status_code == 200
    assert _lookup_email(api, "shared@example.com").status_code == 404
    again = api.request("PATCH", f"contacts/{second['id']}/identifiers", json=release)
    assert again.status_code == 404


def test_identifier_patch_refuses_unknown_operations_and_types(api: Api) -> None:
    """An operation other than Claim/Release, or a non-ExternalId claim on an organization, is 400."""
    org = api.post("organizations/enrich", org_op("O1")).json()
    bad_op = {"operation": "Steal", "identifier": ext_id("O1")}
    assert api.request("PATCH", f"organizations/{org['id']}/identifiers", json=bad_op).status_code == 400
    bad_type = {"operation": "Claim", "identifier": email_id("o@example.com")}
    assert api.request("PATCH", f"organizations/{org['id']}/identifiers", json=bad_type).status_code == 400


def test_a_second_record_with_the_same_external_id_is_still_refused(api: Api) -> None:
    """ExternalIds are claimed by the record carrying them: another record carrying it is a 409."""
    api.post("contacts/enrich", contact_op("X1"))
    other = contact_op("X2")
    other["contact"]["externalIds"].append({"externalSource": ext_id("X1")["externalSource"], "value": "X1"})
    answer = api.post("contacts/enrich", other)
    assert (answer.status_code, answer.json()["code"]) == (409, "identifier.conflict")


def test_reads_expand_only_what_is_asked(api: Api) -> None:
    """Without expand a read has no identifiers and id-only division and organization references;
    ``expand`` brings the identifiers, the division's name and the whole organization."""
    org = api.post("organizations/enrich", org_op("E-ORG", name="Expand Inc")).json()
    contact = api.post(
        "contacts/enrich",
        contact_op("E1", workEmail="e1@example.com", externalOrganization={"id": org["id"]}),
    ).json()
    plain = api.get(f"contacts/{contact['id']}").json()
    assert "identifiers" not in plain
    assert set(plain["division"]) == {"id", "selfUri"}
    assert set(plain["externalOrganization"]) == {"id", "selfUri"}
    full = api.get(
        f"contacts/{contact['id']}", params={"expand": "identifiers,division,externalOrganization"}
    )
    body = full.json()
    assert {(i["type"], i["value"]) for i in body["identifiers"]} == {
        ("ExternalId", "E1"),
        ("Email", "e1@example.com"),
    }
    assert body["division"]["name"] == "Home"
    assert body["externalOrganization"]["name"] == "Expand Inc"
    assert api.get(f"contacts/{contact['id']}", params={"expand": "everything"}).status_code == 400


def test_identifier_lookups_expand_what_is_asked(api: Api) -> None:
    """``POST /identifierlookup/{kind}`` takes ``expand`` as a read does (the SDK's lookups have it):
    without it the record is unexpanded, with it come identifiers, division name and organization."""
    org = api.post("organizations/enrich", org_op("L-ORG", name="Lookup Inc")).json()
    api.post("contacts/enrich", contact_op("L1", externalOrganization={"id": org["id"]}))
    plain = api.post("identifierlookup/contacts", ext_id("L1")).json()
    assert "identifiers" not in plain
    assert set(plain["division"]) == {"id", "selfUri"}
    full = api.post(
        "identifierlookup/contacts",
        ext_id("L1"),
        params={"expand": "identifiers,division,externalOrganization"},
    ).json()
    assert [(i["type"], i["value"]) for i in full["identifiers"]] == [("ExternalId", "L1")]
    assert full["division"]["name"] == "Home"
    assert full["externalOrganization"]["name"] == "Lookup Inc"
    found = api.post("identifierlookup/organizations", ext_id("L-ORG"), params={"expand": "identifiers"})
    assert [i["value"] for i in found.json()["identifiers"]] == ["L-ORG"]
    wrong = api.post("identifierlookup/contacts", ext_id("L1"), params={"expand": "everything"})
    assert wrong.status_code == 400


def test_bulk_reads_show_records_unexpanded(api: Api) -> None:
    """``POST .../bulk/contacts`` takes no ``expand``: its records carry no identifiers and id-only
    division and organization references, like a plain ``GET``."""
    org = api.post("organizations/enrich", org_op("B-ORG", name="Bulk Inc")).json()
    contact = api.post(
        "contacts/enrich",
        contact_op("B1", workEmail="b1@example.com", externalOrganization={"id": org["id"]}),
    ).json()
    for kind, record_id in (("contacts", contact["id"]), ("organizations", org["id"])):
        body = api.post(f"bulk/{kind}", {"entities": [{"id": record_id}]}).json()
        entity = body["results"][0]["entity"]
        assert entity == api.get(f"{kind}/{record_id}").json()
        assert "identifiers" not in entity
        assert set(entity["division"]) == {"id", "selfUri"}
        if kind == "contacts":
            assert set(entity["externalOrganization"]) == {"id", "selfUri"}


def test_division_view_scans_list_every_division_and_plain_scans_one(api: Api) -> None:
    """``scan/{kind}/divisionviews/all`` lists both divisions; the plain scan only the home division
    (or ``divisionId``)."""
    api.post("contacts/enrich", contact_op("D1"))
    second = contact_op("D2")
    second["division"] = {"id": SECOND_DIVISION_ID}
    api.post("contacts/enrich", second)

    def keys(path: str, **params: Any) -> list[str]:
        entities = api.get(path, params={"limit": 10, **params}).json()["entities"]
        return [e["externalIds"][0]["value"] for e in entities]

    assert keys("scan/contacts/divisionviews/all") == ["D1", "D2"]
    assert keys("scan/contacts") == ["D1"]
    assert keys("scan/contacts", divisionId=SECOND_DIVISION_ID) == ["D2"]
    assert api.get("scan/organizations/divisionviews/all", params={"limit": 5}).status_code == 400


def test_uri_template_is_limited_to_400_characters(api: Api) -> None:
    """An external source's ``linkConfiguration.uriTemplate`` longer than 400 characters is refused."""
    template = "https://crm.example.com/" + "x" * 377
    body = {"name": "long", "active": True, "linkConfiguration": {"uriTemplate": template}}
    assert api.post("externalsources", body).status_code == 400
    body["linkConfiguration"]["uriTemplate"] = template[:400]
    assert api.post("externalsources", body).status_code == 200
