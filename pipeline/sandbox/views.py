"""How a stored record is shown: ``expand`` decides which parts come whole.

The store keeps everything (the claimed ``identifiers``, the division's name, the linked organization's
id). A read shows ``identifiers`` only with ``expand=identifiers``, the division as ``{id, selfUri}``
unless ``expand=division`` adds its name, and a contact's organization as ``{id, selfUri}`` unless
``expand=externalOrganization`` puts the whole organization there. Every other answer (enrich, bulk
enrich, scans, lookups, merge) shows the unexpanded view.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from pipeline.sandbox.problems import bad_request, detail
from pipeline.sandbox.records import API, ORGANIZATION, Kind

EXPANDS = ("identifiers", "division", "externalOrganization")


def parse_expand(values: Iterable[str]) -> frozenset[str]:
    """``?expand=a&expand=b`` or ``?expand=a,b``; an unknown value is 400."""
    asked = {part.strip() for value in values for part in value.split(",") if part.strip()}
    unknown = sorted(asked - set(EXPANDS))
    if unknown:
        raise bad_request(
            f"expand must be among {', '.join(EXPANDS)}",
            *(detail("expand", name, "is not a field that can be expanded") for name in unknown),
        )
    return frozenset(asked)


class Records(Protocol):
    """What a view looks up: the linked organization (only for ``expand=externalOrganization``)."""

    def get(self, collection: str, record_id: str) -> dict[str, Any] | None: ...


def view(
    refs: Records, kind: Kind, record: Mapping[str, Any], expand: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The record as an answer shows it."""
    out = dict(record)
    if "identifiers" not in expand:
        out.pop("identifiers", None)
    if "division" not in expand and isinstance(out.get("division"), Mapping):
        out["division"] = {k: v for k, v in out["division"].items() if k != "name"}
    linked = out.get("externalOrganization")
    if isinstance(linked, Mapping) and linked.get("id"):
        org_id = linked["id"]
        organization = refs.get(ORGANIZATION.collection, org_id) if "externalOrganization" in expand else None
        if organization is not None:
            inner = expand - {"externalOrganization"}
            out["externalOrganization"] = view(refs, ORGANIZATION, organization, inner)
        else:
            out["externalOrganization"] = {"id": org_id, "selfUri": f"{API}/organizations/{org_id}"}
    return out
