"""OAuth client credentials, as the Genesys login service does it.

``POST /oauth/token`` with HTTP Basic auth (client id and secret) and the form body
``grant_type=client_credentials`` returns ``{access_token, token_type: "bearer", expires_in}``. Tokens are
opaque, live ``token_lifetime`` seconds and are kept in memory only (a restart logs every client out).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import threading
import time
from collections.abc import Callable


class TokenIssuer:
    def __init__(
        self,
        client_id: str,
        client_secret: str,
        lifetime: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.lifetime = lifetime
        self._clock = clock
        self._tokens: dict[str, float] = {}  # token -> expiry on the clock
        self._lock = threading.Lock()

    def check_basic(self, authorization: str | None) -> bool:
        """True when an ``Authorization: Basic ...`` header carries this client's credentials."""
        scheme, _, encoded = (authorization or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            client_id, sep, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return bool(sep) and all(
            hmac.compare_digest(given.encode(), expected.encode())
            for given, expected in ((client_id, self.client_id), (secret, self.client_secret))
        )

    def issue(self) -> dict[str, object]:
        token = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
            self._tokens[token] = now + self.lifetime
        return {"access_token": token, "token_type": "bearer", "expires_in": self.lifetime}

    def valid(self, token: str | None) -> bool:
        if not token:
            return False
        with self._lock:
            expiry = self._tokens.get(token)
        return expiry is not None and expiry > self._clock()

    def revoke_all(self) -> None:
        with self._lock:
            self._tokens.clear()


def bearer_token(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None
