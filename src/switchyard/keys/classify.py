"""Failure classification: one table, applied the same way for every upstream protocol.

An attempt's failure (an upstream HTTP error parsed by the upstream codec, a connection error, a
timeout, or an in-band error event before the first byte reached the client) becomes a
:class:`~switchyard.core.errors.GatewayError`; its ``kind`` decides what happens next:

============== =========================================================== =================
kind           key state                                                   request
============== =========================================================== =================
rate_limit     cool the key for that model for the upstream's wait,        next key / target
               else exponential backoff
quota          cool the key for that model for the quota window            next key / target
authentication disable the key (logged by masked id)                       next key / target
permission     disable the key                                             next key / target
overloaded     count a transient failure (the key cools only after         next key / target
server         ``TRANSIENT_STRIKES`` in a row)
timeout
unavailable
others         nothing (the client's own error: bad request, context too   returned at once
               long, content filter, not found, too large)
============== =========================================================== =================
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from enum import Enum

from ..core.errors import ErrorKind


class Action(Enum):
    COOL = "cool"  # rate limited: cool (key, model), try elsewhere
    QUOTA = "quota"  # out of quota: cool (key, model) for the quota window, try elsewhere
    DISABLE = "disable"  # bad credential: never use the key again
    TRANSIENT = "transient"  # upstream fault: try elsewhere; repeated faults cool the key
    SURFACE = "surface"  # the request itself is wrong: return the error now


KIND_ACTION: dict[str, Action] = {
    ErrorKind.RATE_LIMIT: Action.COOL,
    ErrorKind.QUOTA: Action.QUOTA,
    ErrorKind.AUTHENTICATION: Action.DISABLE,
    ErrorKind.PERMISSION: Action.DISABLE,
    ErrorKind.OVERLOADED: Action.TRANSIENT,
    ErrorKind.SERVER: Action.TRANSIENT,
    ErrorKind.TIMEOUT: Action.TRANSIENT,
    ErrorKind.UNAVAILABLE: Action.TRANSIENT,
}


def classify(kind: str) -> Action:
    return KIND_ACTION.get(kind, Action.SURFACE)


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float | None:
    """``"6m0s"``, ``"210ms"``, ``"47s"``, ``"45.837906927s"`` -> seconds; None if not a duration."""
    text = text.strip()
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _DURATION_UNITS[u] for n, u in parts)


def retry_after_from_headers(headers: Mapping[str, str], now: float) -> float | None:
    """The upstream's requested wait in seconds, from its response headers (lower-case names).

    Understands ``retry-after-ms``, ``retry-after`` (seconds or an HTTP date), Anthropic's
    ``anthropic-ratelimit-*-reset`` (RFC 3339 times; the latest one that lies in the future), and
    OpenAI's ``x-ratelimit-reset-*`` durations. ``now`` is the current Unix time.
    """
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - now)
            except (TypeError, ValueError):
                pass
    waits: list[float] = []
    for name, value in headers.items():
        if name.startswith("anthropic-ratelimit-") and name.endswith("-reset"):
            try:
                waits.append(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() - now)
            except ValueError:
                continue
        elif name.startswith("x-ratelimit-reset-"):
            seconds = parse_duration(value)
            if seconds is not None:
                waits.append(seconds)
    waits = [w for w in waits if w > 0]
    return max(waits) if waits else None
