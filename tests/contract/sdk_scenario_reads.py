"""The reading half of ``sdk_scenario.py``: scans, lookups, identifier claims, bulk and single reads,
merges and deletes, each checked against what the writing half stored."""

from __future__ import annotations

from typing import Any

from sdk_scenario_bodies import SOURCE, ext_id

from pipeline.sandbox import DEMO_DIVISION_ID, SECOND_DIVISION_ID, Sandbox


def scans(d: Any, contacts: dict[str, str], orgs: dict[str, str]) -> None:
    """Every page of the plain scans and of the division views, following cursors."""
    home = {v for k, v in contacts.items() if k != "SDK-C13"}
    for label, method, kwargs, want in (
        (
            "GET /scan/contacts",
            d.ec.get_externalcontacts_scan_contacts,
            {"division_id": DEMO_DIVISION_ID},
            home,
        ),
        (
            "GET /scan/contacts/divisionviews/all",
            d.ec.get_externalcontacts_scan_contacts_divisionviews_all,
            {},
            set(contacts.values()),
        ),
        ("GET /scan/organizations", d.ec.get_externalcontacts_scan_organizations, {}, set(orgs.values())),
        (
            "GET /scan/organizations/divisionviews/all",
            d.ec.get_externalcontacts_scan_organizations_divisionviews_all,
            {},
            set(orgs.values()),
        ),
    ):
        seen: list[str] = []
        cursor = None
        for _page in range(10):
            page = d.call(
                label + ("?cursor" if cursor else ""),
                method,
                limit=10,
                **kwargs,
                **({"cursor": cursor} if cursor else {}),
            )
            seen += [e.id for e in page.entities]
            cursor = page.cursors.after if page.cursors else None
            if not cursor:
                break
        d.expect(sorted(seen) == sorted(want), f"{label}: {len(seen)} records, expected {len(want)}")


def lookups(d: Any, contacts: dict[str, str], orgs: dict[str, str]) -> None:
    """Identifier lookups by ExternalId and by email, for both kinds."""
    look = d.ec.post_externalcontacts_identifierlookup_contacts
    by_key = d.call("POST /identifierlookup/contacts", look, d.model(ext_id("SDK-C02"), "ContactIdentifier"))
    d.expect(by_key.id == contacts["SDK-C02"], "lookup by ExternalId")
    d.expect(
        by_key.identifiers is None and by_key.division.name is None, "unexpanded lookup shows expanded parts"
    )
    full = d.call(
        "POST /identifierlookup/contacts?expand",
        look,
        d.model(ext_id("SDK-C02"), "ContactIdentifier"),
        expand=["identifiers", "division", "externalOrganization"],
    )
    held = {i.value for i in full.identifiers or []}
    d.expect("SDK-C02" in held and full.division.name == "Home", f"lookup expand: {held}, {full.division}")
    d.expect(full.external_organization.name == "Acme Corp", "lookup expand: externalOrganization")
    by_mail = d.call(
        "POST /identifierlookup/contacts",
        look,
        d.model({"type": "Email", "value": "ADA3@example.com"}, "ContactIdentifier"),
    )
    d.expect(by_mail.id == contacts["SDK-C03"], "lookup by email")
    org = d.call(
        "POST /identifierlookup/organizations",
        d.ec.post_externalcontacts_identifierlookup_organizations,
        d.model(ext_id("SDK-O2"), "ExternalOrganizationIdentifier"),
    )
    d.expect(org.id == orgs["SDK-O2"], "organization lookup")
    org = d.call(
        "POST /identifierlookup/organizations?expand",
        d.ec.post_externalcontacts_identifierlookup_organizations,
        d.model(ext_id("SDK-O2"), "ExternalOrganizationIdentifier"),
        expand=["identifiers"],
    )
    d.expect([i.value for i in org.identifiers or []] == ["SDK-O2"], "organization lookup expand")
    mail = {"type": "Email", "value": "ada13@example.com"}
    there = d.call(
        "POST /identifierlookup/contacts",
        look,
        d.model(mail | {"division": {"id": SECOND_DIVISION_ID}}, "ContactIdentifier"),
    )
    d.expect(there.id == contacts["SDK-C13"], "lookup in a division")
    d.refused(
        "POST /identifierlookup/contacts in another division",
        404,
        look,
        d.model(mail | {"division": {"id": DEMO_DIVISION_ID}}, "ContactIdentifier"),
    )


def claims(d: Any, contacts: dict[str, str], orgs: dict[str, str]) -> None:
    """Claim an email another contact holds (it moves), release it; claim and release an org ExternalId."""
    c4, c5 = contacts["SDK-C04"], contacts["SDK-C05"]
    patch = d.ec.patch_externalcontacts_contact_identifiers
    email = {"type": "Email", "value": "ada5@example.com"}

    def holder() -> Any:
        lookup = d.ec.post_externalcontacts_identifierlookup_contacts
        return d.call("POST /identifierlookup/contacts", lookup, d.model(email, "ContactIdentifier"))

    def change(operation: str) -> Any:
        body = d.model({"operation": operation, "identifier": email}, "IdentifierClaimRequest")
        return d.call(f"PATCH /contacts/{{id}}/identifiers {operation}", patch, c4, body)

    d.expect(holder().id == c5, "an email is not claimed by the contact that carries it")
    got = change("Claim")
    d.expect(got.type == "Email" and got.value == "ada5@example.com", "claim answer")
    d.expect(holder().id == c4, "a claimed email did not move")
    change("Release")
    listed = d.call("GET /contacts/{id}/identifiers", d.ec.get_externalcontacts_contact_identifiers, c4)
    values = {(i.type, i.value) for i in listed.entities}
    d.expect(
        ("ExternalId", "SDK-C04") in values and ("Email", "ada5@example.com") not in values,
        f"identifiers {values}",
    )
    org_patch = d.ec.patch_externalcontacts_organization_identifiers
    extra = {"type": "ExternalId", "value": "SDK-O1-alias", "externalSource": SOURCE}
    for operation in ("Claim", "Release"):
        body = d.model(
            {"operation": operation, "identifier": extra}, "ExternalOrganizationIdentifierClaimRequest"
        )
        got = d.call(f"PATCH /organizations/{{id}}/identifiers {operation}", org_patch, orgs["SDK-O1"], body)
        d.expect(got.value == "SDK-O1-alias", f"organization {operation} answer")
    listed = d.call(
        "GET /organizations/{id}/identifiers",
        d.ec.get_externalcontacts_organization_identifiers,
        orgs["SDK-O1"],
    )
    d.expect([i.value for i in listed.entities] == ["SDK-O1"], "organization identifiers after release")


def reads(d: Any, contacts: dict[str, str], orgs: dict[str, str]) -> None:
    """Bulk reads by id (one unknown) and single reads with and without ``expand``."""
    ids = [contacts["SDK-C06"], contacts["SDK-C07"], "00000000-0000-4000-8000-000000000000"]
    bulk = d.call(
        "POST /bulk/contacts",
        d.ec.post_externalcontacts_bulk_contacts,
        d.model({"entities": [{"id": i} for i in ids]}, "BulkIdsRequest"),
    )
    d.expect(
        [(r.id, r.success) for r in bulk.results] == [(ids[0], True), (ids[1], True), (ids[2], False)],
        "bulk read",
    )
    d.expect(
        all(r.entity.identifiers is None and r.entity.division.name is None for r in bulk.results[:2]),
        "bulk read expands",
    )
    d.expect(
        bulk.results[0].entity.custom_fields
        == {"loyalty_tier_text": "gold", "vip_boolean": True, "order_count_integer": 6},
        "custom fields",
    )
    body = d.model({"entities": [{"id": i} for i in orgs.values()]}, "BulkIdsRequest")
    bulk_orgs = d.call("POST /bulk/organizations", d.ec.post_externalcontacts_bulk_organizations, body)
    d.expect(bulk_orgs.error_count == 0 and len(bulk_orgs.results) == 2, "bulk organization read")
    plain = d.call("GET /contacts/{id}", d.ec.get_externalcontacts_contact, contacts["SDK-C06"])
    d.expect(
        plain.identifiers is None and plain.division.name is None, "unexpanded read shows expanded parts"
    )
    d.expect(plain.cell_phone.e164 == "+13125550106" and plain.address.city == "Chicago", "contact read back")
    full = d.call(
        "GET /contacts/{id}?expand",
        d.ec.get_externalcontacts_contact,
        contacts["SDK-C06"],
        expand=["identifiers", "division", "externalOrganization"],
    )
    d.expect(full.division.name == "Home" and full.external_organization.name == "Acme Corp", "expanded read")
    d.expect(any(i.value == "SDK-C06" for i in full.identifiers or []), "expanded identifiers")
    org = d.call(
        "GET /organizations/{id}?expand",
        d.ec.get_externalcontacts_organization,
        orgs["SDK-O2"],
        expand=["identifiers", "division"],
    )
    d.expect(
        org.name == "Globex" and org.websites == ["https://sdk-o2.example.com"] and bool(org.identifiers),
        "org read",
    )


def merge_and_delete(d: Any, sb: Sandbox, contacts: dict[str, str], orgs: dict[str, str]) -> None:
    """Merge two contacts; delete a contact, an organization; reads of deleted records are 404."""
    pair = [contacts["SDK-C11"], contacts["SDK-C12"]]
    body = d.model({"contactIds": pair, "valueOverride": {"firstName": "Merged"}}, "MergeContactsRequest")
    merged = d.call("POST /contacts/merge", d.ec.post_externalcontacts_contacts_merge, body)
    d.expect(
        merged.first_name == "Merged" and {m.id for m in merged.merged_from or []} == set(pair),
        "merge answer",
    )
    again = d.call("GET /contacts/{id}", d.ec.get_externalcontacts_contact, pair[0])
    d.expect(again.id == merged.id, "a merged-away id does not read the merged contact")
    holder = d.call(
        "POST /identifierlookup/contacts",
        d.ec.post_externalcontacts_identifierlookup_contacts,
        d.model(ext_id("SDK-C12"), "ContactIdentifier"),
    )
    d.expect(holder.id == merged.id, "the merged contact does not hold the merged ones' identifiers")
    op = {
        "id": "merge-op",
        "action": "Merge",
        "matchingIdentifiers": [ext_id("SDK-C08"), {"type": "Email", "value": "ada9@example.com"}],
        "contact": {"title": "Merged by enrich"},
        "options": {"promote": False},
    }
    by_enrich = d.call(
        "POST /contacts/enrich Merge",
        d.ec.post_externalcontacts_contacts_enrich,
        d.model(op, "ContactEnrichRequest"),
    )
    sources = {m.id for m in by_enrich.merged_from or []}
    d.expect(
        sources == {contacts["SDK-C08"], contacts["SDK-C09"]} and by_enrich.title == "Merged by enrich",
        "enrich Merge",
    )
    gone = contacts["SDK-C10"]
    d.call("DELETE /contacts/{id}", d.ec.delete_externalcontacts_contact, gone)
    d.refused("GET /contacts/{id} after DELETE", 404, d.ec.get_externalcontacts_contact, gone)
    d.expect(sb.store.get("contacts", gone) is None, "deleted contact still stored")
    d.call("DELETE /organizations/{id}", d.ec.delete_externalcontacts_organization, orgs["SDK-O2"])
    d.refused(
        "GET /organizations/{id} after DELETE", 404, d.ec.get_externalcontacts_organization, orgs["SDK-O2"]
    )
    d.refused(
        "POST /identifierlookup/organizations after DELETE",
        404,
        d.ec.post_externalcontacts_identifierlookup_organizations,
        d.model(ext_id("SDK-O2"), "ExternalOrganizationIdentifier"),
    )
    d.refused(
        "DELETE /organizations/{id} still linked",
        409,
        d.ec.delete_externalcontacts_organization,
        orgs["SDK-O1"],
    )
