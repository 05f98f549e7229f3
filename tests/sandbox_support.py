"""Client settings for tests that run the real client against an in-process sandbox."""

from __future__ import annotations

from dataclasses import replace

from pipeline.genesys.settings import ClientSettings, settings_from
from pipeline.sandbox import Sandbox


def sandbox_settings(sb: Sandbox, *, rate_limit: int = 0, **changes: object) -> ClientSettings:
    """Settings aimed at ``sb`` with its demo credentials, never the environment, and short backoffs
    (a test should not sleep the seconds a real outage deserves); ``changes`` override any field."""
    settings = settings_from(
        region=None,
        base_url=sb.base_url,
        client_id=sb.client_id,
        client_secret=sb.client_secret,
        rate_limit=rate_limit,
        env={},
    )
    return replace(settings, **{"backoff_base_s": 0.01, "backoff_max_s": 0.2, **changes})  # type: ignore[arg-type]
