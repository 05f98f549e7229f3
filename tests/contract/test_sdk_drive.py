"""The official SDK drives the sandbox through every endpoint the pipeline uses (see ``sdk_drive.py``).

``PureCloudPlatformClientV2`` is not a project dependency and CI does not install it: without it this
test is skipped. ``/tmp/sdkvenv/bin/python tests/contract/sdk_drive.py`` runs the same by hand.
"""

from __future__ import annotations

import pytest


def test_the_official_sdk_drives_every_endpoint_without_a_problem() -> None:
    """Every listed endpoint is driven; every call succeeds, fits the SDK's models and reads back what was
    written."""
    sdk = pytest.importorskip("PureCloudPlatformClientV2")
    from sdk_drive import drive

    driver = drive(sdk)
    assert driver.problems == []
