"""Candidates -> groups of likely duplicates, each with a suggested survivor and a score per record.

Grouping: contacts sharing a normalized email or phone are linked, and a group is a connected component of
those links (union-find), so A-B sharing an email and B-C sharing a phone make one group A, B, C.

Scoring: each record is compared with the group's suggested survivor; every factor that agrees adds its
weight (:data:`WEIGHTS`, 100 in all): a shared email 40, a shared phone 25, the same last name 15, the same
first name 10 (names folded: case and accents ignored; both sides must be non-empty), the same organization
10. The survivor's own row shows its best pair. ``keep`` is suggested ``yes`` from :data:`KEEP_THRESHOLD`
(50: an email, or a phone and both names), so a family sharing a phone (25, or 40 with the last name) is
listed but not suggested for merging.

Survivor: the record carrying an ExternalId of the import's external source; among several (or none), the
most complete (most non-empty fields), then the most recently modified, then the smallest id.

Genesys merges at most 25 contacts at once (:data:`MERGE_LIMIT`): a larger component keeps the survivor and
the 24 best-scoring records in play; the others are listed with ``keep=no`` and a note, to merge in a
later pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.duplicates.candidates import Candidate, fold_name

MERGE_LIMIT = 25
WEIGHTS = {"email": 40, "phone": 25, "last_name": 15, "first_name": 10, "organization": 10}
KEEP_THRESHOLD = 50


@dataclass(frozen=True)
class Member:
    """One record of a group with its comparison to the survivor (the survivor: its best pair)."""

    candidate: Candidate
    survivor: bool
    score: int
    factors: tuple[str, ...]
    keep: bool
    note: str = ""


@dataclass(frozen=True)
class Group:
    number: int
    members: tuple[Member, ...]  # the survivor first, then by score, best first
    component_size: int  # every record of the component is a member; over MERGE_LIMIT some are set aside

    @property
    def capped(self) -> bool:
        return self.component_size > MERGE_LIMIT


def find_groups(candidates: Sequence[Candidate]) -> list[Group]:
    """The groups of two or more candidates sharing an email or phone, in order of first appearance."""
    components = _components(candidates)
    return [_group(number, members) for number, members in enumerate(components, start=1)]


def compare(a: Candidate, b: Candidate) -> tuple[int, tuple[str, ...]]:
    """The score and the agreeing factors of two candidates (see the module doc)."""
    factors = []
    if set(a.emails) & set(b.emails):
        factors.append("email")
    if set(a.phones) & set(b.phones):
        factors.append("phone")
    if a.last_name and b.last_name and fold_name(a.last_name) == fold_name(b.last_name):
        factors.append("last_name")
    if a.first_name and b.first_name and fold_name(a.first_name) == fold_name(b.first_name):
        factors.append("first_name")
    if a.organization_id and a.organization_id == b.organization_id:
        factors.append("organization")
    return sum(WEIGHTS[f] for f in factors), tuple(factors)


def choose_survivor(members: Sequence[Candidate]) -> Candidate:
    """The suggested survivor (see the module doc)."""
    ranked = sorted(members, key=lambda c: c.id)
    ranked.sort(key=lambda c: c.modify_date, reverse=True)
    ranked.sort(key=lambda c: (c.has_source_id, c.completeness), reverse=True)
    return ranked[0]


def _components(candidates: Sequence[Candidate]) -> list[list[Candidate]]:
    parent = list(range(len(candidates)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]  # path halving keeps the trees flat
            i = parent[i]
        return i

    owner: dict[tuple[str, str], int] = {}
    for i, candidate in enumerate(candidates):
        for key in candidate.keys:
            j = owner.setdefault(key, i)
            if j != i:
                a, b = root(i), root(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)  # the earliest record stays the root: stable order
    members: dict[int, list[Candidate]] = {}
    for i, candidate in enumerate(candidates):
        members.setdefault(root(i), []).append(candidate)
    return [group for _, group in sorted(members.items()) if len(group) > 1]


def _group(number: int, candidates: list[Candidate]) -> Group:
    survivor = choose_survivor(candidates)
    others = []
    for candidate in candidates:
        if candidate is not survivor:
            score, factors = compare(survivor, candidate)
            others.append(Member(candidate, False, score, factors, score >= KEEP_THRESHOLD))
    others.sort(key=lambda m: (-m.score, m.candidate.id))
    room = MERGE_LIMIT - 1
    over = f"over the {MERGE_LIMIT}-record merge limit: merge the others first, then run duplicates again"
    others = [
        *others[:room],
        *(Member(m.candidate, False, m.score, m.factors, False, over) for m in others[room:]),
    ]
    best = others[0] if others else None
    head = Member(
        survivor,
        True,
        best.score if best else 0,
        best.factors if best else (),
        True,
    )
    return Group(number, (head, *others), len(candidates))
