"""Fixtures for the client tests (the fakes themselves live in ``genesys_fakes``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from genesys_fakes import FakeClock, FakeGenesys, make_settings

from pipeline.genesys import GenesysClient


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> FakeGenesys:
    return FakeGenesys(clock)


@pytest.fixture
def make_client(fake: FakeGenesys, clock: FakeClock) -> Callable[..., GenesysClient]:
    """Build a client wired to ``fake`` and ``clock``; keyword arguments override settings."""

    def build(**overrides: Any) -> GenesysClient:
        return GenesysClient(
            make_settings(**overrides),
            transport=httpx.MockTransport(fake.handler),
            clock=clock,
            sleep=clock.sleep,
        )

    return build
