"""Dashboard sessions: random tokens in an HttpOnly, SameSite=Strict cookie, kept in the state
key-value store — in memory for one process, in Redis with ``state.backend: redis``, so a
session holds on every worker and replica.

The cookie carries only the session token (never the admin key); the store holds its SHA-256
(never the token). Each session has its own CSRF token, which every state-changing request must
send back (a form field or ``x-csrf-token``). Sessions end after :data:`SESSION_SECONDS` or on
sign-out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from ..store import KVStore

COOKIE = "switchyard_session"
SESSION_SECONDS = 12 * 3600


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    csrf: str
    expires_at: float

    def csrf_ok(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented.encode(), self.csrf.encode())


class SessionStore:
    """Sessions in ``kv()`` (the store is opened after the dashboard is made: a callable)."""

    def __init__(
        self, kv: Callable[[], KVStore], lifetime: float = SESSION_SECONDS, clock: Callable[[], float] = time.time
    ) -> None:
        self.kv = kv
        self.lifetime = lifetime
        self.clock = clock

    @staticmethod
    def _key(token: str) -> str:
        return "ui-session:" + hashlib.sha256(token.encode()).hexdigest()

    async def create(self) -> Session:
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), self.clock() + self.lifetime)
        record = orjson.dumps({"csrf": session.csrf, "expires_at": session.expires_at})
        if not await self.kv().set(self._key(session.token), record, self.lifetime):
            raise RuntimeError("the session could not be stored")
        return session

    async def get(self, token: str | None) -> Session | None:
        raw = await self.kv().get(self._key(token)) if token else None
        if raw is None or token is None:
            return None
        record = orjson.loads(raw)
        if record["expires_at"] <= self.clock():
            await self.end(token)
            return None
        return Session(token, record["csrf"], record["expires_at"])

    async def end(self, token: str) -> None:
        await self.kv().delete(self._key(token))


def cookie_header(session: Session | None, secure: bool) -> bytes:
    """The ``set-cookie`` value for ``session`` (None: clear the cookie)."""
    value, age = (session.token, int(session.expires_at - time.time())) if session else ("", 0)
    flags = "; Secure" if secure else ""
    return f"{COOKIE}={value}; Path=/ui; Max-Age={age}; HttpOnly; SameSite=Strict{flags}".encode()


def cookie_token(cookie_header_value: bytes | None) -> str | None:
    """The session token from a ``cookie`` request header."""
    if not cookie_header_value:
        return None
    for part in cookie_header_value.decode("latin-1").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE and value:
            return value
    return None
