"""What ``contacts-pipeline init`` writes: a commented starter config and a starter mapping for a CSV.

Both builders are pure (text out). The mapping guess goes, per header:

1. an exact header or alias of ``schemas/*.toml`` (matched as the reader matches: case-insensitively);
2. the same letters and digits as a header, alias or field path (``job_title`` ~ ``Job Title``), or a
   close spelling of one (difflib), marked ``# guess: …``;
3. content: a column whose sample values all look like e-mail addresses or phone numbers, marked too;
4. otherwise a commented-out line to fill in.

A field is given to one header only, the first that claims it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipeline.fields import FieldSpec, Specs
from pipeline.prepare.header import header_key
from pipeline.profiles import CONFIG_NAME

# How alike two normalized names must be (difflib ratio) for a spelling guess.
FUZZY_CUTOFF = 0.8
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[\d\s().\-/]{7,20}$")
# Fields the content sniffing fills, first free one first.
_EMAIL_FIELDS = ("contact.workEmail", "contact.personalEmail", "contact.otherEmail")
_PHONE_FIELDS = ("contact.workPhone", "contact.cellPhone", "contact.homePhone", "contact.otherPhone")


@dataclass(frozen=True)
class Guess:
    """Where one header goes: ``column`` (None: unmapped) and why, when it is a guess."""

    header: str
    column: str | None
    why: str | None = None


def _normal(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.casefold())


def _names(spec: FieldSpec) -> list[str]:
    """What a header of this field may look like, normalized: its headers, its path, kind + path."""
    path = spec.path.replace(".", "")
    return [_normal(h) for h in spec.headers] + [_normal(path), _normal(spec.kind + path)]


def _looks_like(values: Sequence[str], pattern: re.Pattern[str]) -> bool:
    present = [v.strip() for v in values if v.strip()]
    return bool(present) and all(pattern.match(v) for v in present)


def _sniff(values: Sequence[str], taken: set[str]) -> Guess | None:
    kinds = ((_EMAIL, _EMAIL_FIELDS, "e-mail addresses"), (_PHONE, _PHONE_FIELDS, "phone numbers"))
    for pattern, fields, what in kinds:
        if _looks_like(values, pattern):
            free = next((f for f in fields if f not in taken), None)
            if free is not None:
                return Guess("", free, f"the values look like {what}")
    return None


def guess_columns(headers: Sequence[str], samples: Mapping[str, Sequence[str]], specs: Specs) -> list[Guess]:
    """One :class:`Guess` per header, in order."""
    exact = {header_key(h): spec.column for spec in specs.all if not spec.is_custom for h in spec.headers}
    by_name: dict[str, str] = {}
    for spec in specs.all:
        for name in _names(spec):
            by_name.setdefault(name, spec.column)
    taken: set[str] = {exact[header_key(h)] for h in headers if header_key(h) in exact}
    guesses: list[Guess] = []
    for header in headers:
        if header_key(header) in exact:
            guesses.append(Guess(header, exact[header_key(header)]))
            continue
        guess = _by_name(header, by_name, taken) or _sniff(samples.get(header, ()), taken)
        if guess is None:
            guesses.append(Guess(header, None))
            continue
        taken.add(str(guess.column))
        guesses.append(Guess(header, guess.column, guess.why))
    return guesses


def _by_name(header: str, by_name: Mapping[str, str], taken: set[str]) -> Guess | None:
    normal = _normal(header)
    free = {name: column for name, column in by_name.items() if column not in taken}
    if normal in free:
        return Guess(header, free[normal], f"same letters as {free[normal]!r}")
    close = difflib.get_close_matches(normal, list(free), n=1, cutoff=FUZZY_CUTOFF)
    if normal and close:
        return Guess(header, free[close[0]], f"spelled like {close[0]!r}")
    return None


def _toml_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped) + '"'


def starter_mapping(source_name: str, guesses: Sequence[Guess]) -> str:
    """The mapping file's text (the format ``--mapping`` loads) for ``guesses``."""
    lines = [
        f"# Starter mapping for {source_name}, written by `contacts-pipeline init`.",
        "#",
        '# [columns]: your header -> a field ("<kind>.<path>" from schemas/*.toml) or a custom field',
        '# ("contact.customFields.<name>", typed by its suffix); "" drops a column on purpose.',
        "# Check every line marked `# guess`; fill in or delete the commented-out ones, then run:",
        f"#   contacts-pipeline validate {source_name} --mapping <this file>",
        "",
        "[columns]",
    ]
    for g in guesses:
        key = _toml_string(g.header)
        if g.column is None:
            lines.append(f'# {key} = ""  # unmapped: no field matched; name one, or "" to drop it')
        elif g.why:
            lines.append(f"{key} = {_toml_string(g.column)}  # guess: {g.why}")
        else:
            lines.append(f"{key} = {_toml_string(g.column)}")
    lines += ["", "[constants]", '# "organization.industry" = "Retail"', ""]
    return "\n".join(lines)


def starter_config() -> str:
    """The commented ``contacts-pipeline.toml`` that ``init`` writes; it loads as it is."""
    return f"""# {CONFIG_NAME}: named profiles for contacts-pipeline, written by `contacts-pipeline init`.
#
# Choose one with --profile NAME (or set default_profile). Flags win over GENESYS_* environment
# variables, which win over the profile, which wins over the built-in defaults.
# Secrets never go in this file: set GENESYS_CLIENT_SECRET, or name a file only you can read with
# client_secret_file (chmod 600 on Linux and macOS).

# default_profile = "prod"

[profile.prod]
# region = "mypurecloud.ie"              # Genesys Cloud domain
# client_id = "00000000-0000-0000-0000-000000000000"
# client_secret_file = "secrets/prod.secret"  # relative to this file
# external_source = "CRM"                # owns the Contact and Account IDs
# division = "division-id"
# contact_schema = "Contact fields"      # custom-field schema names (or ids)
# organization_schema = "Organization fields"
# rate_limit = 300                       # requests per minute (0 = no client limit)
# default_region = "US"                  # phones written without a country code
# mapping = "crm.mapping.toml"           # relative to this file
"""


__all__ = ["Guess", "guess_columns", "starter_config", "starter_mapping"]
