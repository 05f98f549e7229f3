"""Genesys Cloud region domains: the API lives at ``api.<domain>``, OAuth at ``login.<domain>``.

The list is the one in genesys-api.md. Users name a region by its domain (``mypurecloud.ie``), exactly as
Genesys documents it, so there is no alias table to keep in step with Genesys.
"""

from __future__ import annotations

REGION_DOMAINS: tuple[str, ...] = (
    "mypurecloud.com",
    "mypurecloud.ie",
    "mypurecloud.com.au",
    "mypurecloud.jp",
    "mypurecloud.de",
    "usw2.pure.cloud",
    "cac1.pure.cloud",
    "apne2.pure.cloud",
    "euw2.pure.cloud",
    "aps1.pure.cloud",
    "use2.us-gov-pure.cloud",
    "sae1.pure.cloud",
    "mec1.pure.cloud",
    "apne3.pure.cloud",
    "euc2.pure.cloud",
    "mxc1.pure.cloud",
    "apse1.pure.cloud",
    "edee1.eusc-pure.cloud",
)


def api_base_url(domain: str) -> str:
    return f"https://api.{domain}"


def login_base_url(domain: str) -> str:
    return f"https://login.{domain}"
