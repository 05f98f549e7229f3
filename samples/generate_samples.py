"""Write the sample CSV files of this folder, deterministically (fixed seed, standard library only).

    python samples/generate_samples.py

- contacts.csv: the demo input, every row valid; accounts repeat with identical data on each of their rows.
- contacts-with-problems.csv: one row per kind of problem, documented row by row in README.md.
- dynamics-export.csv: a Microsoft Dynamics-style export, read with dynamics.mapping.toml.

Headers are the first (Genesys template) header of each field in ../schemas/*.toml, so they follow the
field specs. Names, companies, addresses and numbers are invented; phone numbers come from ranges set
aside for fiction where a country has them (555-01xx in North America, 020 7946 0xxx in London, ...).
"""

from __future__ import annotations

import csv
import random
import tomllib
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCHEMAS = HERE.parent / "schemas"
SEED = 20240531
CONTACT_ROWS = 240

CONTACT_FIELDS = (
    "externalId",
    "salutation",
    "firstName",
    "lastName",
    "title",
    "workPhone",
    "cellPhone",
    "workEmail",
    "personalEmail",
    "address.address1",
    "address.city",
    "address.state",
    "address.postalCode",
    "address.countryCode",
    "surveyOptOut",
)
ORGANIZATION_FIELDS = (
    "externalId",
    "name",
    "companyType",
    "industry",
    "phoneNumber",
    "address.address1",
    "address.city",
    "address.state",
    "address.postalCode",
    "address.countryCode",
    "employeeCount",
    "websites",
    "tags",
)
CUSTOM_HEADERS = ("custom:loyalty_tier_text", "custom:customer_since_date", "custom:vip_boolean")


def template_headers() -> dict[str, str]:
    """``kind.path`` -> the Genesys template header, read from the field specs."""
    headers = {}
    for name in ("contact", "organization"):
        spec = tomllib.loads((SCHEMAS / f"{name}.toml").read_text(encoding="utf-8"))
        for field in spec["field"]:
            headers[f"{spec['kind']}.{field['path']}"] = field["headers"][0]
    return headers


def layout() -> list[str]:
    headers = template_headers()
    return [
        *(headers[f"contact.{f}"] for f in CONTACT_FIELDS),
        *(headers[f"organization.{f}"] for f in ORGANIZATION_FIELDS),
        *CUSTOM_HEADERS,
    ]


@dataclass(frozen=True)
class Country:
    code: str
    cities: tuple[tuple[str, str, str], ...]  # city, state, postal code
    landline: str  # national format; {n} is a 2- to 4-digit serial
    mobile: str
    calling_code: str
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    streets: tuple[str, ...]


COUNTRIES = (
    Country(
        "US",
        (
            ("San Francisco", "CA", "94105"),
            ("New York", "NY", "10001"),
            ("Chicago", "IL", "60601"),
            ("Austin", "TX", "78701"),
            ("Seattle", "WA", "98101"),
        ),
        "({area}) 555-01{n:02d}",
        "({area}) 555-01{n:02d}",
        "1",
        ("James", "Maria", "Robert", "Aisha", "Michael", "Jennifer", "David", "Priya", "Carlos", "Emily"),
        ("Smith", "Johnson", "Garcia", "Nguyen", "Williams", "Patel", "Brown", "O'Connor", "Kim", "Lopez"),
        ("Market St", "Broadway", "Lake Shore Dr", "Congress Ave", "Pine St"),
    ),
    Country(
        "CA",
        (("Toronto", "ON", "M5H 2N2"), ("Vancouver", "BC", "V6B 1A1"), ("Montréal", "QC", "H2Y 1C6")),
        "({area}) 555-01{n:02d}",
        "({area}) 555-01{n:02d}",
        "1",
        ("Liam", "Chloé", "Noah", "Olivia", "Étienne", "Mei"),
        ("Tremblay", "Roy", "Martin", "Chen", "Wilson"),
        ("King St W", "Granville St", "Rue Saint-Paul"),
    ),
    Country(
        "GB",
        (("London", "", "EC1A 1BB"), ("Manchester", "", "M1 1AE"), ("Edinburgh", "", "EH1 1YZ")),
        "020 7946 0{n:03d}",
        "07700 900{n:03d}",
        "44",
        ("Oliver", "Amelia", "Harry", "Isla", "Siobhan", "Arjun"),
        ("Taylor", "Davies", "Evans", "Khan", "Wright"),
        ("High Street", "Deansgate", "Princes Street"),
    ),
    Country(
        "IE",
        (("Dublin", "", "D02 X285"), ("Cork", "", "T12 RW26")),
        "01 555 {n:04d}",
        "087 555 {n:04d}",
        "353",
        ("Aoife", "Seán", "Niamh", "Cian"),
        ("Murphy", "Kelly", "O'Brien", "Walsh"),
        ("Grafton Street", "Patrick Street"),
    ),
    Country(
        "DE",
        (("Berlin", "BE", "10115"), ("München", "BY", "80331"), ("Hamburg", "HH", "20095")),
        "030 2312{n:04d}",
        "0151 2345{n:04d}",
        "49",
        ("Lukas", "Sophie", "Jürgen", "Hannah", "Felix"),
        ("Müller", "Schmidt", "Schneider", "Weiß", "Becker"),
        ("Friedrichstraße", "Maximilianstraße", "Jungfernstieg"),
    ),
    Country(
        "FR",
        (("Paris", "", "75002"), ("Lyon", "", "69002")),
        "01 99 00 {n2} {n1}",
        "06 12 34 {n2} {n1}",
        "33",
        ("Camille", "Louis", "Léa", "Hugo", "Inès"),
        ("Dubois", "Lefèvre", "Moreau", "Girard"),
        ("Rue de Rivoli", "Rue de la République"),
    ),
    Country(
        "NL",
        (("Amsterdam", "NH", "1012 AB"), ("Rotterdam", "ZH", "3011 AD")),
        "020 555 {n:04d}",
        "06 1234 {n:04d}",
        "31",
        ("Daan", "Sanne", "Sem", "Femke"),
        ("de Jong", "Jansen", "van Dijk", "Bakker"),
        ("Damrak", "Coolsingel"),
    ),
    Country(
        "AU",
        (("Sydney", "NSW", "2000"), ("Melbourne", "VIC", "3000")),
        "(02) 5550 {n:04d}",
        "0491 570 {n:03d}",
        "61",
        ("Jack", "Charlotte", "Mia", "Thomas", "Zoë"),
        ("Wilson", "Thompson", "Anderson", "Ryan"),
        ("George St", "Collins St"),
    ),
    Country(
        "ES",
        (("Madrid", "MD", "28013"), ("Barcelona", "CT", "08002")),
        "91 123 {n2} {n1}",
        "612 34 {n2} {n1}",
        "34",
        ("José", "Lucía", "Javier", "Carmen"),
        ("García", "Fernández", "Martínez", "Sánchez"),
        ("Calle Mayor", "Passeig de Gràcia"),
    ),
    Country(
        "JP",
        (("Tokyo", "", "100-0005"), ("Osaka", "", "530-0001")),
        "03-1234-{n:04d}",
        "090-1234-{n:04d}",
        "81",
        ("Haruto", "Yui", "Sota", "Hina"),
        ("Sato", "Suzuki", "Takahashi", "Tanaka"),
        ("Marunouchi 1-1", "Umeda 2-4"),
    ),
)
NANP_AREAS = {"US": ("212", "415", "312", "512", "206"), "CA": ("416", "604", "514")}

COMPANY_WORDS = (
    ("Northwind", "Traders"),
    ("Harbor", "Logistics"),
    ("Bluebird", "Analytics"),
    ("Granite", "Insurance"),
    ("Cedar", "Health"),
    ("Lumen", "Energy"),
    ("Orchard", "Foods"),
    ("Summit", "Outfitters"),
    ("Riverbend", "Bank"),
    ("Kestrel", "Aerospace"),
    ("Meridian", "Hotels"),
    ("Tidewater", "Shipping"),
    ("Copperleaf", "Software"),
    ("Aurora", "Telecom"),
    ("Silverline", "Rail"),
    ("Juniper", "Pharma"),
    ("Fjord", "Seafood"),
    ("Beacon", "Media"),
    ("Redwood", "Furniture"),
    ("Quartz", "Labs"),
    ("Sierra", "Motors"),
    ("Atlas", "Freight"),
    ("Willow", "Clinics"),
    ("Nimbus", "Cloud"),
    ("Ember", "Coffee"),
    ("Pioneer", "Farms"),
    ("Coral", "Resorts"),
    ("Vanguard", "Security"),
    ("Maple", "Education"),
    ("Falcon", "Couriers"),
    ("Horizon", "Solar"),
    ("Saffron", "Kitchens"),
    ("Osprey", "Marine"),
    ("Lighthouse", "Legal"),
    ("Evergreen", "Garden Supply"),
    ("Polaris", "Optics"),
    ("Tandem", "Bikes"),
    ("Mosaic", "Architects"),
    ("Brightwater", "Utilities"),
    ("Keystone", "Builders"),
    ("Sable", "Fashion"),
    ("Indigo", "Printing"),
    ("Wren", "Books"),
    ("Zephyr", "Airlines"),
)
INDUSTRIES = (
    "Retail",
    "Logistics",
    "Financial Services",
    "Healthcare",
    "Energy",
    "Manufacturing",
    "Hospitality",
    "Technology",
    "Telecommunications",
    "Education",
    "Professional Services",
)
COMPANY_TYPES = ("Customer", "Prospect", "Partner", "Reseller")
SUFFIXES = {
    "US": "Inc.",
    "CA": "Inc.",
    "GB": "Ltd",
    "IE": "Ltd",
    "DE": "GmbH",
    "FR": "SAS",
    "NL": "B.V.",
    "AU": "Pty Ltd",
    "ES": "S.L.",
    "JP": "K.K.",
}
TITLES = (
    "Account Manager",
    "Head of Procurement",
    "Operations Director",
    "Customer Service Lead",
    "IT Manager",
    "Finance Controller",
    "Chief Executive Officer",
    "Office Manager",
    "Buyer",
    "VP, Sales",
)
SALUTATIONS = ("", "", "Mr.", "Ms.", "Dr.", "Mx.")
TIERS = ("Bronze", "Silver", "Gold", "Platinum")
TAGS = ("key-account", "emea", "americas", "apac", "renewal-2025", "newsletter", "high-touch")
PERSONAL_DOMAINS = ("mail.example.org", "post.example.net")


def ascii_slug(text: str) -> str:
    text = text.replace("ø", "o").replace("ß", "ss").replace("æ", "ae")
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


class Numbers:
    """Phone numbers in national or international form, never the same serial twice per pattern."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: dict[tuple[str, str], int] = {}

    def national(self, country: Country, pattern: str) -> str:
        area = self.rng.choice(NANP_AREAS.get(country.code, ("",)))
        serial = self.used.get((pattern, area), 0)
        self.used[pattern, area] = serial + 1
        n = serial if area else 10 + serial
        if area and n > 99:
            raise RuntimeError(f"more than 100 numbers asked of the fictional range ({area}) 555-01xx")
        return pattern.format(area=area, n=n, n2=f"{n // 100:02d}", n1=f"{n % 100:02d}")

    def any_form(self, country: Country, pattern: str) -> tuple[str, bool]:
        """A number and whether it needs the country column to be read (national form)."""
        number = self.national(country, pattern)
        roll = self.rng.random()
        if roll < 0.55:
            return number, True
        international = "+" + country.calling_code + " " + number.lstrip("0").replace("(0", "(")
        if country.calling_code == "1":
            international = "+1 " + number
        if roll < 0.75:
            return international, False
        if roll < 0.88:
            return "+" + "".join(ch for ch in international if ch.isdigit()), False
        return f"{number} ext. {self.rng.randint(10, 4999)}", True


@dataclass(frozen=True)
class Account:
    cells: dict[str, str]
    country: Country
    domain: str


def make_accounts(rng: random.Random, numbers: Numbers) -> list[Account]:
    accounts = []
    for i, (word, trade) in enumerate(COMPANY_WORDS):
        country = COUNTRIES[i % len(COUNTRIES)]
        city, state, postal = rng.choice(country.cities)
        name = f"{word} {trade} {SUFFIXES[country.code]}"
        if i % 11 == 3:
            name = f"{word}, {trade} & Partners"  # a comma inside a quoted cell
        domain = f"{ascii_slug(word)}{ascii_slug(trade)}.example.com"
        phone, _ = numbers.any_form(country, country.landline)
        cells = {
            "externalId": f"ACC-{1001 + i}",
            "name": name,
            "companyType": rng.choice(COMPANY_TYPES),
            "industry": rng.choice(INDUSTRIES),
            "phoneNumber": phone,
            "address.address1": f"{rng.randint(1, 480)} {rng.choice(country.streets)}",
            "address.city": city,
            "address.state": state,
            "address.postalCode": postal,
            "address.countryCode": country.code,
            "employeeCount": str(rng.choice((12, 45, 180, 350, 1200, 5400, 23000))),
            "websites": f"https://www.{domain}",
            "tags": ";".join(sorted(rng.sample(TAGS, rng.randint(0, 3)))),
        }
        accounts.append(Account(cells, country, domain))
    return accounts


def make_contact(rng: random.Random, numbers: Numbers, account: Account, serial: int) -> dict[str, str]:
    # One contact in eight works from another country than their company: their phones and address follow
    # their own country, which is why each row carries its own Contact Country Code.
    country = rng.choice(COUNTRIES) if rng.random() < 0.125 else account.country
    first, last = rng.choice(country.first_names), rng.choice(country.last_names)
    city, state, postal = rng.choice(country.cities)
    work, _ = numbers.any_form(country, country.landline)
    cell = numbers.any_form(country, country.mobile)[0] if rng.random() < 0.7 else ""
    local = f"{ascii_slug(first)}.{ascii_slug(last)}{serial % 97}"
    domain = account.domain if rng.random() < 0.8 else account.domain.title()  # mixed-case domains
    opt_out = rng.choice(("", "", "", "no", "No", "yes", "FALSE"))
    since = date(2012, 1, 1) + timedelta(days=rng.randint(0, 4700))
    contact = {
        "externalId": f"C-{100000 + serial}",
        "salutation": rng.choice(SALUTATIONS),
        "firstName": first,
        "lastName": last,
        "title": rng.choice(TITLES),
        "workPhone": work,
        "cellPhone": cell,
        "workEmail": f"{local}@{domain}",
        "personalEmail": f"{local}@{rng.choice(PERSONAL_DOMAINS)}" if rng.random() < 0.3 else "",
        "address.address1": f"{rng.randint(1, 480)} {rng.choice(country.streets)}",
        "address.city": city,
        "address.state": state,
        "address.postalCode": postal,
        "address.countryCode": country.code,
        "surveyOptOut": opt_out,
    }
    custom = {
        "custom:loyalty_tier_text": rng.choice(TIERS) if rng.random() < 0.8 else "",
        "custom:customer_since_date": since.isoformat() if rng.random() < 0.85 else "",
        "custom:vip_boolean": rng.choice(("yes", "no", "no", "", "true", "N")),
    }
    return {**{f"contact.{k}": v for k, v in contact.items()}, **custom}


def contact_rows(rng: random.Random) -> list[dict[str, str]]:
    """Every account gets 2 to 8 contacts; rows are shuffled, as a CRM export rarely sorts by account."""
    numbers = Numbers(rng)
    rows = []
    serial = 1
    for account in make_accounts(rng, numbers):
        for _ in range(rng.randint(2, 8)):
            cells = make_contact(rng, numbers, account, serial)
            cells.update({f"organization.{k}": v for k, v in account.cells.items()})
            rows.append(cells)
            serial += 1
    rng.shuffle(rows)
    return rows


def by_header(rows: list[dict[str, str]]) -> list[list[str]]:
    """Rows keyed by ``kind.path`` (or a custom header) as lists in the template layout."""
    columns = {header: column for column, header in template_headers().items()}
    return [[row.get(columns.get(h, h), "") for h in layout()] for row in rows]


def write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


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


def main() -> None:
    rng = random.Random(SEED)
    write(HERE / "contacts.csv", layout(), by_header(contact_rows(rng)))
    problem_layout = [*layout(), EXTERNAL_URL]
    columns = {header: column for column, header in template_headers().items()}
    write(
        HERE / "contacts-with-problems.csv",
        problem_layout,
        [[row.get(columns.get(h, h), row.get(h, "")) for h in problem_layout] for row in problem_rows()],
    )
    write(HERE / "dynamics-export.csv", list(DYNAMICS_HEADERS), dynamics_rows(rng))


if __name__ == "__main__":
    main()
