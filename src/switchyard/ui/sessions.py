"""Dashboard sessions: random tokens in an HttpOnly, SameSite=Strict cookie, kept in memory.

The cookie carries only the session token (never the admin key). Each session has its own CSRF
token, which every state-changing request must send back (a form field or ``x-csrf-token``).
Sessions end after :data:`SESSION_SECONDS` or on sign-out; a restart signs everyone out.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

COOKIE = "switchyard_session"
SESSION_SECONDS = 12 * 3600
MAX_SESSIONS = 1000


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    csrf: str
    expires_at: float

    def csrf_ok(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented.encode(), self.csrf.encode())


class SessionStore:
    def __init__(self, lifetime: float = SESSION_SECONDS, clock: Callable[[], float] = time.time) -> None:
        self.lifetime = lifetime
        self.clock = clock
        self._sessions: dict[str, Session] = {}

    def create(self) -> Session:
        now = self.clock()
        self._sessions = {t: s for t, s in self._sessions.items() if s.expires_at > now}
        while len(self._sessions) >= MAX_SESSIONS:  # the oldest go first
            del self._sessions[next(iter(self._sessions))]
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now + self.lifetime)
        self._sessions[session.token] = session
        return session

    def get(self, token: str | None) -> Session | None:
        session = self._sessions.get(token) if token else None
        if session is None:
            return None
        if session.expires_at <= self.clock():
            del self._sessions[session.token]
            return None
        return session

    def end(self, token: str) -> None:
        self._sessions.pop(token, None)


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
