"""Running a sandbox: uvicorn in a background thread on a loopback port, and a handle for tests."""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from pipeline.errors import ConfigError
from pipeline.sandbox import config as demo
from pipeline.sandbox.app import create_app
from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.gate import DROP_MESSAGE
from pipeline.sandbox.schemas import demo_schemas, load_schema_files
from pipeline.sandbox.state import SandboxState, SandboxStats
from pipeline.sandbox.store import Store

STARTUP_TIMEOUT_S = 10.0
SHUTDOWN_TIMEOUT_S = 5.0


class Sandbox:
    """A running sandbox: where it listens, its credentials, its live store and its knobs."""

    def __init__(self, state: SandboxState, base_url: str) -> None:
        self._state = state
        self.base_url = base_url
        self.config = state.config
        self.client_id = state.config.client_id
        self.client_secret = state.config.client_secret
        self.store = state.store
        self.division_id = demo.DEMO_DIVISION_ID
        self.external_source_id = demo.DEMO_EXTERNAL_SOURCE_ID

    @property
    def stats(self) -> SandboxStats:
        return self._state.stats.snapshot()

    def configure(
        self,
        *,
        fault_rate: float | None = None,
        fault_kinds: tuple[str, ...] | None = None,
        rate_limit: int | None = None,
        rate_window_s: float | None = None,
        latency_ms: int | None = None,
        latency_jitter_ms: int | None = None,
    ) -> None:
        """Change fault, rate-limit and latency settings while the sandbox runs."""
        if fault_rate is not None and not 0.0 <= fault_rate <= 1.0:
            raise ConfigError(f"fault rate {fault_rate} is not a probability between 0 and 1")
        if fault_kinds is not None and set(fault_kinds) - set(demo.FAULT_KINDS):
            raise ConfigError(f"unknown fault kinds; known: {', '.join(demo.FAULT_KINDS)}")
        self._state.faults.configure(
            rate=fault_rate, kinds=fault_kinds, latency_ms=latency_ms, jitter_ms=latency_jitter_ms
        )
        self._state.limiter.configure(limit=rate_limit, window_s=rate_window_s)

    def revoke_tokens(self) -> None:
        """Invalidate every issued token: the next API call with one gets 401."""
        self._state.tokens.revoke_all()


@contextmanager
def run_sandbox(config: SandboxConfig | None = None, **overrides: Any) -> Iterator[Sandbox]:
    """Serve a sandbox in a background thread for the duration of the ``with`` block.

    ``run_sandbox(SandboxConfig(...))`` or ``run_sandbox(rate_limit=5)``; port 0 picks a free port.
    """
    config = dataclasses.replace(config or SandboxConfig(), **overrides)
    config.check()
    schemas = demo_schemas() + load_schema_files(config.schema_files)
    store = Store(config.state_path, schemas=schemas, strict_claims=config.strict_claims)
    state = SandboxState(config, store)
    sock = _bind(config.host, config.port)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(state),
            log_level="warning",
            access_log=False,
            lifespan="off",
            http=http_implementation(),
            ws="none",
            # Nothing proxies the sandbox: the X-Forwarded-* rewrite would only cost every request time.
            proxy_headers=False,
            loop="asyncio",
            timeout_graceful_shutdown=1,
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="sandbox", daemon=True)
    thread.start()
    try:
        _wait_started(server, thread)
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        yield Sandbox(state, f"http://{shown}:{port}")
    finally:
        server.should_exit = True
        thread.join(SHUTDOWN_TIMEOUT_S)
        sock.close()
        store.close()


def http_implementation() -> str:
    """uvicorn's HTTP/1.1 parser: ``httptools`` (C, llhttp) when installed, else ``h11`` (pure Python).

    Parsing and writing HTTP with h11 was about a tenth of the sandbox's CPU per bulk request
    (bench/README.md, "The push client's ceiling"); both speak the same HTTP/1.1 to the client, so the
    fallback only costs speed, on a platform where httptools has no wheel.
    """
    return "httptools" if importlib.util.find_spec("httptools") is not None else "h11"


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and without it a
    # response's body waits ~40 ms for a delayed ACK of its headers.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {err.strerror or err}") from err
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ConfigError("the sandbox server did not start")
        time.sleep(0.01)


class _DropFilter(logging.Filter):
    """Silence uvicorn's complaint about the connections the sandbox drops on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != DROP_MESSAGE


_error_log = logging.getLogger("uvicorn.error")
if not any(isinstance(f, _DropFilter) for f in _error_log.filters):
    _error_log.addFilter(_DropFilter())
