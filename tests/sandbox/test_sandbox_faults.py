"""Rate limiting (429 with a Retry-After that works) and seeded fault injection over real HTTP."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from sandbox_ops import Api, contact_op

from pipeline.errors import ConfigError
from pipeline.sandbox import Sandbox, SandboxConfig, run_sandbox


def test_429_after_the_budget_and_retry_after_lets_the_next_request_through() -> None:
    """Past the per-token budget the API answers 429 with the real body; waiting Retry-After works."""
    with run_sandbox(SandboxConfig(rate_limit=3, rate_window_s=1.0)) as sb:
        api = Api(sb)
        assert [api.get("scan/contacts").status_code for _ in range(3)] == [200, 200, 200]
        refused = api.get("scan/contacts")
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "1"
        body = refused.json()
        assert set(body) == {"message", "code", "status", "contextId", "details", "errors"}
        assert (body["code"], body["status"], body["details"], body["errors"]) == (
            "too.many.requests.retry.after",
            429,
            [],
            [],
        )
        time.sleep(int(refused.headers["Retry-After"]))
        assert api.get("scan/contacts").status_code == 200
        assert sb.stats.rate_limited == 1
        api.close()


def test_each_token_has_its_own_budget_and_the_limit_can_change() -> None:
    """A second token is not slowed by the first; configure() changes the budget while running."""
    with run_sandbox(SandboxConfig(rate_limit=1, rate_window_s=30.0)) as sb:
        first, second = Api(sb), Api(sb)
        assert first.get("scan/contacts").status_code == 200
        assert first.get("scan/contacts").status_code == 429
        assert second.get("scan/contacts").status_code == 200
        sb.configure(rate_limit=0)
        assert all(first.get("scan/contacts").status_code == 200 for _ in range(20))
        first.close()
        second.close()


def outcomes(seed: int, fault_rate: float = 0.5) -> list[Any]:
    """What 12 identical-in-every-run requests meet on a fresh sandbox with this seed."""
    seen: list[Any] = []
    with run_sandbox(SandboxConfig(rate_limit=0, fault_rate=fault_rate, seed=seed)) as sb:
        api = Api(sb)
        for i in range(6):
            try:
                response = api.bulk("contacts", [contact_op(f"C{i}"), contact_op(f"D{i}")])
                body = response.json()
                errors = sorted(r["id"] for r in body.get("results", ()) if not r["success"])
                seen.append((response.status_code, errors))
            except httpx.TransportError:
                seen.append("dropped")
            seen.append(api.get("scan/contacts").status_code)
        api.close()
        seen.append(sb.stats.faults)
    return seen


def test_faults_are_reproducible_with_a_seed() -> None:
    """The same seed gives the same faults for the same requests; another seed gives others."""
    first = outcomes(seed=7)
    assert first == outcomes(seed=7)
    assert first != outcomes(seed=8)
    assert len(first[-1]) >= 2  # more than one kind of fault was met
    assert outcomes(seed=7, fault_rate=0.0)[-1] == {}


@pytest.fixture
def faulty() -> Any:
    with run_sandbox(SandboxConfig(rate_limit=0, fault_rate=1.0)) as sb:
        api = Api(sb)
        yield sb, api
        api.close()


def test_server_errors_apply_nothing(faulty: tuple[Sandbox, Api]) -> None:
    """A 5xx fault answers the standard error body and writes nothing."""
    sb, api = faulty
    sb.configure(fault_kinds=("server_error",))
    response = api.bulk("contacts", [contact_op("C1")])
    assert response.status_code in (500, 502, 503, 504)
    assert response.json()["status"] == response.status_code
    assert sb.store.count("contacts") == 0


def test_entity_errors_are_retryable_and_not_applied(faulty: tuple[Sandbox, Api]) -> None:
    """A 200 bulk response may carry retryable errors; those operations were not applied."""
    sb, api = faulty
    sb.configure(fault_kinds=("entity_errors",))
    ops = [contact_op(f"C{i}") for i in range(10)]
    body = api.bulk("contacts", ops).json()
    failed = [r for r in body["results"] if not r["success"]]
    assert 1 <= len(failed) == body["errorCount"]
    assert all(r["error"]["retryable"] for r in failed)
    assert sb.store.count("contacts") == 10 - len(failed)
    assert sb.stats.faults == {"entity_errors": 1}


def test_dropped_connection_after_the_write_was_applied(faulty: tuple[Sandbox, Api]) -> None:
    """The client sees a transport error although the write happened; an Upsert replay is safe."""
    sb, api = faulty
    sb.configure(fault_kinds=("drop_after_write",))
    with pytest.raises(httpx.TransportError):
        api.bulk("contacts", [contact_op("C1")])
    assert sb.store.count("contacts") == 1
    sb.configure(fault_rate=0.0)
    replay = api.bulk("contacts", [contact_op("C1")]).json()
    assert replay["results"][0]["status"] == 200
    assert sb.store.count("contacts") == 1


def test_faults_never_hit_the_token_endpoint(faulty: tuple[Sandbox, Api]) -> None:
    """Even at fault rate 1, tokens are issued."""
    sb, api = faulty
    assert api.fetch_token()
    assert "POST /oauth/token" in sb.stats.requests


def test_latency_with_jitter() -> None:
    """latency_ms delays each API call by at least that much, jitter by at most that much more."""
    with run_sandbox(SandboxConfig(rate_limit=0, latency_ms=150, latency_jitter_ms=50)) as sb:
        api = Api(sb)
        started = time.monotonic()
        api.get("scan/contacts")
        assert 0.15 <= time.monotonic() - started < 1.0
        api.close()


def test_configure_refuses_nonsense() -> None:
    """Fault rates outside 0..1 and unknown fault kinds are configuration errors."""
    with run_sandbox() as sb:
        with pytest.raises(ConfigError):
            sb.configure(fault_rate=2)
        with pytest.raises(ConfigError):
            sb.configure(fault_kinds=("meteor",))
    with pytest.raises(ConfigError, match="loopback"), run_sandbox(host="0.0.0.0"):
        pass
