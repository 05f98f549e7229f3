"""Builders for enrich operations and a small authenticated HTTP client, shared by the sandbox tests."""

from __future__ import annotations

import re
from typing import Any

import httpx

from pipeline.sandbox import DEMO_EXTERNAL_SOURCE_ID, Sandbox

SOURCE = {"id": DEMO_EXTERNAL_SOURCE_ID}
EC = "/api/v2/externalcontacts"


def ext_id(value: str, source_id: str = DEMO_EXTERNAL_SOURCE_ID) -> dict[str, Any]:
    """A matching identifier of type ExternalId."""
    return {"type": "ExternalId", "value": value, "externalSource": {"id": source_id}}


def email_id(value: str) -> dict[str, Any]:
    return {"type": "Email", "value": value}


def phone_id(value: str) -> dict[str, Any]:
    return {"type": "Phone", "value": value}


def contact_op(
    key: str,
    action: str = "Upsert",
    *,
    identifiers: list[dict[str, Any]] | None = None,
    tracker: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A contact operation keyed by ExternalId ``key``; the contact carries that external id."""
    contact = {"externalIds": [{"externalSource": SOURCE, "value": key}], **fields}
    return {
        "id": tracker or f"row-{key}",
        "action": action,
        "matchingIdentifiers": identifiers or [ext_id(key)],
        "contact": contact,
    }


def org_op(key: str, name: str = "Acme", action: str = "Upsert", **fields: Any) -> dict[str, Any]:
    return {
        "id": f"org-{key}",
        "action": action,
        "matchingIdentifiers": [ext_id(key)],
        "externalOrganization": {
            "name": name,
            "externalIds": [{"externalSource": SOURCE, "value": key}],
            **fields,
        },
    }


class Api:
    """httpx against one sandbox, with a bearer token fetched the way a real client does."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.http = httpx.Client(base_url=sb.base_url, timeout=10, trust_env=False)
        self.token = self.fetch_token()

    def fetch_token(self) -> str:
        response = self.http.post(
            "/oauth/token",
            auth=(self.sb.client_id, self.sb.client_secret),
            data={"grant_type": "client_credentials"},
        )
        response.raise_for_status()
        return response.json()["access_token"]

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.http.request(
            method, path if path.startswith("/") else f"{EC}/{path}", headers=headers, **kwargs
        )

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, json=body, **kwargs)

    def bulk(self, collection: str, ops: list[dict[str, Any]], **kwargs: Any) -> httpx.Response:
        return self.post(f"bulk/{collection}/enrich", {"entities": ops}, **kwargs)

    def close(self) -> None:
        self.http.close()


CAMEL = re.compile(r"^[a-z][A-Za-z0-9]*$")
FREE_FORM = ("customFields", "properties")  # keys inside these are data, not API field names


def non_camel_keys(body: Any, path: str = "$") -> list[str]:
    """Every key of a JSON body that is not camelCase (``$ref``/``$schema`` of JSON schemas allowed)."""
    found = []
    if isinstance(body, dict):
        for key, value in body.items():
            if not CAMEL.match(key) and key not in ("$ref", "$schema"):
                found.append(f"{path}.{key}")
            if key not in FREE_FORM:
                found.extend(non_camel_keys(value, f"{path}.{key}"))
    elif isinstance(body, list):
        for i, item in enumerate(body):
            found.extend(non_camel_keys(item, f"{path}[{i}]"))
    return found
