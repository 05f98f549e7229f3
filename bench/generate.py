"""Generate a realistic contacts CSV in the Genesys Bulk CSV Import template layout, for the benchmark.

    python bench/generate.py --rows 100000 --seed 7 --out bench/.data/contacts-100000-s7.csv

What makes it realistic enough to measure with:

- Faker in several locales, so names, streets, cities, postcodes and phones come from many countries; each
  contact's ``Contact Country Code`` is its locale's country, which is what normalization reads national
  numbers in.
- Every phone is distinct (a locale's own Faker number pattern with random subscriber digits), because the
  cost of normalization grows with the number of *distinct* numbers; a small pool repeated would make the
  local stage look faster than it is. Mostly national formats, about one in five strict E.164, a few with
  an extension.
- Several contacts per account (1 to 12, about 5 on average), rows of one account scattered over the file,
  and the account's columns identical on each of its rows (rows that disagree would be conflicts).
- A small share of blemishes a real export has (a work email written ``name at domain``): those rows are
  reported invalid and are part of what the local stage handles.

Reproducible for a seed only with a fixed ``PYTHONHASHSEED`` (``make bench`` sets 0): some Faker locales
build their lists from sets (it_IT cities, for one), whose order follows the hash seed.

Speed: Faker is called only to fill per-locale pools (a few thousand values each); rows are composed from
the pools with one seeded :class:`random.Random`, about 100k rows a second, so a million rows take seconds
rather than the minutes a Faker call per cell would.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import random
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import phonenumbers
from faker import Faker

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(__file__).resolve().parent / ".data"
# Bumped whenever the output for a given seed changes, so cached files are not reused across versions.
GENERATOR_VERSION = 3

# locale -> (ISO country, relative weight in the file).
LOCALES: dict[str, tuple[str, int]] = {
    "en_US": ("US", 30),
    "en_GB": ("GB", 12),
    "de_DE": ("DE", 10),
    "fr_FR": ("FR", 8),
    "es_ES": ("ES", 6),
    "it_IT": ("IT", 5),
    "nl_NL": ("NL", 4),
    "en_CA": ("CA", 5),
    "en_AU": ("AU", 5),
    "ja_JP": ("JP", 5),
    "pt_BR": ("BR", 5),
    "pl_PL": ("PL", 3),
    "sv_SE": ("SE", 2),
}
# Locales whose Faker provider has meaningful state abbreviations.
STATE_LOCALES = {"en_US", "en_CA", "en_AU"}
POOL_SIZE = 1500
PHONE_TEMPLATES = 400
# Random trailing digits per number: a million endings per template keeps numbers distinct (the sandbox,
# like Genesys, lets only one record claim a phone number).
SUBSCRIBER_DIGITS = 6
E164_SHARE = 0.2
EXTENSION_SHARE = 0.03
CONTACTS_PER_ACCOUNT = range(1, 13)
CONTACTS_PER_ACCOUNT_WEIGHTS = (14, 12, 12, 11, 10, 9, 8, 7, 6, 5, 4, 2)  # mean about 5
BLEMISH_SHARE = 0.002

SALUTATIONS = ("Mr.", "Ms.", "Mrs.", "Dr.", "Mx.", "Prof.")
COMPANY_TYPES = ("Customer", "Prospect", "Partner", "Reseller", "Vendor")
INDUSTRIES = (
    "Banking",
    "Insurance",
    "Retail",
    "Manufacturing",
    "Telecommunications",
    "Healthcare",
    "Logistics",
    "Energy",
    "Software",
    "Hospitality",
)
TAGS = ("key-account", "newsletter", "apac", "emea", "high-touch", "renewal-2025", "churn-risk")
LOYALTY_TIERS = ("Bronze", "Silver", "Gold", "Platinum")


def _sample_layout() -> list[str]:
    """The header row of samples/contacts.csv: the benchmark data has the demo file's columns."""
    with (ROOT / "samples" / "contacts.csv").open(encoding="utf-8", newline="") as handle:
        return next(csv.reader(handle))


CUSTOM_HEADERS = tuple(h for h in _sample_layout() if h.startswith("custom:"))


def template_headers() -> list[str]:
    """The Genesys template headers of the sample layout (its columns without the custom fields)."""
    return [h for h in _sample_layout() if not h.startswith("custom:")]


def slug(text: str) -> str:
    """ASCII letters and digits only, for email local parts and domains."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]", "", folded.lower())


@dataclass(frozen=True)
class PhoneTemplate:
    """A locale's number with its last six digits left open, in its Faker format and in E.164."""

    national: tuple[str, ...]  # the text around the last six digits (seven parts)
    e164: str  # everything but the last six digits


_EXTENSION = re.compile(r"\s*(?:x|ext\.?)\s*\d+$")


def _phone_template(number: str, country: str) -> PhoneTemplate | None:
    number = _EXTENSION.sub("", number)
    positions = [i for i, ch in enumerate(number) if ch.isdigit()][-SUBSCRIBER_DIGITS:]
    if len(positions) < SUBSCRIBER_DIGITS:
        return None
    try:
        parsed = phonenumbers.parse(number, country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if not e164.endswith("".join(number[i] for i in positions)):
        return None
    bounds = [-1, *positions, len(number)]
    parts = tuple(number[a + 1 : b] for a, b in itertools.pairwise(bounds))
    return PhoneTemplate(parts, e164[:-SUBSCRIBER_DIGITS])


@dataclass(frozen=True)
class LocalePools:
    country: str
    first_names: list[str]
    last_names: list[str]
    titles: list[str]
    streets: list[str]
    cities: list[str]
    postcodes: list[str]
    states: list[str]
    companies: list[str]
    mail_domains: list[str]
    phones: list[PhoneTemplate]


def _states(fake: Faker, locale: str) -> list[str]:
    if locale not in STATE_LOCALES:
        return [""]
    abbreviation = fake.province_abbr if locale == "en_CA" else fake.state_abbr
    return [abbreviation() for _ in range(50)]


def _pools(locale: str, country: str, seed: int) -> LocalePools:
    fake = Faker(locale)
    fake.seed_instance(seed)
    romanized = locale == "ja_JP"  # Western CRMs mostly hold Japanese names in Latin script
    first = fake.first_romanized_name if romanized else fake.first_name
    last = fake.last_romanized_name if romanized else fake.last_name
    phones = [_phone_template(fake.phone_number(), country) for _ in range(PHONE_TEMPLATES)]
    return LocalePools(
        country=country,
        first_names=[first() for _ in range(POOL_SIZE)],
        last_names=[last() for _ in range(POOL_SIZE)],
        titles=[fake.job()[:100] for _ in range(POOL_SIZE // 3)],
        streets=[fake.street_address().replace("\n", " ") for _ in range(POOL_SIZE)],
        cities=[fake.city() for _ in range(POOL_SIZE // 2)],
        postcodes=[fake.postcode() for _ in range(POOL_SIZE)],
        states=_states(fake, locale),
        companies=[fake.company() for _ in range(POOL_SIZE)],
        mail_domains=sorted({fake.free_email_domain() for _ in range(50)}),
        phones=[p for p in phones if p is not None],
    )


class Composer:
    """Rows from the pools; every random choice comes from one seeded generator."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.locales = list(LOCALES)
        self.weights = [LOCALES[loc][1] for loc in self.locales]
        self.pools = {loc: _pools(loc, country, seed) for loc, (country, _) in LOCALES.items()}

    def locale(self) -> str:
        return self.rng.choices(self.locales, self.weights)[0]

    def phone(self, pools: LocalePools, *, extension: bool = False) -> str:
        rng = self.rng
        template = rng.choice(pools.phones)
        digits = f"{rng.randrange(10**SUBSCRIBER_DIGITS):0{SUBSCRIBER_DIGITS}d}"
        if rng.random() < E164_SHARE:
            return template.e164 + digits
        parts = template.national
        number = "".join(part + digit for part, digit in zip(parts, digits, strict=False)) + parts[-1]
        if extension and rng.random() < EXTENSION_SHARE:
            number += f" ext. {rng.randrange(10, 9999)}"
        return number

    def account(self, number: int) -> tuple[list[str], str, str]:
        """The account's columns, its locale and its mail domain."""
        rng = self.rng
        locale = self.locale()
        p = self.pools[locale]
        company = rng.choice(p.companies)
        domain = f"{slug(company)[:40] or 'company'}{number}.example.com"
        employees = str(rng.choice((5, 12, 40, 120, 350, 1200, 5400, 25000))) if rng.random() < 0.6 else ""
        tags = ";".join(rng.sample(TAGS, rng.choice((0, 0, 1, 1, 2, 3))))
        columns = [
            f"ACC-{number:07d}",
            company,
            rng.choice(COMPANY_TYPES),
            rng.choice(INDUSTRIES),
            self.phone(p),
            rng.choice(p.streets),
            rng.choice(p.cities),
            rng.choice(p.states),
            rng.choice(p.postcodes),
            p.country,
            employees,
            f"https://www.{domain}" if rng.random() < 0.8 else "",
            tags,
        ]
        return columns, locale, domain

    def contact(self, number: int, locale: str, domain: str) -> list[str]:
        rng = self.rng
        if rng.random() > 0.9:  # one in ten works away from the account's country
            locale = self.locale()
        p = self.pools[locale]
        first, last = rng.choice(p.first_names), rng.choice(p.last_names)
        local = f"{slug(first) or 'contact'}.{slug(last) or 'x'}{number}"
        work_email = f"{local}@{domain}"
        personal = f"{local}@{rng.choice(p.mail_domains)}" if rng.random() < 0.3 else ""
        if rng.random() < BLEMISH_SHARE:
            work_email = work_email.replace("@", " at ")
        has_address = rng.random() < 0.6
        return [
            f"C-{number:08d}",
            rng.choice(SALUTATIONS) if rng.random() < 0.2 else "",
            first,
            last,
            rng.choice(p.titles) if rng.random() < 0.85 else "",
            self.phone(p, extension=True) if rng.random() < 0.9 else "",
            self.phone(p) if rng.random() < 0.7 else "",
            work_email,
            personal,
            rng.choice(p.streets) if has_address else "",
            rng.choice(p.cities) if has_address else "",
            rng.choice(p.states) if has_address else "",
            rng.choice(p.postcodes) if has_address else "",
            p.country,
            rng.choice(("yes", "no")) if rng.random() < 0.1 else "",
        ]

    def custom(self) -> list[str]:
        rng = self.rng
        return [
            rng.choice(LOYALTY_TIERS) if rng.random() < 0.5 else "",
            f"{rng.randrange(2005, 2025)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
            if rng.random() < 0.4
            else "",
            rng.choice(("yes", "no")) if rng.random() < 0.6 else "",
        ]

    def rows(self, count: int, *, custom_fields: bool) -> Iterator[list[str]]:
        rng = self.rng
        # Which account each row belongs to, shuffled so an account's rows are spread over the file.
        owners: list[int] = []
        owner = 0
        while len(owners) < count:
            owners.extend([owner] * rng.choices(CONTACTS_PER_ACCOUNT, CONTACTS_PER_ACCOUNT_WEIGHTS)[0])
            owner += 1
        del owners[count:]
        rng.shuffle(owners)
        accounts: dict[int, tuple[list[str], str, str]] = {}
        for number, owner in enumerate(owners, start=1):
            if owner not in accounts:
                accounts[owner] = self.account(len(accounts) + 1)
            account, locale, domain = accounts[owner]
            row = self.contact(number, locale, domain) + account
            if custom_fields:
                row += self.custom()
            yield row


def generate(path: Path, rows: int, *, seed: int = 7, custom_fields: bool = True) -> Path:
    """Write ``rows`` data rows to ``path`` (UTF-8, comma-separated, template headers)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    composer = Composer(seed)
    headers = template_headers() + (list(CUSTOM_HEADERS) if custom_fields else [])
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers)
        writer.writerows(composer.rows(rows, custom_fields=custom_fields))
    partial.replace(path)  # a generation cut short never leaves a file that looks complete
    return path


def cached(rows: int, *, seed: int = 7, custom_fields: bool = True, data_dir: Path = DATA_DIR) -> Path:
    """The generated file for these parameters, generated only if it is not there yet."""
    suffix = "" if custom_fields else "-nocustom"
    path = data_dir / f"contacts-{rows}-s{seed}-v{GENERATOR_VERSION}{suffix}.csv"
    return path if path.exists() else generate(path, rows, seed=seed, custom_fields=custom_fields)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, help="default: bench/.data/contacts-<rows>-s<seed>-v<N>.csv")
    parser.add_argument("--no-custom-fields", action="store_true", help="leave out the custom: columns")
    args = parser.parse_args()
    custom = not args.no_custom_fields
    if args.out is None:
        print(cached(args.rows, seed=args.seed, custom_fields=custom))
    else:
        print(generate(args.out, args.rows, seed=args.seed, custom_fields=custom))


if __name__ == "__main__":
    main()
