"""What undoing a run takes, record by record: the pure half of ``runs revert``.

Records the run created are deleted. Records it updated are restored from their before-image (saved by
``import --save-before``) with an enrich ``Update`` matched by their ExternalId: the body carries the
before-image's writable fields, and every field whose stored value differs from it gets an
``AlwaysUseProvided`` rule, so a field the run filled is cleared (null) and a field it changed or
cleared is written back. Fields that already hold their before value keep the default rule.

Inputs are plain values: the run's outcomes, its before-images, the records as stored now (read by id,
``None`` where there is none) and the ids a later run wrote.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pipeline.genesys.models import external_id_identifier
from pipeline.importing.plan import provided_wins
from pipeline.journal.images import BeforeImage, RunRecord
from pipeline.outcomes import Status

Action = Literal["delete", "restore", "skip", "none"]
# Statuses of a step: planned (dry), then what acting on it gave.
PLANNED, DONE, SKIPPED, FAILED = "planned", "done", "skipped", "failed"
# Parts of a stored record the API sets itself (or that are not the record's data): never written back.
READ_ONLY = frozenset(
    {
        "id", "division", "identifiers", "modifyDate", "createDate", "externalDataSources", "type",
        "canonicalContact", "mergeSet", "mergedFrom", "mergedTo", "mergeOperation", "selfUri", "trustor",
    }
)  # fmt: skip
# Objects the API combines member by member (so a rule names the member).
NESTED = ("address", "customFields")
# Objects that are one reference: compared, and written, by their id.
REFERENCES = ("externalOrganization",)
NO_BEFORE_IMAGE = "cannot restore (run without --save-before)"


@dataclass(frozen=True)
class Step:
    """One record of the run, and what the revert does with it."""

    kind: str
    key: str
    genesys_id: str | None
    action: Action
    status: str
    message: str
    operation: dict[str, Any] | None = field(default=None, compare=False)

    def settled(self, status: str, message: str) -> Step:
        return replace(self, status=status, message=message)


def _ref(value: Any) -> Any:
    return {"id": value["id"]} if isinstance(value, Mapping) and value.get("id") else None


def writable(record: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a stored record an enrich can write, references reduced to their id."""
    out: dict[str, Any] = {}
    for name, value in record.items():
        if name in READ_ONLY or value is None:
            continue
        if name in REFERENCES:
            value = _ref(value)
        elif name == "schema" and isinstance(value, Mapping):
            value = {k: v for k, v in value.items() if k in ("id", "version")}
        if value is not None:
            out[name] = value
    return out


def differing(before: Mapping[str, Any], now: Mapping[str, Any]) -> list[tuple[str, bool]]:
    """``(path, is_list)`` of every field (member, for nested objects) whose value differs; the schema
    is not a field of its own (it follows the custom fields)."""
    paths: list[tuple[str, bool]] = []
    for name in sorted((before.keys() | now.keys()) - {"schema"}):
        old, new = before.get(name), now.get(name)
        if name in NESTED:
            olds, news = old or {}, new or {}
            for member in sorted(olds.keys() | news.keys()):
                a, b = olds.get(member), news.get(member)
                if a != b:
                    paths.append((f"{name}.{member}", isinstance(a if a is not None else b, list)))
        elif old != new:
            paths.append((name, isinstance(old if old is not None else new, list)))
    return paths


def _put(record: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    target = record
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


def _get(record: Mapping[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def restore_operation(image: BeforeImage, stored: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The enrich ``Update`` that puts ``stored`` back to ``image``, and the fields it changes (none:
    the record already holds its before-image)."""
    before, now = writable(image.body), writable(stored)
    changed = differing(before, now)
    record = dict(before)
    for path, _ in changed:
        if _get(before, path) is None:
            _put(record, path, None)  # filled by the run: null under AlwaysUseProvided clears it
    if "customFields" in record and "schema" not in record and "schema" in now:
        record["schema"] = now["schema"]  # custom fields the run added are cleared under its schema
    identifier = external_id_identifier(image.source_id, image.key)
    body: dict[str, Any] = {"id": image.key, "action": "Update"}
    division = _ref(image.body.get("division"))
    if division:
        body["division"] = division
    body["matchingIdentifiers"] = [identifier]
    body["contact" if image.kind == "contact" else "externalOrganization"] = record
    body["fieldRules"] = {"rules": [provided_wins(path, is_list=is_list) for path, is_list in changed]}
    return body, [path for path, _ in changed]


def _step(
    record: RunRecord,
    image: BeforeImage | None,
    stored: Mapping[str, Any] | None,
    later: int | None,
) -> Step:
    def step(action: Action, message: str, status: str = PLANNED, op: dict[str, Any] | None = None) -> Step:
        return Step(record.kind, record.key, record.genesys_id, action, status, message, op)

    if record.status not in (Status.CREATED, Status.UPDATED):
        return step("none", f"nothing to undo: the run left it {record.status}", DONE)
    if record.genesys_id is None:
        return step("skip", "the run recorded no Genesys id for it", SKIPPED)
    if later is not None:
        return step("skip", f"run {later} wrote it later: revert run {later} first", SKIPPED)
    if record.status is Status.CREATED:
        if stored is None:
            return step("none", "already deleted", DONE)
        return step("delete", "created by the run")
    if image is None:
        return step("skip", NO_BEFORE_IMAGE, SKIPPED)
    if stored is None:
        return step("skip", "it no longer exists (deleted since the run)", SKIPPED)
    op, fields = restore_operation(image, stored)
    if not fields:
        return step("none", "already holds what it held before the run", DONE)
    return step("restore", "fields: " + ", ".join(fields), op=op)


def _link_after(step: Step, stored: Mapping[str, Any] | None) -> str | None:
    """The organization id a contact links to once the revert is done (None: deleted, or unlinked)."""
    if step.action == "delete" or stored is None:
        return None
    source = stored
    if step.action == "restore" and step.operation is not None:
        source = step.operation["contact"]
    ref = _ref(source.get("externalOrganization"))
    return str(ref["id"]) if ref else None


def _keep_linked(steps: list[Step], stored: Mapping[tuple[str, str], Mapping[str, Any]]) -> list[Step]:
    """Organizations to delete that contacts of the run still link to after the revert are skipped."""
    linked: dict[str, list[str]] = {}
    for s in steps:
        if s.kind == "contact" and s.genesys_id is not None:
            org = _link_after(s, stored.get(("contact", s.genesys_id)))
            if org is not None:
                linked.setdefault(org, []).append(s.key)
    out = []
    for s in steps:
        keys = linked.get(s.genesys_id or "") if s.kind == "organization" and s.action == "delete" else None
        if keys:
            why = f"still linked by contacts this revert does not delete (Contact ID {', '.join(keys[:5])})"
            s = replace(s, action="skip", status=SKIPPED, message=why)
        out.append(s)
    return out


# Contacts first: a created organization can only go once no contact of the run links to it.
_ORDER = {"contact": 0, "organization": 1}


def plan_revert(
    records: Iterable[RunRecord],
    images: Mapping[tuple[str, str], BeforeImage],
    stored: Mapping[tuple[str, str], Mapping[str, Any]],
    later: Mapping[str, int],
) -> list[Step]:
    """One step per record of the run, contacts first. ``stored`` holds the records as they are now by
    (kind, Genesys id); ``later`` the ids a later run wrote, with that run's id."""
    steps = [
        _step(
            r,
            images.get((r.kind, r.key)),
            stored.get((r.kind, r.genesys_id)) if r.genesys_id else None,
            later.get(r.genesys_id) if r.genesys_id else None,
        )
        for r in sorted(records, key=lambda r: (_ORDER.get(r.kind, 2), r.key))
    ]
    return _keep_linked(steps, stored)


def counts(steps: Iterable[Step]) -> dict[str, dict[str, int]]:
    """``{action: {status: records}}``."""
    out: dict[str, dict[str, int]] = {}
    for s in steps:
        tally = out.setdefault(s.action, {})
        tally[s.status] = tally.get(s.status, 0) + 1
    return out
