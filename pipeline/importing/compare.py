"""Comparing what an import would send with what Genesys holds: the pure half of ``plan`` and
``import --compare-live``.

Both sides are rendered the way export renders stored values (:func:`pipeline.exporting.layout.render`):
phones as E.164 (the stored ``e164``, else ``display``) with ``;ext=N``, lists ``;``-joined, numbers as
Python prints them. So an export re-imported without edits compares equal, whatever the server added.

The sent side is the operation's body, never the row: the diff is against what WOULD be sent. With
today's field rules (``PreferProvided``) a field the body leaves out keeps its stored value, so an empty
cell is no change. Under ``--blanks clear`` the body names the fields it clears (``fieldRules`` with
``AlwaysUseProvided`` and a null value): those become ``clear`` changes when something is stored there;
its lists carry the same rule with ``arrayAction: Replace``, so they become exactly what is sent.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pipeline.exporting.layout import render
from pipeline.fields import FieldSpec, FieldType, Specs, custom_field
from pipeline.importing.plan import Operation

Action = Literal["create", "update", "clear", "delete", "unchanged"]
ACTIONS: tuple[Action, ...] = ("create", "update", "clear", "delete", "unchanged")
# The contact -> organization link, shown under this field name.
LINK_FIELD = "organization"
LINK_PATH = "externalOrganization.id"


@dataclass(frozen=True)
class FieldChange:
    """One field whose stored value the import would change (``before`` None: nothing stored)."""

    field: str
    before: str | None
    after: str | None
    action: Action


def record_body(op: Operation) -> Mapping[str, Any]:
    """The record an operation writes (``contact`` or ``externalOrganization``)."""
    return op.body["contact"] if op.kind == "contact" else op.body["externalOrganization"]


def cleared_paths(op: Operation) -> frozenset[str]:
    """The field paths where the provided value wins: its ``AlwaysUseProvided`` rules (``$.a.b`` ->
    ``a.b``). Sent as null, such a field is cleared; sent as a list, it replaces the stored one."""
    rules = (op.body.get("fieldRules") or {}).get("rules") or ()
    return frozenset(
        str(rule["field"]).removeprefix("$.")
        for rule in rules
        if rule.get("action") == "AlwaysUseProvided" and rule.get("field")
    )


def _get(record: Mapping[str, Any] | None, path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _fields(op: Operation, specs: Specs) -> list[FieldSpec]:
    """The specs of every field the body can carry: the kind's own, then its custom fields."""
    own = [s for s in specs.of(op.kind) if s.type != FieldType.KEY]
    custom = record_body(op).get("customFields") or {}
    return own + [custom_field(op.kind, name) for name in sorted(custom)]


def _after(spec: FieldSpec, sent: Any, stored: Any) -> Any:
    """What the field holds after the write: the default array rule (``Fill``) keeps stored items and
    appends the new ones, so a list only changes when it brings an item not stored yet."""
    if spec.type == FieldType.LIST and isinstance(stored, list) and isinstance(sent, list):
        return stored + [item for item in sent if item not in stored]
    return sent


def _link(op: Operation, stored: Mapping[str, Any] | None, labels: Mapping[str, str]) -> FieldChange | None:
    wanted = _get(record_body(op), LINK_PATH)
    if wanted is None:
        return None
    held = _get(stored, LINK_PATH)
    if held is not None and str(held) == str(wanted):
        return None
    before = labels.get(str(held), str(held)) if held is not None else None
    return FieldChange(LINK_FIELD, before, labels.get(str(wanted), str(wanted)), "update")


def field_changes(
    op: Operation,
    stored: Mapping[str, Any] | None,
    specs: Specs,
    *,
    cleared: Collection[str] = (),
    labels: Mapping[str, str] | None = None,
) -> list[FieldChange]:
    """The fields the operation would change in ``stored`` (None: the record does not exist yet, every
    field it sends is created). ``labels`` names organizations by Genesys id for the link's values."""
    action: Action = "create" if stored is None else "update"
    body = record_body(op)
    cleared = frozenset(cleared) | cleared_paths(op)
    changes: list[FieldChange] = []
    for spec in _fields(op, specs):
        held = _get(stored, spec.path)
        before = render(spec, held)
        sent = _get(body, spec.path)
        if sent is None:
            if spec.path in cleared and before is not None:
                changes.append(FieldChange(spec.header, before, None, "clear"))
            continue
        after = render(spec, sent if spec.path in cleared else _after(spec, sent, held))
        if after != before:
            changes.append(FieldChange(spec.header, before, after, action))
    if op.kind == "contact" and (link := _link(op, stored, labels or {})) is not None:
        changes.append(FieldChange(link.field, link.before, link.after, action))
    return changes


def record_action(stored: Mapping[str, Any] | None, changes: list[FieldChange]) -> Action:
    """The record's action: create, update (some field changes), clear (it only clears), or unchanged."""
    if stored is None:
        return "create"
    if not changes:
        return "unchanged"
    return "clear" if all(c.action == "clear" for c in changes) else "update"
