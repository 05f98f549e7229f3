"""Fixtures for the sandbox tests: a fresh sandbox on a free loopback port, and a client with a token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sandbox_ops import Api

from pipeline.sandbox import Sandbox, SandboxConfig, run_sandbox


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with run_sandbox(SandboxConfig(rate_limit=0)) as sandbox:
        yield sandbox


@pytest.fixture
def api(sb: Sandbox) -> Iterator[Api]:
    client = Api(sb)
    yield client
    client.close()
