"""The request bodies ``sdk_scenario.py`` writes: organizations and contacts keyed by an ExternalId of the
demo source, with custom fields and field rules, as the pipeline builds them."""

from __future__ import annotations

from typing import Any

from pipeline.sandbox import DEMO_CONTACT_SCHEMA_ID, DEMO_EXTERNAL_SOURCE_ID, DEMO_ORGANIZATION_SCHEMA_ID

SOURCE = {"id": DEMO_EXTERNAL_SOURCE_ID}


def ext_id(key: str) -> dict[str, Any]:
    return {"type": "ExternalId", "value": key, "externalSource": SOURCE}


def org_op(key: str, name: str, action: str) -> dict[str, Any]:
    organization = {
        "name": name,
        "industry": "Retail",
        "employeeCount": 40,
        "websites": [f"https://{key.lower()}.example.com"],
        "phoneNumber": {"display": "+1 312 555 0100"},
        "externalIds": [{"externalSource": SOURCE, "value": key}],
        "schema": {"id": DEMO_ORGANIZATION_SCHEMA_ID, "version": 1},
        "customFields": {"segment_enum": "smb", "employee_count_integer": 40},
    }
    return {
        "id": key,
        "action": action,
        "matchingIdentifiers": [ext_id(key)],
        "externalOrganization": organization,
    }


def contact_op(n: int, org_id: str, action: str = "Upsert", division: str | None = None) -> dict[str, Any]:
    key = f"SDK-C{n:02d}"
    contact = {
        "firstName": f"Ada{n}",
        "lastName": "Lovelace",
        "title": "Engineer",
        "workEmail": f"ada{n}@example.com",
        "cellPhone": {"display": f"+1 312 555 01{n:02d}"},
        "address": {"address1": "1 Main St", "city": "Chicago", "postalCode": "60601", "countryCode": "US"},
        "externalIds": [{"externalSource": SOURCE, "value": key}],
        "externalOrganization": {"id": org_id},
        "surveyOptOut": False,
        "schema": {"id": DEMO_CONTACT_SCHEMA_ID, "version": 1},
        "customFields": {"loyalty_tier_text": "gold", "vip_boolean": True, "order_count_integer": n},
    }
    op: dict[str, Any] = {
        "id": key,
        "action": action,
        "matchingIdentifiers": [ext_id(key)],
        "contact": contact,
    }
    op["fieldRules"] = {
        "defaultAction": "PreferProvided",
        "defaultArrayAction": "Fill",
        "rules": [{"field": "$.title", "action": "AlwaysUseProvided", "arrayAction": "Replace"}],
    }
    if division:
        op["division"] = {"id": division}
    return op
