"""The official Genesys Python SDK drives the sandbox through every External Contacts endpoint the pipeline
uses (issue 14, "How this is checked"), and says what did not fit.

``PureCloudPlatformClientV2`` is NOT a project dependency and CI does not install it, so as a pytest test
(``test_sdk_drive.py``) this is skipped without it. Run it by hand from the repository root:

    python3.11 -m venv /tmp/sdkvenv
    /tmp/sdkvenv/bin/pip install PureCloudPlatformClientV2 httpx -e .
    /tmp/sdkvenv/bin/python tests/contract/sdk_drive.py

It starts an in-process sandbox on 127.0.0.1, logs in the SDK way (client credentials against the
sandbox's ``/oauth/token``, the SDK's host set to the sandbox) and calls each endpoint through
``ExternalContactsApi`` (divisions through ``AuthorizationApi``). A problem is any call that fails, an
answer with a field the SDK's model does not have or an enum value it does not know (the SDK silently
drops the first and turns the second into ``outdated_sdk_version``), a value of the wrong type, a request
body the SDK's models cannot express, or a record read back without what was written.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import metadata
from typing import Any

import sdk_scenario

from pipeline.sandbox import Sandbox, run_sandbox

# Every call the pipeline's client (pipeline/genesys/endpoints.py) or the sandbox's routes serve; a run
# that did not drive one of them is a problem too. Bulk deletes (``/bulk/{kind}/remove``) are in neither.
ENDPOINTS = (
    "POST /oauth/token",
    "GET /api/v2/authorization/divisions",
    "GET /api/v2/authorization/divisions/home",
    "GET /externalsources?name",
    "GET /externalsources?cursor",
    "GET /externalsources?active",
    "POST /externalsources",
    "GET /externalsources/{id}",
    "PUT /externalsources/{id}",
    "DELETE /externalsources/{id}",
    "GET /contacts/schemas",
    "GET /contacts/schemas/{id}",
    "GET /organizations/schemas",
    "GET /organizations/schemas/{id}",
    "POST /bulk/contacts/enrich",
    "POST /bulk/contacts/enrich?dryRun",
    "POST /bulk/contacts/enrich (failures)",
    "POST /bulk/organizations/enrich",
    "POST /bulk/organizations/enrich?dryRun",
    "POST /contacts/enrich",
    "POST /contacts/enrich Merge",
    "POST /organizations/enrich",
    "GET /scan/contacts",
    "GET /scan/contacts?cursor",
    "GET /scan/contacts/divisionviews/all",
    "GET /scan/contacts/divisionviews/all?cursor",
    "GET /scan/organizations",
    "GET /scan/organizations/divisionviews/all",
    "POST /identifierlookup/contacts",
    "POST /identifierlookup/organizations",
    "POST /identifierlookup/contacts?expand",
    "POST /identifierlookup/organizations?expand",
    "PATCH /contacts/{id}/identifiers Claim",
    "PATCH /contacts/{id}/identifiers Release",
    "GET /contacts/{id}/identifiers",
    "PATCH /organizations/{id}/identifiers Claim",
    "PATCH /organizations/{id}/identifiers Release",
    "GET /organizations/{id}/identifiers",
    "POST /bulk/contacts",
    "POST /bulk/organizations",
    "GET /contacts/{id}",
    "GET /contacts/{id}?expand",
    "GET /organizations/{id}?expand",
    "POST /contacts/merge",
    "DELETE /contacts/{id}",
    "DELETE /organizations/{id}",
)
PLACEHOLDER = "outdated_sdk_version"  # what an SDK enum setter stores for a value it does not know
# The JSON types a primitive may come as; the SDK converts silently (``str(5)``), so the raw value is checked.
JSON_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "datetime": (str,),
    "date": (str,),
    "object": (object,),
}
# What the SDK makes of a date string it could parse.
PARSED: dict[str, type] = {"datetime": datetime, "date": date}


def fit(raw: Any, value: Any, kind: str, path: str = "$") -> Iterator[str]:
    """What in the JSON ``raw`` the SDK's ``value`` (deserialized as swagger type ``kind``) lost or
    misread: fields its model lacks, unknown enum values, values of another type."""
    if raw is None:
        return
    if kind.startswith("list["):
        if not isinstance(raw, list):
            yield f"{path}: {type(raw).__name__} where the SDK expects a list"
            return
        for i, (item, got) in enumerate(zip(raw, value or [], strict=False)):
            yield from fit(item, got, kind[5:-1], f"{path}[{i}]")
    elif kind.startswith("dict("):
        inner = kind[5:-1].split(", ", 1)[1]
        for key, item in (raw if isinstance(raw, dict) else {}).items():
            yield from fit(item, (value or {}).get(key), inner, f"{path}.{key}")
    elif kind in JSON_TYPES:
        if value == PLACEHOLDER:
            yield f"{path}: {raw!r} is not among the SDK's enum values"
        elif not isinstance(raw, JSON_TYPES[kind]) or (kind in ("int", "float") and isinstance(raw, bool)):
            yield f"{path}: {raw!r} is not a {kind}"
        elif kind in PARSED and not isinstance(value, PARSED[kind]):
            yield f"{path}: {raw!r} is not a {kind} the SDK can parse"
    elif not isinstance(raw, dict):
        yield f"{path}: {type(raw).__name__} where the SDK expects a {kind} object"
    else:
        by_json = {name: attr for attr, name in value.attribute_map.items()}
        for key, item in raw.items():
            if key not in by_json:
                yield f"{path}.{key}: not a field of the SDK's {kind}"
            else:
                attr = by_json[key]
                yield from fit(item, getattr(value, attr), value.swagger_types[attr], f"{path}.{key}")


def dropped_nulls(raw: Any, sent: Any, path: str = "$") -> Iterator[str]:
    """Where ``raw`` holds an explicit null that the SDK's serialized body ``sent`` leaves out."""
    if isinstance(raw, dict) and isinstance(sent, dict):
        for key, item in raw.items():
            if item is None and key not in sent:
                yield f"{path}.{key}"
            elif key in sent:
                yield from dropped_nulls(item, sent[key], f"{path}.{key}")
    elif isinstance(raw, list) and isinstance(sent, list):
        for i, (item, out) in enumerate(zip(raw, sent, strict=False)):
            yield from dropped_nulls(item, out, f"{path}[{i}]")


class CallFailed(Exception):
    """An SDK call that was meant to succeed did not; later steps depend on it."""


@dataclass
class Driver:
    """The SDK's API objects over one sandbox, with what was driven and every problem found."""

    sdk: Any
    client: Any
    driven: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    last_body: str = ""

    @classmethod
    def login(cls, sdk: Any, sb: Sandbox) -> Driver:
        """Client credentials the SDK way, against the sandbox's ``/oauth/token``."""
        client = sdk.ApiClient(host=sb.base_url)
        driver = cls(sdk, client)

        def keep_body(response: Any) -> Any:  # the SDK checks the hook takes exactly one argument
            driver.last_body = response.data if isinstance(response.data, str) else response.data.decode()
            return response

        client.get_http_client().set_post_request_hook(keep_body)
        client.get_client_credentials_token(sb.client_id, sb.client_secret)
        driver.driven.append("POST /oauth/token")
        return driver

    @property
    def ec(self) -> Any:
        return self.sdk.ExternalContactsApi(self.client)

    @property
    def authz(self) -> Any:
        return self.sdk.AuthorizationApi(self.client)

    def model(self, body: Any, kind: str) -> Any:
        """``body`` as the SDK's ``kind`` model; a field or value the model cannot hold is a problem."""
        built = self.client._ApiClient__deserialize(body, kind)  # the SDK's own dict -> model path
        self.problems += [f"the SDK cannot express {p}" for p in fit(body, built, kind)]
        sent = self.client.sanitize_for_serialization(built)
        self.notes += [f"{kind} {p}: the SDK sends no explicit null" for p in dropped_nulls(body, sent)]
        return built

    def call(self, label: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One SDK call that must succeed; its answer must fit the SDK's model of it."""
        self.last_body = ""
        try:
            answer = method(*args, **kwargs)
        except self.sdk.rest.ApiException as exc:
            raise CallFailed(f"{label}: {exc.status} {exc.body}") from None
        self.driven.append(label)
        kind = type(answer).__name__ if hasattr(answer, "swagger_types") else "object"
        if self.last_body and kind != "object":
            self.problems += [f"{label} answer {p}" for p in fit(json.loads(self.last_body), answer, kind)]
        return answer

    def refused(self, label: str, status: int, method: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """One SDK call that must fail with ``status`` (a read after a delete, say)."""
        try:
            method(*args, **kwargs)
        except self.sdk.rest.ApiException as exc:
            self.driven.append(label)
            self.expect(exc.status == status, f"{label}: {exc.status}, expected {status}")
            if exc.body:  # the SDK leaves error bodies as text; they must still be its ErrorBody
                raw = json.loads(exc.body)
                built = self.client._ApiClient__deserialize(raw, "ErrorBody")
                self.problems += [f"{label} error {p}" for p in fit(raw, built, "ErrorBody")]
            return
        self.problems.append(f"{label}: succeeded, expected {status}")

    def expect(self, condition: bool, problem: str) -> None:
        if not condition:
            self.problems.append(problem)


def drive(sdk: Any) -> Driver:
    """Start a sandbox, drive every endpoint through the SDK, return what was driven and found."""
    with run_sandbox(rate_limit=0) as sb:
        driver = Driver.login(sdk, sb)
        try:
            sdk_scenario.run(driver, sb)
        except CallFailed as exc:
            driver.problems.append(str(exc))
    driver.problems += [f"{label}: not driven" for label in ENDPOINTS if label not in driver.driven]
    return driver


def main() -> int:
    import PureCloudPlatformClientV2 as sdk

    driver = drive(sdk)
    version = metadata.version("PureCloudPlatformClientV2")
    print(f"PureCloudPlatformClientV2 {version} drove {len(driver.driven)} calls:")
    for label in dict.fromkeys(driver.driven):
        print(f"  {label}")
    for note in dict.fromkeys(driver.notes):
        print(f"NOTE {note}")
    for problem in driver.problems:
        print(f"PROBLEM {problem}")
    print(f"{len(driver.problems)} problems")
    return 1 if driver.problems else 0


if __name__ == "__main__":
    sys.exit(main())
