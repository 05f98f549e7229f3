"""What ``sdk_drive.py`` does with the SDK: one pass over every External Contacts endpoint the pipeline and
the sandbox use, each answer checked against what was written and against what the sandbox stored.

``d`` is the ``sdk_drive.Driver`` (``d.ec`` the SDK's ``ExternalContactsApi``, ``d.call`` one call that
must succeed, ``d.model`` a request body as an SDK model, ``d.expect`` one check); ``sb`` is the running
sandbox, whose store says what was really stored.
"""

from __future__ import annotations

from typing import Any

from sdk_scenario_bodies import contact_op, org_op
from sdk_scenario_reads import claims, lookups, merge_and_delete, reads, scans

from pipeline.sandbox import (
    DEMO_CONTACT_SCHEMA_ID,
    DEMO_DIVISION_ID,
    DEMO_EXTERNAL_SOURCE_ID,
    DEMO_ORGANIZATION_SCHEMA_ID,
    SECOND_DIVISION_ID,
    Sandbox,
)

HOME_CONTACTS = 12  # more than one scan page of 10


def run(d: Any, sb: Sandbox) -> None:
    setup(d)
    orgs = organizations(d, sb)
    contacts = contact_writes(d, sb, orgs["SDK-O1"])
    scans(d, contacts, orgs)
    lookups(d, contacts, orgs)
    claims(d, contacts, orgs)
    reads(d, contacts, orgs)
    merge_and_delete(d, sb, contacts, orgs)


def setup(d: Any) -> None:
    """Divisions, external sources and custom-field schemas."""
    divisions = d.call(
        "GET /api/v2/authorization/divisions", d.authz.get_authorization_divisions, page_size=100
    )
    d.expect(
        {DEMO_DIVISION_ID, SECOND_DIVISION_ID} <= {x.id for x in divisions.entities}, "divisions missing"
    )
    home = d.call("GET /api/v2/authorization/divisions/home", d.authz.get_authorization_divisions_home)
    d.expect(home.id == DEMO_DIVISION_ID and home.home_division is True, "home division")
    found = d.call(
        "GET /externalsources?name", d.ec.get_externalcontacts_externalsources, name="contacts", limit=10
    )
    d.expect([s.id for s in found.entities] == [DEMO_EXTERNAL_SOURCE_ID], "source listing by name prefix")
    body = d.model(
        {
            "name": "sdk-drive",
            "active": True,
            "linkConfiguration": {"uriTemplate": "https://crm.example/{{externalId}}"},
        },
        "ExternalSource",
    )
    made = d.call("POST /externalsources", d.ec.post_externalcontacts_externalsources, body)
    got = d.call("GET /externalsources/{id}", d.ec.get_externalcontacts_externalsource, made.id)
    d.expect(got.name == "sdk-drive" and got.link_configuration is not None, "source read back")
    got.active = False
    put = d.call("PUT /externalsources/{id}", d.ec.put_externalcontacts_externalsource, made.id, got)
    d.expect(put.active is False, "source update not kept")
    inactive = d.call("GET /externalsources?active", d.ec.get_externalcontacts_externalsources, active=False)
    d.expect([s.id for s in inactive.entities] == [made.id], "active filter")
    d.call("DELETE /externalsources/{id}", d.ec.delete_externalcontacts_externalsource, made.id)
    source_pages(d)
    for kind, schema_id in (
        ("contacts", DEMO_CONTACT_SCHEMA_ID),
        ("organizations", DEMO_ORGANIZATION_SCHEMA_ID),
    ):
        listing = d.call(f"GET /{kind}/schemas", getattr(d.ec, f"get_externalcontacts_{kind}_schemas"))
        d.expect(schema_id in {s.id for s in listing.entities}, f"{kind} schema missing")
        one = d.call(
            f"GET /{kind}/schemas/{{id}}", getattr(d.ec, f"get_externalcontacts_{kind}_schema"), schema_id
        )
        d.expect(bool(one.json_schema), f"{kind} schema without jsonSchema")


def source_pages(d: Any) -> None:
    """Eleven sources sharing a prefix: the name filter's listing in pages of 10, by cursor."""
    made = set()
    for n in range(11):
        body = d.model({"name": f"sdk-page-{n:02d}", "active": True}, "ExternalSource")
        made.add(d.call("POST /externalsources", d.ec.post_externalcontacts_externalsources, body).id)
    first = d.call(
        "GET /externalsources?name", d.ec.get_externalcontacts_externalsources, name="SDK-PAGE", limit=10
    )
    d.expect(first.cursors is not None and len(first.entities) == 10, "source listing has no second page")
    cursor = first.cursors.after if first.cursors else None
    rest = d.call(
        "GET /externalsources?cursor",
        d.ec.get_externalcontacts_externalsources,
        name="SDK-PAGE",
        limit=10,
        cursor=cursor,
    )
    d.expect(
        {s.id for s in [*first.entities, *rest.entities]} == made and rest.cursors is None, "source pages"
    )


def organizations(d: Any, sb: Sandbox) -> dict[str, str]:
    """Bulk enrich (dry run, Insert, Upsert) and single enrich (Update with field rules)."""
    ops = [org_op("SDK-O1", "Acme", "Insert"), org_op("SDK-O2", "Globex", "Upsert")]
    bulk = d.model({"entities": ops}, "BulkOrganizationsEnrichRequest")
    dry = d.call(
        "POST /bulk/organizations/enrich?dryRun",
        d.ec.post_externalcontacts_bulk_organizations_enrich,
        bulk,
        dry_run=True,
    )
    d.expect(dry.error_count == 0 and sb.store.count("organizations") == 0, "dry run stored or failed")
    done = d.call(
        "POST /bulk/organizations/enrich", d.ec.post_externalcontacts_bulk_organizations_enrich, bulk
    )
    d.expect(done.error_count == 0 and {r.status for r in done.results} == {201}, "org bulk enrich")
    ids = {r.id: r.entity.id for r in done.results}
    update = org_op("SDK-O1", "Acme Corp", "Update")
    update["externalOrganization"] = {"name": "Acme Corp", "industry": None}
    update["fieldRules"] = {"rules": [{"field": "$.industry", "action": "AlwaysUseProvided"}]}
    one = d.call(
        "POST /organizations/enrich",
        d.ec.post_externalcontacts_organizations_enrich,
        d.model(update, "ExternalOrganizationEnrichRequest"),
    )
    stored = sb.store.get("organizations", ids["SDK-O1"]) or {}
    d.expect(one.name == "Acme Corp" and one.industry is None and one.employee_count == 40, "org update")
    d.expect(stored.get("name") == "Acme Corp" and not stored.get("industry"), "org update not stored")
    return ids


def contact_writes(d: Any, sb: Sandbox, org_id: str) -> dict[str, str]:
    """Bulk enrich in two requests plus one in the second division, a dry run, a single enrich."""
    ids: dict[str, str] = {}
    batches = [
        [contact_op(n, org_id) for n in range(1, 11)],
        [contact_op(n, org_id, "Insert") for n in (11, 12)],
    ]
    batches.append([contact_op(13, org_id, division=SECOND_DIVISION_ID)])
    batches[-1][0]["contact"].pop("externalOrganization")  # organizations live in the home division
    for ops in batches:
        body = d.model({"entities": ops}, "BulkContactsEnrichRequest")
        done = d.call("POST /bulk/contacts/enrich", d.ec.post_externalcontacts_bulk_contacts_enrich, body)
        d.expect(
            done.error_count == 0, f"contact bulk enrich failed: {[r.error for r in done.results if r.error]}"
        )
        ids.update({r.id: r.entity.id for r in done.results if r.entity})
    d.expect(sb.store.count("contacts") == HOME_CONTACTS + 1, "contacts not all stored")
    failing = [contact_op(99, org_id, "Update"), contact_op(2, org_id, "Insert")]
    body = d.model({"entities": failing}, "BulkContactsEnrichRequest")
    done = d.call(
        "POST /bulk/contacts/enrich (failures)", d.ec.post_externalcontacts_bulk_contacts_enrich, body
    )
    errors = {r.id: (r.status, r.error.code, r.error.entity.id) for r in done.results if r.error}
    d.expect(
        errors == {"SDK-C99": (404, "not.found", "SDK-C99"), "SDK-C02": (409, "entity.exists", "SDK-C02")},
        f"failed results {errors}",
    )
    d.expect(done.error_count == 2 and sorted(done.error_indexes) == [0, 1], "errorCount / errorIndexes")
    dry = d.model(
        {"entities": [contact_op(1, org_id, "Update") | {"contact": {"title": "Dry"}}]},
        "BulkContactsEnrichRequest",
    )
    d.call(
        "POST /bulk/contacts/enrich?dryRun",
        d.ec.post_externalcontacts_bulk_contacts_enrich,
        dry,
        dry_run=True,
    )
    d.expect((sb.store.get("contacts", ids["SDK-C01"]) or {}).get("title") == "Engineer", "dry run stored")
    one = contact_op(1, org_id, "Update") | {
        "contact": {"title": "CTO", "personalEmail": "ada.home@example.com"}
    }
    got = d.call(
        "POST /contacts/enrich",
        d.ec.post_externalcontacts_contacts_enrich,
        d.model(one, "ContactEnrichRequest"),
    )
    d.expect(
        got.id == ids["SDK-C01"] and got.title == "CTO" and got.work_email == "ada1@example.com",
        "enrich Update",
    )
    stored = sb.store.get("contacts", ids["SDK-C01"]) or {}
    d.expect(stored.get("personalEmail") == "ada.home@example.com", "enrich Update not stored")
    return ids
