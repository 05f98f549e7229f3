"""Rows of contacts-with-problems.csv (one per kind of problem, README.md explains each) and of the
Microsoft Dynamics-style dynamics-export.csv. Used by generate_samples.py."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta

from sample_data import COMPANY_WORDS, COUNTRIES, NANP_AREAS, TIERS, TITLES, ascii_slug

# Rows of contacts-with-problems.csv in order (the first is spreadsheet row 2); README.md explains each.
EXTERNAL_URL = "Contact External System URL"
HARBOR = {
    "organization.externalId": "ACC-2001",
    "organization.name": "Harbor Logistics Ltd",
    "organization.industry": "Logistics",
    "organization.phoneNumber": "020 7946 0500",
    "organization.address.city": "London",
    "organization.address.countryCode": "GB",
    "organization.employeeCount": "350",
}


def _person(serial: int, first: str, last: str, **extra: str) -> dict[str, str]:
    return {
        "contact.externalId": f"C-9000{serial:02d}",
        "contact.firstName": first,
        "contact.lastName": last,
        "contact.title": "Account Manager",
        "contact.workPhone": f"020 7946 0{serial:03d}",
        "contact.workEmail": f"{first.lower()}.{last.lower()}@harborlogistics.example.com",
        "contact.address.countryCode": "GB",
        **extra,
    }


def problem_rows() -> list[dict[str, str]]:
    bluefin = {"organization.externalId": "ACC-2004", "organization.address.countryCode": "US"}
    quayside = {
        "organization.externalId": "ACC-2005",
        "organization.name": "Quayside Books Ltd",
        "organization.address.countryCode": "IE",
        "organization.websites": "https://www.quaysidebooks.example.com",
    }
    same_person = _person(16, "Priya", "Shah", **{"contact.title": "Buyer"})
    return [
        {**_person(2, "Jane", "Doe"), **HARBOR},
        {**_person(3, "Tom", "Baker"), "contact.externalId": "", **HARBOR},
        {
            **_person(4, "Mei", "Chen"),
            "organization.externalId": "ACC-2002",
            "organization.industry": "Retail",
        },
        {
            **_person(
                5, "Liam", "Walsh", **{"contact.address.postalCode": "SW1A 1AA, LONDON, UNITED KINGDOM"}
            ),
            **HARBOR,
        },
        {
            **_person(6, "Rosa", "Diaz", **{"contact.workEmail": "rosa.diaz(at)harborlogistics.example.com"}),
            **HARBOR,
        },
        {**_person(7, "Ken", "Adams", **{"contact.workPhone": "call reception"}), **HARBOR},
        {**_person(8, "Ada", "Osei", **{EXTERNAL_URL: "ftp://crm.example.com/contacts/900008"}), **HARBOR},
        {
            **_person(9, "Noah", "Berg"),
            "organization.externalId": "ACC-2003",
            "organization.name": "Fjordline Seafood AS",
            "organization.employeeCount": "about 50",
        },
        {**_person(10, "Sara", "Lind", **{"contact.surveyOptOut": "maybe"}), **HARBOR},
        {**_person(11, "Omar", "Haddad", **{"custom:customer_since_date": "last spring"}), **HARBOR},
        {**_person(12, "Eva", "Novak"), **bluefin, "organization.name": "Blue Fin Foods"},
        {**_person(13, "Ian", "Moss"), **bluefin, "organization.name": "BlueFin Foods Ltd"},
        {
            **_person(
                14,
                "Aoife",
                "Kelly",
                **{"contact.address.countryCode": "IE", "contact.workPhone": "01 555 0114"},
            ),
            **quayside,
        },
        {
            **_person(
                15,
                "Cian",
                "Ryan",
                **{"contact.address.countryCode": "IE", "contact.workPhone": "01 555 0115"},
            ),
            **quayside,
        },
        {**same_person, **HARBOR},
        {**same_person, **HARBOR},
        {**_person(18, "Lena", "Fischer"), **HARBOR},
        {
            **_person(
                18,
                "Lena",
                "Fischer",
                **{
                    "contact.title": "Head of Procurement",
                    "contact.workEmail": "l.fischer@harborlogistics.example.com",
                },
            ),
            **HARBOR,
        },
        {
            **_person(
                20, "Max", "Power", **{"contact.title": '=HYPERLINK("http://evil.example.com","Click me")'}
            ),
            **HARBOR,
        },
        {
            "organization.externalId": "ACC-2006",
            "organization.name": "Copperleaf Software Inc.",
            "organization.phoneNumber": "(415) 555-0166",
            "organization.address.countryCode": "US",
        },
        {
            **_person(
                22,
                "Zoe",
                "Grant",
                **{"contact.workPhone": "+1 212 555 0122 ext. 7", "contact.address.countryCode": "US"},
            )
        },
        {},
        *(
            {**_person(serial, first, "Patel", **SHARED_FAMILY_CHANNELS), **HARBOR}
            for serial, first in ((24, "Ravi"), (25, "Anya"))
        ),
    ]


# Two contacts of one family share a personal e-mail and a mobile: valid, with a warning that only the
# first one written will hold them as identifiers in Genesys.
SHARED_FAMILY_CHANNELS = {
    "contact.personalEmail": "patel.family@example.com",
    "contact.cellPhone": "07700 900024",
}


# Microsoft Dynamics 365 contact export: its own headers, GUID keys, E.164-ish phones, unmapped columns.
DYNAMICS_HEADERS = (
    "contactid",
    "fullname",
    "firstname",
    "lastname",
    "jobtitle",
    "emailaddress1",
    "telephone1",
    "mobilephone",
    "address1_city",
    "parentcustomerid",
    "parentcustomeridname",
    "new_loyaltytier",
    "statuscode",
    "createdon",
)


def dynamics_rows(rng: random.Random) -> list[list[str]]:
    us = COUNTRIES[0]
    parents = [
        (str(uuid.UUID(int=rng.getrandbits(128), version=4)), f"{word} {trade} Inc.")
        for word, trade in rng.sample(COMPANY_WORDS, 5)
    ]
    rows = []
    for i in range(24):
        parent_id, parent_name = parents[i % len(parents)]
        first, last = rng.choice(us.first_names), rng.choice(us.last_names)
        city = rng.choice(us.cities)[0]
        slug = ascii_slug(parent_name.removesuffix(" Inc."))
        created = date(2021, 1, 4) + timedelta(days=rng.randint(0, 1200))
        rows.append(
            [
                str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                f"{first} {last}",
                first,
                last,
                rng.choice(TITLES),
                f"{ascii_slug(first)}.{ascii_slug(last)}{i}@{slug}.example.com",
                f"+1 {rng.choice(NANP_AREAS['US'])}-555-01{i:02d}",
                f"({rng.choice(NANP_AREAS['US'])}) 555-01{50 + i:02d}" if i % 3 else "",
                city,
                parent_id,
                parent_name,
                rng.choice(TIERS),
                "Active",
                f"{created.isoformat()}T09:{i:02d}:00Z",
            ]
        )
    return rows
