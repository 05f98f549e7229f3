"""One stored contact reduced to what duplicate scoring and the duplicates file need.

A scan of a large tenant must not hold every record: :func:`candidate_from` keeps a few short strings per
contact (names, normalized emails and phones, organization id, ExternalIds, type, modify date and a
completeness count) and returns None for a contact without any email or phone, which can share nothing.

Normalization, so that the same address or number typed differently is one value:

- emails: trimmed and lower-cased (the whole address: Genesys compares identifiers that way);
- phones: the stored ``e164`` when Genesys set one, otherwise ``display`` read by the project's normalizer
  (:func:`pipeline.prepare.normalize.phone_to_e164`) in the phone's ``normalizationCountryCode``, else the
  contact's address country, else the default region; a number that does not parse is not compared;
- names: Unicode-folded (NFKD, accents dropped, case-folded, white space collapsed), so ``Zoë`` = ``ZOE``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import phonenumbers

from pipeline.prepare.normalize import phone_to_e164

EMAIL_FIELDS = ("workEmail", "personalEmail", "otherEmail")
PHONE_FIELDS = ("workPhone", "cellPhone", "homePhone", "otherPhone")
# The writable contact fields counted for completeness (a tie-break when choosing the survivor).
COMPLETENESS_FIELDS = (
    "firstName", "middleName", "lastName", "salutation", "title", *PHONE_FIELDS, *EMAIL_FIELDS, "address",
    "twitterId", "lineId", "whatsAppId", "facebookId", "instagramId", "externalIds", "externalOrganization",
    "externalSystemUrl", "customFields",
)  # fmt: skip


@dataclass(frozen=True)
class Candidate:
    """A contact as the duplicate scan keeps it."""

    id: str
    first_name: str
    last_name: str
    emails: tuple[str, ...]  # normalized, in field order, without repeats
    phones: tuple[str, ...]  # E.164, in field order, without repeats
    organization_id: str
    external_ids: tuple[tuple[str, str], ...]  # (external source id, value)
    type: str
    modify_date: str
    completeness: int
    has_source_id: bool  # carries an ExternalId of the import's external source

    @property
    def keys(self) -> tuple[tuple[str, str], ...]:
        """The values this contact can share with another: ``("email", ...)`` and ``("phone", ...)``."""
        return (*(("email", e) for e in self.emails), *(("phone", p) for p in self.phones))


def candidate_from(record: Mapping[str, Any], source_id: str | None, default_region: str) -> Candidate | None:
    """``record`` as a :class:`Candidate`, or None when it has no usable email or phone."""
    emails = _unique(normalize_email(record.get(f)) for f in EMAIL_FIELDS)
    region = _country(record) or default_region
    phones = _unique(normalize_phone(record.get(f), region) for f in PHONE_FIELDS)
    if not emails and not phones:
        return None
    external_ids = tuple(
        (str((ext.get("externalSource") or {}).get("id") or ""), str(ext.get("value") or ""))
        for ext in record.get("externalIds") or ()
        if isinstance(ext, Mapping)
    )
    return Candidate(
        id=str(record.get("id") or ""),
        first_name=_text(record.get("firstName")),
        last_name=_text(record.get("lastName")),
        emails=emails,
        phones=phones,
        organization_id=_text((record.get("externalOrganization") or {}).get("id")),
        external_ids=external_ids,
        type=_text(record.get("type")),
        modify_date=_text(record.get("modifyDate")),
        completeness=sum(1 for f in COMPLETENESS_FIELDS if record.get(f) not in (None, "", [], {})),
        has_source_id=source_id is not None and any(s == source_id for s, _ in external_ids),
    )


def normalize_email(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip().lower() or None


def normalize_phone(phone: Any, region: str) -> str | None:
    """A stored PhoneNumber's E.164 form, or None (see the module doc)."""
    if not isinstance(phone, Mapping):
        return None
    if isinstance(phone.get("e164"), str) and phone["e164"].strip():
        return str(phone["e164"]).strip()
    display = phone.get("display")
    if not isinstance(display, str):
        return None
    hint = phone.get("normalizationCountryCode")
    return phone_to_e164(display, hint.upper() if isinstance(hint, str) and len(hint) == 2 else region)


def fold_name(value: str) -> str:
    """A name as compared: accents dropped, case-folded, white space collapsed."""
    decomposed = unicodedata.normalize("NFKD", value)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())


def _country(record: Mapping[str, Any]) -> str | None:
    code = _text((record.get("address") or {}).get("countryCode")).upper()
    code = "GB" if code == "UK" else code
    return code if code in phonenumbers.SUPPORTED_REGIONS else None


def _unique(values: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
