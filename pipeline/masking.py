"""Masking of personal data for messages and logs.

Enough is kept for a person to recognise which value is meant (``j***@example.com``, ``+4478******21``,
``J***``) and never enough to reconstruct it. Use it for every value of a field whose spec has
``pii = true`` before it goes into an error message, a warning or a log line.
"""

from __future__ import annotations

import re

STAR = "*"
# Phones: the country code and the first digits identify the kind of number; the last two let a person
# match it against their sheet. Shorter values do not have enough digits to spare.
PHONE_HEAD = 5
PHONE_TAIL = 2
PHONE_MIN_FOR_HEAD = 10
PHONE_MIN_FOR_TAIL = 6


def mask(value: str, kind: str = "text") -> str:
    """``value`` with most of it replaced by ``*``; ``kind`` is ``email``, ``phone`` or anything else."""
    value = value.strip()
    if not value:
        return ""
    if kind == "email":
        return _mask_email(value)
    if kind == "phone":
        return _mask_phone(value)
    return _mask_text(value)


def _mask_text(value: str) -> str:
    return value[0] + STAR * 3


def _mask_email(value: str) -> str:
    local, at, domain = value.rpartition("@")
    if not at or not domain:
        return _mask_text(value)
    return (local[:1] + STAR * 3 if local else STAR * 3) + "@" + domain


def _mask_phone(value: str) -> str:
    # An extension is dropped rather than masked: it adds nothing to recognising the number.
    number = value.split(";", 1)[0].split(" ext", 1)[0].strip()
    size = len(number)
    if size >= PHONE_MIN_FOR_HEAD:
        head, tail = PHONE_HEAD, PHONE_TAIL
    elif size >= PHONE_MIN_FOR_TAIL:
        head, tail = 1, PHONE_TAIL
    else:
        return STAR * max(size, 3)
    return number[:head] + STAR * (size - head - tail) + number[-tail:]


# Personal data quoted inside free text (an API error message, a log line). Phones: 9 to 15 digits standing
# alone, optionally +-prefixed and split by spaces, dots, dashes or brackets; so dates, counts and the
# digit runs inside ids are left alone.
_EMAIL_IN_TEXT = re.compile(r"[^\s@<>()\[\]\"',;:]+@[^\s@<>()\[\]\"',;:]+\.[A-Za-z0-9-]+")
_PHONE_IN_TEXT = re.compile(r"(?<![\w\-])\+?\(?\d(?:[ .\-()]{0,2}\d){8,14}(?![\w\-])")


def mask_in_text(text: str) -> str:
    """``text`` with every email address and phone number in it masked."""
    text = _EMAIL_IN_TEXT.sub(lambda m: mask(m.group(0), "email"), text)
    return _PHONE_IN_TEXT.sub(lambda m: mask(m.group(0), "phone"), text)
