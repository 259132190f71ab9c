"""Client keys, teams, budgets and limits: the records, their JSON shapes and their windows.

Pure: no I/O, no clock (times are passed in as unix seconds).

- A **client key** (``sk-sy-`` + 43 URL-safe characters, 32 random bytes) is stored only as its
  SHA-256 hex digest; ``hint`` (the first characters after the prefix) lets people tell keys apart.
- A **budget** is USD per **window**: ``1d``, ``7d``, ``30d`` (consecutive periods of that length
  counted from the key's or team's creation), ``month`` (the calendar month, UTC) or ``total``
  (never resets).
- **Limits**: ``rpm`` requests and ``tpm`` tokens per rate window (60 s, fixed windows aligned to
  the epoch), and ``max_parallel`` requests in flight.

Money is counted in integer nano-dollars (:data:`NANO` per USD) wherever it is added up, so sums
are exact in Python and in Redis alike.
"""

from __future__ import annotations

import fnmatch
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..core.errors import RequestError

KEY_PREFIX = "sk-sy-"
NANO = 1_000_000_000
WINDOWS = ("1d", "7d", "30d", "month", "total")
MAX_BUDGET_USD = 9_000_000
"""Budgets are counted in nano-dollars, exact in Redis's Lua (doubles) up to 2**53 of them."""
_PERIOD = {"1d": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400}
LIMIT_FIELDS = ("rpm", "tpm", "max_parallel")


def key_hash(secret: str | bytes) -> str:
    """The stored form of a client key."""
    return hashlib.sha256(secret.encode() if isinstance(secret, str) else secret).hexdigest()


def to_nano(usd: float) -> int:
    return round(usd * NANO)


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Budget:
    usd: float
    window: str

    def span(self, anchor: float, now: float) -> tuple[str, float | None]:
        """(window id, when it resets) for ``now``; ``anchor`` is the owner's creation time."""
        if self.window == "total":
            return "total", None
        if self.window == "month":
            moment = datetime.fromtimestamp(now, UTC)
            year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
            return f"m{moment.year:04d}-{moment.month:02d}", datetime(year, month, 1, tzinfo=UTC).timestamp()
        period = _PERIOD[self.window]
        n = int((now - anchor) // period) if now >= anchor else 0
        return f"{self.window}:{n}", anchor + (n + 1) * period

    def to_json(self) -> dict[str, Any]:
        return {"usd": self.usd, "window": self.window}


@dataclass(frozen=True, slots=True)
class Limits:
    rpm: int | None = None
    tpm: int | None = None
    max_parallel: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"rpm": self.rpm, "tpm": self.tpm, "max_parallel": self.max_parallel}

    def __bool__(self) -> bool:
        return self.rpm is not None or self.tpm is not None or self.max_parallel is not None


@dataclass(slots=True)
class Subject:
    """What the counters are kept for: a client key or a team."""

    created_at: float
    budget: Budget | None
    limits: Limits

    @property
    def governed(self) -> bool:
        return self.budget is not None or bool(self.limits)


@dataclass(slots=True)
class ClientKey(Subject):
    id: str = ""
    name: str = ""
    hash: str = ""
    hint: str = ""
    team: str | None = None
    models: list[str] | None = None
    expires_at: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    updated_at: float = 0.0
    revoked_at: float | None = None
    source: str = "api"
    """``api`` (made through the admin API) or ``config`` (``server.auth_keys``; read-only)."""

    @property
    def subject(self) -> str:
        return "key:" + self.id

    def allows(self, model: str, targets: list[str]) -> bool:
        """Whether the key may use ``model`` (the name sent) resolving to ``targets``
        (``provider/model``): the name, or else every target, matches one of ``models``."""
        if self.models is None:
            return True
        if any(fnmatch.fnmatchcase(model, p) for p in self.models):
            return True
        return bool(targets) and all(any(fnmatch.fnmatchcase(t, p) for p in self.models) for t in targets)

    def public(self) -> dict[str, Any]:
        """The key as the admin API shows it (never the secret, never its hash)."""
        return {
            "id": self.id,
            "name": self.name,
            "key_hint": f"{KEY_PREFIX}{self.hint}…" if self.source == "api" else f"…{self.hint}",
            "team": self.team,
            "models": self.models,
            "expires_at": iso(self.expires_at),
            "metadata": self.metadata,
            "budget": self.budget.to_json() if self.budget else None,
            "limits": self.limits.to_json(),
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "revoked_at": iso(self.revoked_at),
            "source": self.source,
        }


@dataclass(slots=True)
class Team(Subject):
    name: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    updated_at: float = 0.0

    @property
    def subject(self) -> str:
        return "team:" + self.name

    def public(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "metadata": self.metadata,
            "budget": self.budget.to_json() if self.budget else None,
            "limits": self.limits.to_json(),
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


# ---------------------------------------------------------------------------- request bodies

KEY_FIELDS = ("name", "team", "models", "expires_at", "metadata", "budget", "limits")
TEAM_FIELDS = ("name", "metadata", "budget", "limits")


def parse_fields(body: Any, known: tuple[str, ...], *, create: bool) -> dict[str, Any]:
    """Validate an admin API body (a create, or a partial update) into typed values.

    Returns only the fields present; a field set to null clears it (``name`` cannot be cleared).
    Raises RequestError naming the field.
    """
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    unknown = [k for k in body if k not in known]
    if unknown:
        raise RequestError(f"unknown field '{unknown[0]}' (expected: {', '.join(known)})", param=unknown[0])
    if create and not body.get("name"):
        raise RequestError("'name' is required", param="name")
    out: dict[str, Any] = {}
    for name, value in body.items():
        out[name] = None if value is None and name != "name" else _PARSERS[name](value, name)
    return out


def _name(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise RequestError(f"'{path}' must be a non-empty string of at most 200 characters", param=path)
    return value.strip()


def _models(value: Any, path: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(m, str) and m for m in value):
        raise RequestError(f"'{path}' must be a list of model names or patterns", param=path)
    return list(value)


def _expires(value: Any, path: str) -> float:
    if not isinstance(value, str):
        raise RequestError(f"'{path}' must be an ISO-8601 date-time", param=path)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RequestError(f"'{path}' must be an ISO-8601 date-time, not {value!r}", param=path) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _metadata(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RequestError(f"'{path}' must be a JSON object", param=path)
    return value


def _budget(value: Any, path: str) -> Budget:
    if not isinstance(value, dict) or set(value) - {"usd", "window"}:
        raise RequestError(f'\'{path}\' must be {{"usd": number, "window": {"|".join(WINDOWS)}}}', param=path)
    usd, window = value.get("usd"), value.get("window", "total")
    if isinstance(usd, bool) or not isinstance(usd, int | float) or not 0 <= usd <= MAX_BUDGET_USD:
        raise RequestError(
            f"'{path}.usd' must be a number of US dollars from 0 to {MAX_BUDGET_USD:,}", param=f"{path}.usd"
        )
    if window not in WINDOWS:
        raise RequestError(f"'{path}.window' must be one of {', '.join(WINDOWS)}", param=f"{path}.window")
    return Budget(float(usd), window)


def _limits(value: Any, path: str) -> Limits:
    if not isinstance(value, dict) or set(value) - set(LIMIT_FIELDS):
        raise RequestError(f"'{path}' must be an object with {', '.join(LIMIT_FIELDS)}", param=path)
    for name, n in value.items():
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
            raise RequestError(f"'{path}.{name}' must be a whole number >= 0", param=f"{path}.{name}")
    return Limits(**value)


_PARSERS = {
    "name": _name,
    "team": _name,
    "models": _models,
    "expires_at": _expires,
    "metadata": _metadata,
    "budget": _budget,
    "limits": _limits,
}
