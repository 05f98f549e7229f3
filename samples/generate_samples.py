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
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from problem_samples import DYNAMICS_HEADERS, EXTERNAL_URL, dynamics_rows, problem_rows
from sample_data import (
    COMPANY_TYPES,
    COMPANY_WORDS,
    COUNTRIES,
    INDUSTRIES,
    NANP_AREAS,
    PERSONAL_DOMAINS,
    SALUTATIONS,
    SUFFIXES,
    TAGS,
    TIERS,
    TITLES,
    Country,
    ascii_slug,
)

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
