"""A local emulator of the Genesys Cloud External Contacts API, for tests, demos and rehearsals.

    from pipeline.sandbox import SandboxConfig, run_sandbox

    with run_sandbox(SandboxConfig(rate_limit=0)) as sb:
        sb.base_url  # "http://127.0.0.1:54321": POST /oauth/token and /api/v2/externalcontacts/...

See docs/sandbox.md for what it implements and what it assumes.
"""

from pipeline.sandbox.config import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_DIVISION_ID,
    DEMO_DIVISION_NAME,
    DEMO_EXTERNAL_SOURCE_ID,
    DEMO_EXTERNAL_SOURCE_NAME,
    FAULT_KINDS,
    SECOND_DIVISION_ID,
    SECOND_DIVISION_NAME,
    SandboxConfig,
)
from pipeline.sandbox.schemas import DEMO_CONTACT_SCHEMA_ID, DEMO_ORGANIZATION_SCHEMA_ID
from pipeline.sandbox.server import Sandbox, run_sandbox
from pipeline.sandbox.state import SandboxStats
from pipeline.sandbox.store import Store

__all__ = [
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_CONTACT_SCHEMA_ID",
    "DEMO_DIVISION_ID",
    "DEMO_DIVISION_NAME",
    "DEMO_EXTERNAL_SOURCE_ID",
    "DEMO_EXTERNAL_SOURCE_NAME",
    "DEMO_ORGANIZATION_SCHEMA_ID",
    "FAULT_KINDS",
    "SECOND_DIVISION_ID",
    "SECOND_DIVISION_NAME",
    "Sandbox",
    "SandboxConfig",
    "SandboxStats",
    "Store",
    "run_sandbox",
]
