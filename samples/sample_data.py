"""The invented world of the sample files: countries (cities, phone formats, names, streets), company
words, industries, titles and tags. Used by generate_samples.py; standard library only."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


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
