"""Field rules and deletes over HTTP: what the sandbox stores after an enrich with ``fieldRules`` (per the
SDK's EnrichFieldRules / EnrichFieldRule docs) and after ``DELETE`` of contacts and organizations."""

from __future__ import annotations

from typing import Any

import pytest
from sandbox_ops import Api, contact_op, org_op
from test_sandbox_http import assert_error

from pipeline.sandbox import Sandbox


def _org(api: Api, fields: dict[str, Any], rules: dict[str, Any] | None = None) -> dict[str, Any]:
    op = org_op("O1", **fields)
    if rules is not None:
        op["fieldRules"] = rules
    response = api.post("organizations/enrich", op)
    assert response.status_code in (200, 201), response.json()
    return api.get(f"organizations/{response.json()['id']}").json()


def _stored_org(api: Api, fields: dict[str, Any], rules: dict[str, Any]) -> dict[str, Any]:
    """The organization as stored after a first write, then a second one of ``fields`` under ``rules``."""
    _org(api, {"industry": "Retail", "companyType": "Customer", "tags": ["a", "b", "c"]})
    return _org(api, fields, rules)


@pytest.mark.parametrize(
    ("action", "provided", "expected"),
    [
        ("AlwaysUseProvided", None, None),
        ("AlwaysUseProvided", "Grocery", "Grocery"),
        ("PreferProvided", None, "Retail"),
        ("PreferProvided", "Grocery", "Grocery"),
        ("PreferExisting", None, "Retail"),
        ("PreferExisting", "Grocery", "Retail"),
    ],
)
def test_scalar_field_rule_actions(api: Api, action: str, provided: str | None, expected: str | None) -> None:
    """A rule on one scalar field: AlwaysUseProvided lets null clear, PreferProvided lets null keep,
    PreferExisting keeps a stored value; the field next to it follows the default (PreferProvided)."""
    rules = {"rules": [{"field": "$.industry", "action": action}]}
    stored = _stored_org(api, {"industry": provided, "companyType": None}, rules)
    assert stored.get("industry") == expected
    assert stored["companyType"] == "Customer"


@pytest.mark.parametrize(
    ("action", "array_action", "provided", "expected"),
    [
        ("AlwaysUseProvided", "Replace", None, None),
        ("AlwaysUseProvided", "Fill", None, None),
        ("PreferProvided", "Replace", None, ["a", "b", "c"]),
        ("PreferProvided", "Replace", ["c", "d"], ["c", "d"]),
        ("PreferProvided", "Fill", ["c", "d"], ["a", "b", "c", "d"]),
        ("PreferProvided", "Extend", ["c", "d"], ["a", "b", "c", "d"]),
        ("PreferExisting", "Replace", ["c", "d"], ["a", "b", "c"]),
    ],
)
def test_array_field_rule_actions(
    api: Api, action: str, array_action: str, provided: list[str] | None, expected: list[str] | None
) -> None:
    """A rule on an array field: null clears only under AlwaysUseProvided; Replace takes the provided
    array, Fill and Extend add the new items after the stored ones."""
    rules = {"rules": [{"field": "$.tags", "action": action, "arrayAction": array_action}]}
    assert _stored_org(api, {"tags": provided}, rules).get("tags") == expected


def test_default_array_action_applies_where_no_rule_names_the_field(api: Api) -> None:
    """``defaultArrayAction`` Replace replaces every array the rules do not name."""
    stored = _stored_org(api, {"tags": ["z"]}, {"defaultArrayAction": "Replace"})
    assert stored["tags"] == ["z"]


def test_a_custom_field_rule_clears_one_custom_field(api: Api, sb: Sandbox) -> None:
    """``$.customFields.<name>`` with AlwaysUseProvided clears that custom field and no other."""
    schema = {"id": sb.store.schemas("contact")[0]["id"], "version": 1}
    custom = {"loyalty_tier_text": "gold", "vip_boolean": True}
    created = api.post("contacts/enrich", contact_op("C1", schema=schema, customFields=custom)).json()
    op = contact_op("C1", schema=schema, customFields={"loyalty_tier_text": None})
    rule = {"field": "$.customFields.loyalty_tier_text", "action": "AlwaysUseProvided"}
    op["fieldRules"] = {"rules": [rule]}
    assert api.post("contacts/enrich", op).status_code == 200
    assert api.get(f"contacts/{created['id']}").json()["customFields"] == {"vip_boolean": True}


def test_clearing_a_phone_releases_its_identifier(api: Api) -> None:
    """A phone cleared by a rule no longer claims its number, so another contact may take it."""
    phone = {"display": "+1 415 555 0101"}
    api.post("contacts/enrich", contact_op("C1", cellPhone=phone))
    op = contact_op("C1", cellPhone=None)
    op["fieldRules"] = {"rules": [{"field": "$.cellPhone", "action": "AlwaysUseProvided"}]}
    assert "cellPhone" not in api.post("contacts/enrich", op).json()
    assert api.post("contacts/enrich", contact_op("C2", cellPhone=phone)).status_code == 201


def test_deleting_a_contact_answers_200_then_404(api: Api) -> None:
    """DELETE of a contact answers 200 with an empty object; a second DELETE finds nothing (404)."""
    contact = api.post("contacts/enrich", contact_op("C1")).json()
    response = api.request("DELETE", f"contacts/{contact['id']}")
    assert (response.status_code, response.json()) == (200, {})
    assert_error(api.request("DELETE", f"contacts/{contact['id']}"), 404, "not.found")


def test_an_organization_contacts_link_to_is_not_deleted(api: Api, sb: Sandbox) -> None:
    """An organization that a contact still links to is refused (409 conflict) and stays; once the
    contact is gone it can be deleted, and its ExternalId is free again."""
    org = api.post("organizations/enrich", org_op("O1")).json()
    contact = api.post("contacts/enrich", contact_op("C1", externalOrganization={"id": org["id"]})).json()
    body = assert_error(api.request("DELETE", f"organizations/{org['id']}"), 409, "conflict")
    assert contact["id"] in body["message"]
    assert sb.store.get("organizations", org["id"]) is not None
    assert api.request("DELETE", f"contacts/{contact['id']}").status_code == 200
    assert api.request("DELETE", f"organizations/{org['id']}").status_code == 200
    assert sb.store.count("organizations") == 0
    assert api.post("organizations/enrich", org_op("O1", action="Insert")).status_code == 201
