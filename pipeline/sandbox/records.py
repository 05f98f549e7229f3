"""What the two record kinds are made of: field catalogue, phone parsing, identifier claims, final shape.

Records are kept exactly as the API returns them (camelCase dicts), so the store can hand them out as-is.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import phonenumbers

from pipeline.sandbox import phones

API = "/api/v2/externalcontacts"
DIVISIONS_URI = "/api/v2/authorization/divisions"

# Identifier types of the API (ContactIdentifier.type); organizations accept only ExternalId.
IDENTIFIER_TYPES = frozenset(
    {
        "SocialLine",
        "SocialFacebook",
        "SocialTwitter",
        "SocialWhatsapp",
        "SocialWhatsappBsuid",
        "SocialInstagram",
        "SocialInstagramHandle",
        "AppleOpaqueId",
        "Email",
        "Phone",
        "Cookie",
        "ExternalId",
    }
)

ADDRESS_LIMITS = {
    "address1": 200, "address2": 200, "city": 100, "state": 50, "postalCode": 25, "countryCode": 25,
}  # fmt: skip
EXTERNAL_ID_VALUE_MAX = 255
IDENTIFIER_VALUE_MAX = 255
PHONE_DISPLAY_MAX = 512
EMAIL_MAX = 256
NESTED = ("address", "customFields")  # objects whose members are combined one by one
DEFAULT_PHONE_REGION = "US"  # the real API assumes +1 without a country hint


@dataclass(frozen=True)
class Kind:
    """The catalogue of one record kind: which fields exist and how each is checked and combined."""

    name: str  # "contact" | "organization"
    collection: str  # "contacts" | "organizations"
    payload_key: str  # the record's key in an enrich operation
    actions: tuple[str, ...]
    fields: tuple[str, ...]  # writable fields, in response order
    texts: Mapping[str, int]  # field -> max length
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    urls: Mapping[str, int] = field(default_factory=dict)
    booleans: tuple[str, ...] = ()
    integers: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    arrays: Mapping[str, int] = field(default_factory=dict)  # field -> max items
    identifier_types: frozenset[str] = IDENTIFIER_TYPES

    @property
    def uri(self) -> str:
        return f"{API}/{self.collection}"

    @property
    def label(self) -> str:
        return "Contact" if self.name == "contact" else "External organization"


# fmt: off
CONTACT_FIELDS = (
    "firstName", "middleName", "lastName", "salutation", "title",
    "workPhone", "cellPhone", "homePhone", "otherPhone", "workEmail", "personalEmail", "otherEmail",
    "address", "twitterId", "lineId", "whatsAppId", "facebookId", "instagramId", "appleOpaqueIds",
    "externalIds", "externalOrganization", "surveyOptOut", "externalSystemUrl", "schema", "customFields",
)
ORGANIZATION_FIELDS = (
    "name", "companyType", "industry", "address", "phoneNumber", "faxNumber", "employeeCount", "revenue",
    "tags", "websites", "tickers", "twitterId", "externalSystemUrl", "externalIds", "schema",
    "customFields",
)
# fmt: on

CONTACT = Kind(
    name="contact",
    collection="contacts",
    payload_key="contact",
    actions=("Insert", "Update", "Upsert", "Merge"),
    fields=CONTACT_FIELDS,
    texts=dict.fromkeys(("firstName", "middleName", "lastName", "salutation", "title"), 1000),
    emails=("workEmail", "personalEmail", "otherEmail"),
    phones=("workPhone", "cellPhone", "homePhone", "otherPhone"),
    urls={"externalSystemUrl": 1000},
    booleans=("surveyOptOut",),
    arrays={"externalIds": 10, "appleOpaqueIds": 100},
)

ORGANIZATION = Kind(
    name="organization",
    collection="organizations",
    payload_key="externalOrganization",
    actions=("Insert", "Update", "Upsert"),
    fields=ORGANIZATION_FIELDS,
    texts={"name": 1000, "companyType": 1000, "industry": 1000},
    phones=("phoneNumber", "faxNumber"),
    urls={"externalSystemUrl": 1000},
    integers={"employeeCount": (0, 2**31 - 1), "revenue": (0, 2**63 - 1)},
    arrays={"externalIds": 10, "tags": 100, "websites": 100, "tickers": 100},
    identifier_types=frozenset({"ExternalId"}),
)

KINDS = {CONTACT.collection: CONTACT, ORGANIZATION.collection: ORGANIZATION}


def parse_phone(phone: Mapping[str, Any]) -> dict[str, Any]:
    """A PhoneNumber with ``e164`` and ``countryCode`` set by the server when ``display`` parses.

    Numbers without a leading ``+`` are read in ``normalizationCountryCode`` (default US, like the real
    API); numbers that do not parse keep only what was sent.
    """
    out = {k: v for k, v in phone.items() if k not in ("e164", "countryCode") and v is not None}
    text = phone.get("display") or phone.get("e164")
    if not text:
        return out
    out.setdefault("display", text)
    region = (phone.get("normalizationCountryCode") or DEFAULT_PHONE_REGION).upper()
    if (plus := phones.read_plus(text)) is not None:
        if plus.e164 is not None:
            out["e164"] = plus.e164
            out["countryCode"] = phones.region_code(plus) or region
        return out
    number = _possible_number(text, region)
    if number is not None:
        out["e164"] = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        out["countryCode"] = phonenumbers.region_code_for_number(number) or region
    return out


@functools.lru_cache(maxsize=16_384)  # a stored phone's claim key is asked for on every write of it
def e164(value: str) -> str | None:
    """The E.164 form of a Phone identifier value (which must carry its ``+country`` prefix)."""
    if (plus := phones.read_plus(value)) is not None:
        return plus.e164
    number = _possible_number(value, None)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if number else None


# A written contact's phones are parsed once as data and again, as identifiers, each time a claim key is
# computed (its claims, the claims it takes, the claims it drops): remembering the recent parses saves
# most of that. A number written with its ``+country`` prefix parses the same in every region, so it is
# remembered once whatever the region.
@functools.lru_cache(maxsize=16_384)
def _possible(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_possible_number(number) else None


def _possible_number(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    """``text`` parsed in ``region``, when it is a possible number (shared: never change it)."""
    return _possible(text, None if text.startswith("+") else region)


# A claim key: (collection, divisionId, identifier type, externalSource id or "", normalized value).
ClaimKey = tuple[str, str, str, str, str]


def claim_key(kind: Kind, division_id: str, id_type: str, value: str, source_id: str = "") -> ClaimKey | None:
    """The normalized key an identifier is claimed under, or None when it cannot be claimed."""
    if id_type == "Email":
        return (kind.collection, division_id, id_type, "", value.strip().lower())
    if id_type == "Phone":
        number = e164(value)
        return (kind.collection, division_id, id_type, "", number) if number else None
    if id_type == "ExternalId":
        return (kind.collection, division_id, id_type, source_id, value)
    if id_type in kind.identifier_types:
        return (kind.collection, division_id, id_type, "", value)
    return None


def identifier_claim_key(kind: Kind, identifier: Mapping[str, Any]) -> ClaimKey | None:
    """The claim key of a stored ``identifiers`` entry."""
    source_id = (identifier.get("externalSource") or {}).get("id", "")
    return claim_key(kind, identifier["division"]["id"], identifier["type"], identifier["value"], source_id)


class Claim(NamedTuple):  # a tuple: made for every identifier of every write, thrice as fast as a dataclass
    key: ClaimKey
    field: str  # where in the record the claim comes from, e.g. "externalIds[0].value"
    value: str  # as stored


def record_claims(kind: Kind, record: Mapping[str, Any], division_id: str) -> list[Claim]:
    """Every identifier the record's data offers to claim: its externalIds, and for contacts its emails
    and phones. Which of them the record really holds is decided by enrich (first come, first claimed)."""
    claims: list[Claim] = []
    for i, ext in enumerate(record.get("externalIds") or ()):
        key = claim_key(kind, division_id, "ExternalId", ext["value"], ext["externalSource"]["id"])
        claims.append(Claim(key, f"externalIds[{i}].value", ext["value"]))  # type: ignore[arg-type]
    if kind is CONTACT:
        for name in kind.emails:
            if record.get(name):
                key = claim_key(kind, division_id, "Email", record[name])
                claims.append(Claim(key, name, record[name]))  # type: ignore[arg-type]
        for name in kind.phones:
            number = (record.get(name) or {}).get("e164")
            if number:
                claims.append(Claim((kind.collection, division_id, "Phone", "", number), name, number))
    return claims


def division_ref(division: Mapping[str, Any]) -> dict[str, str]:
    return {"id": division["id"], "name": division["name"], "selfUri": f"{DIVISIONS_URI}/{division['id']}"}


def source_ref(source_id: str) -> dict[str, str]:
    return {"id": source_id, "selfUri": f"{API}/externalsources/{source_id}"}


def finalize(
    kind: Kind,
    fields: Mapping[str, Any],
    *,
    record_id: str,
    division: Mapping[str, Any],
    create_date: str,
    modify_date: str,
    extra: Mapping[str, Any] | None = None,
    identifiers: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The record as stored: id and division first, then fields, then read-only parts.

    ``identifiers`` are the claims the record holds; by default every identifier its data offers (what
    a record written alone into an empty division would claim).
    """
    record: dict[str, Any] = {"id": record_id}
    if kind is ORGANIZATION and "name" in fields:
        record["name"] = fields["name"]
    record["division"] = division_ref(division)
    record.update({k: fields[k] for k in kind.fields if k in fields and k not in record})
    if identifiers is None:
        identifiers = [
            identifier(c.key, record["division"], create_date)
            for c in record_claims(kind, record, division["id"])
        ]
    record["identifiers"] = identifiers
    if kind is CONTACT:
        record["type"] = "Curated"
    record["createDate"] = create_date
    record["modifyDate"] = modify_date
    record.update(extra or {})
    record["selfUri"] = f"{kind.uri}/{record_id}"
    return record


def identifier(key: ClaimKey, division: Mapping[str, Any], date_created: str) -> dict[str, Any]:
    """A ``ContactIdentifier`` / ``ExternalOrganizationIdentifier`` for a claim key."""
    _, _, id_type, source_id, value = key
    out: dict[str, Any] = {"division": dict(division), "type": id_type, "value": value}
    out["dateCreated"] = date_created
    if source_id:
        out["externalSource"] = source_ref(source_id)
    return out


def writable(kind: Kind, record: Mapping[str, Any]) -> dict[str, Any]:
    """Only the writable fields of a stored record (what field rules combine)."""
    return {k: record[k] for k in kind.fields if k in record}
