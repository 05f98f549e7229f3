"""Deciding whether a row and a stored contact found by its email or phone are the same person.

Pure: plain dicts in, a verdict out. A shared family or office phone, or a shared inbox, is normal, so one
shared identifier never suffices under the default policy: a second factor has to agree (docs/matching.md).

Policies (``--match-policy``):

* ``strict`` (default): an email match plus one more agreeing factor (phone, last name, first name or
  organization), or a phone match plus a same email, same last name or same organization;
* ``email-only``: an email match suffices; a phone-only match is ambiguous;
* ``any``: the API's own matching, the first record found by any identifier is updated (risky: another
  person sharing a phone is overwritten).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

MatchPolicy = Literal["strict", "email-only", "any"]
MATCH_POLICIES: tuple[MatchPolicy, ...] = ("strict", "email-only", "any")

EMAIL_FIELDS = ("workEmail", "personalEmail", "otherEmail")
PHONE_FIELDS = ("cellPhone", "workPhone", "homePhone", "otherPhone")

EMAIL, PHONE, LAST_NAME, FIRST_NAME, ORGANIZATION = (
    "email",
    "phone",
    "last name",
    "first name",
    "organization",
)
FACTORS = (EMAIL, PHONE, LAST_NAME, FIRST_NAME, ORGANIZATION)


def fold(text: str | None) -> str | None:
    """Casefolded, accents removed, whitespace collapsed: "Núñez " and "nunez" are the same name."""
    if not text:
        return None
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split()) or None


def _phone_number(value: Any) -> str | None:
    """A stored phone's E.164 (or, unparsed, its display); a planned one's display without extension."""
    number = (value.get("e164") or value.get("display")) if isinstance(value, Mapping) else value
    if not isinstance(number, str) or not number:
        return None
    return "".join(c for c in number.partition(";ext=")[0] if c.isdigit() or c == "+") or None


@dataclass(frozen=True)
class Person:
    """The identity factors of one contact, normalized for comparison."""

    emails: frozenset[str]
    phones: frozenset[str]
    last_name: str | None
    first_name: str | None
    organization_id: str | None

    @classmethod
    def of(cls, contact: Mapping[str, Any]) -> Person:
        """From a contact as planned (an operation's ``contact``) or as stored (a lookup's answer)."""
        emails = {str(contact[f]).strip().casefold() for f in EMAIL_FIELDS if contact.get(f)}
        phones = {p for f in PHONE_FIELDS if (p := _phone_number(contact.get(f)))}
        organization = contact.get("externalOrganization")
        org_id = organization.get("id") if isinstance(organization, Mapping) else None
        return cls(
            frozenset(emails),
            frozenset(phones),
            fold(contact.get("lastName")),
            fold(contact.get("firstName")),
            str(org_id) if org_id else None,
        )


@dataclass(frozen=True)
class Verdict:
    """How a candidate compares: factors present on both sides that agree, and those that differ."""

    agreed: tuple[str, ...]
    disagreed: tuple[str, ...]

    def describe(self) -> str:
        agreed = ", ".join(self.agreed) or "nothing"
        differ = f"; differ: {', '.join(self.disagreed)}" if self.disagreed else ""
        return f"agree: {agreed}{differ}"


def compare(row: Person, candidate: Person) -> Verdict:
    """Each factor both sides have: agreeing (equal, or for emails and phones sharing one) or not."""
    pairs: list[tuple[str, bool | None]] = [
        (EMAIL, _sets(row.emails, candidate.emails)),
        (PHONE, _sets(row.phones, candidate.phones)),
        (LAST_NAME, _values(row.last_name, candidate.last_name)),
        (FIRST_NAME, _values(row.first_name, candidate.first_name)),
        (ORGANIZATION, _values(row.organization_id, candidate.organization_id)),
    ]
    agreed = tuple(name for name, same in pairs if same is True)
    disagreed = tuple(name for name, same in pairs if same is False)
    return Verdict(agreed, disagreed)


def _sets(a: frozenset[str], b: frozenset[str]) -> bool | None:
    return bool(a & b) if a and b else None


def _values(a: str | None, b: str | None) -> bool | None:
    return a == b if a and b else None


def confirms(verdict: Verdict, policy: MatchPolicy) -> bool:
    """Whether the agreeing factors are enough, under ``policy``, to update the candidate."""
    agreed = set(verdict.agreed)
    if policy == "any":
        return bool(agreed & {EMAIL, PHONE})
    if policy == "email-only":
        return EMAIL in agreed
    if EMAIL in agreed:
        return len(agreed) >= 2
    return PHONE in agreed and bool(agreed & {LAST_NAME, ORGANIZATION})


def lookup_identifiers(contact: Mapping[str, Any], kinds: Iterable[str]) -> list[dict[str, str]]:
    """The Email/Phone identifiers to look candidates up by, for the ``--match`` kinds, in field order."""
    found: list[dict[str, str]] = []
    for kind in kinds:
        if kind == "email":
            values = [str(contact[f]) for f in EMAIL_FIELDS if contact.get(f)]
            found += [{"type": "Email", "value": v} for v in values]
        elif kind == "phone":
            numbers = [_phone_number(contact.get(f)) for f in PHONE_FIELDS]
            found += [{"type": "Phone", "value": n} for n in numbers if n]
    unique: dict[tuple[str, str], dict[str, str]] = {}
    for ident in found:
        unique.setdefault((ident["type"], ident["value"].casefold()), ident)
    return list(unique.values())
