"""Enrich and merge semantics, as pure functions of a read-only view of the store.

Matching: each of ``matchingIdentifiers`` is looked up, in order, among the claims of the operation's
division; the distinct records found are the matches, first match = found by the earliest identifier.

=========  ===================  ==========================  ====================================
action     0 matches            1 match                     2+ matches
=========  ===================  ==========================  ====================================
Insert     create (201)         409 ``entity.exists``       409 ``entity.exists``
Update     404 ``not.found``    update it (200)             update the first match (200)
Upsert     create (201)         update it (200)             update the first match (200)
Merge      create (201)         update it (200)             merge all into a new contact, then
                                                            apply the data (200)
=========  ===================  ==========================  ====================================

Claims: a record claims the ExternalIds it carries (one held by another record is 409
``identifier.conflict``). Emails and phones are claimed first come, first served: one that another
contact holds stays with it and this contact carries it unclaimed, unless the store is in strict mode,
where that too is a 409. Claims a record holds stay until released, moved, or the record is deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.sandbox.fieldrules import FieldRules, combine
from pipeline.sandbox.problems import (
    BAD_REQUEST,
    ENTITY_EXISTS,
    IDENTIFIER_CONFLICT,
    NOT_FOUND,
    EntityError,
    Problems,
    detail,
    not_found,
)
from pipeline.sandbox.records import (
    CONTACT,
    Kind,
    finalize,
    identifier,
    identifier_claim_key,
    record_claims,
    writable,
)
from pipeline.sandbox.validation import Refs, check_combined, check_operation, clean_record

MERGE_MIN, MERGE_MAX = 2, 25
MERGE_RULES = FieldRules("PreferProvided", "Fill")  # applied oldest to newest: the newest value wins


@dataclass(frozen=True)
class Outcome:
    """What an operation would do: store ``record`` and drop the ``replaced`` records (merged away)."""

    kind: Kind
    record: dict[str, Any]
    created: bool
    replaced: tuple[str, ...] = ()

    @property
    def status(self) -> int:
        return 201 if self.created else 200


def enrich(refs: Refs, kind: Kind, raw_op: Any, *, now: str, new_id: Callable[[], str]) -> Outcome:
    """Decide one enrich operation; raises :class:`EntityError` when it must fail."""
    op = check_operation(kind, raw_op, refs)
    matches = find_matches(refs, kind, op.identifiers)
    if op.action == "Insert" and matches:
        raise EntityError(
            409,
            ENTITY_EXISTS,
            f"{kind.label} already exists for the matchingIdentifiers",
            [detail("matchingIdentifiers", m["id"], f"matches {kind.name} {m['id']}") for m in matches],
        )
    if op.action == "Update" and not matches:
        raise EntityError(404, NOT_FOUND, f"No {kind.name} matches the matchingIdentifiers")
    if op.action == "Merge" and len(matches) > 1:
        merged = merge_fields(kind, matches)
        return _outcome(refs, kind, None, merged, op.data, op.rules, op.division, now, new_id, matches)
    base = matches[0] if matches else None
    return _outcome(refs, kind, base, writable(kind, base or {}), op.data, op.rules, op.division, now, new_id)


def merge(
    refs: Refs, contact_ids: Any, value_override: Any, *, now: str, new_id: Callable[[], str]
) -> Outcome:
    """``POST /contacts/merge``: 2..25 contacts become one new contact; ``valueOverride`` wins."""
    problems = Problems()
    if (
        not isinstance(contact_ids, list)
        or not all(isinstance(i, str) for i in contact_ids)
        or not MERGE_MIN <= len(set(contact_ids)) <= MERGE_MAX
    ):
        problems.add("contactIds", contact_ids, f"must list {MERGE_MIN} to {MERGE_MAX} distinct contact ids")
        problems.raise_if_any(BAD_REQUEST, "Invalid merge request")
    contacts = []
    for contact_id in dict.fromkeys(contact_ids):
        contact = refs.get(CONTACT.collection, contact_id)
        if contact is None:
            raise not_found(f"Contact {contact_id}")
        contacts.append(contact)
    if len({c["division"]["id"] for c in contacts}) > 1:
        problems.add("contactIds", contact_ids, "contacts in different divisions cannot be merged")
    override = clean_record(CONTACT, value_override, "valueOverride", refs, problems)
    problems.raise_if_any()
    division = refs.division(contacts[0]["division"]["id"])
    assert division is not None
    merged = merge_fields(CONTACT, contacts)
    return _outcome(refs, CONTACT, None, merged, override, FieldRules(), division, now, new_id, contacts)


def find_matches(refs: Refs, kind: Kind, identifiers: Sequence[Any]) -> list[dict[str, Any]]:
    """The distinct records claiming the identifiers, in identifier order."""
    found: dict[str, dict[str, Any]] = {}
    for key in identifiers:
        owner = refs.claim_owner(key) if key else None
        if owner and owner not in found:
            record = refs.get(kind.collection, owner)
            if record is not None:
                found[owner] = record
    return list(found.values())


def merge_fields(kind: Kind, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The writable fields of several records merged: per field the most recently modified value wins,
    arrays are combined, and emails and phones that lose their slot move to a free one."""
    ordered = sorted(records, key=lambda r: r["modifyDate"])
    merged: dict[str, Any] = {}
    for record in ordered:
        merged = combine(kind, merged, writable(kind, record), MERGE_RULES)
    newest_first = ordered[::-1]
    for slots, same in ((kind.emails, _same_email), (kind.phones, _same_phone)):
        leftovers = [r[s] for r in newest_first for s in slots if r.get(s)]
        for slot in slots:
            if merged.get(slot):
                continue
            while leftovers:
                value = leftovers.pop(0)
                if not any(merged.get(s) and same(merged[s], value) for s in slots):
                    merged[slot] = value
                    break
    return merged


def _same_email(a: str, b: str) -> bool:
    return a.strip().lower() == b.strip().lower()


def _same_phone(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return (a.get("e164") or a.get("display")) == (b.get("e164") or b.get("display"))


def _outcome(
    refs: Refs,
    kind: Kind,
    base: Mapping[str, Any] | None,
    stored: Mapping[str, Any],
    provided: Mapping[str, Any],
    rules: FieldRules,
    division: Mapping[str, Any],
    now: str,
    new_id: Callable[[], str],
    merged_from: Sequence[Mapping[str, Any]] = (),
) -> Outcome:
    fields = combine(kind, stored if (base or merged_from) else None, provided, rules)
    check_combined(kind, fields, refs, kind.payload_key)
    record_id = base["id"] if base else new_id()
    extra = {}
    if merged_from:
        extra["mergedFrom"] = [{"id": m["id"], "selfUri": m["selfUri"]} for m in merged_from]
    replaced = tuple(m["id"] for m in merged_from)
    record = finalize(
        kind,
        fields,
        record_id=record_id,
        division=division,
        create_date=base["createDate"] if base else now,
        modify_date=now,
        extra=extra,
        identifiers=[],
    )
    held = [base] if base else list(merged_from)
    record["identifiers"] = _claims(refs, kind, record, held, {record_id, *replaced}, now)
    return Outcome(kind, record, created=base is None and not merged_from, replaced=replaced)


def _claims(
    refs: Refs,
    kind: Kind,
    record: Mapping[str, Any],
    held: Sequence[Mapping[str, Any]],
    ours: set[str],
    now: str,
) -> list[dict[str, Any]]:
    """The identifiers a written record holds: what it (or the records merged into it) held, plus what
    its data offers that no other record holds."""
    division = record["division"]
    offered = record_claims(kind, record, division["id"])
    claims: dict[Any, dict[str, Any]] = {}
    for previous in held:
        for ident in previous.get("identifiers") or ():
            key = identifier_claim_key(kind, ident)
            if key is not None:
                claims.setdefault(key, {**ident, "division": division})
    conflicts = []
    for claim in offered:
        owner = refs.claim_owner(claim.key)
        if owner is not None and owner not in ours:
            if claim.key[2] == "ExternalId" or refs.strict_claims:
                where = f"{kind.payload_key}.{claim.field}"
                conflicts.append(detail(where, claim.value, f"already claimed by {kind.name} {owner}"))
            continue
        claims.setdefault(claim.key, identifier(claim.key, division, now))
    if conflicts:
        raise EntityError(409, IDENTIFIER_CONFLICT, "Identifier already claimed by another record", conflicts)
    return list(claims.values())
