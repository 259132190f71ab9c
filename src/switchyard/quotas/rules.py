"""Declared quotas (``providers.<name>.quotas``): parsing, and the window a moment falls in.

A rule is one budget *per key*: ``requests`` and/or ``tokens`` per ``window``, shared by the models
it lists (``models``; every model of the provider when it lists none). Two kinds of window:

- with ``reset: "HH:MM <IANA zone>"``: fixed windows anchored at that wall-clock time (a ``1d``
  window with ``reset: "00:00 America/Los_Angeles"`` ends at every midnight in Los Angeles, DST
  included). Such a window is whole days or divides a day evenly; a window of several days starts
  on days counted from 1970-01-01.
- without ``reset``: a fixed window that starts at the key's first request counted in it and
  lasts ``window``; the next request after it ends starts a new one.

Pure: no I/O, no clock (times are passed in as Unix seconds).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY = 86400.0
LONG_WINDOW = 3600.0
"""A window at least this long is *long*: fair cycling keeps a key spent on it out of rotation."""

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": DAY}
_RESET = re.compile(r"^\s*(\d{1,2}):(\d{2})(?:\s+(\S+))?\s*$")
KNOWN = ("models", "requests", "tokens", "window", "reset")


@dataclass(frozen=True, slots=True)
class QuotaRule:
    requests: int | None
    tokens: int | None
    window: float
    """Seconds."""
    models: tuple[str, ...] = ()
    """Models (or model groups, expanded by the caller) sharing the budget; empty: every model."""
    reset: tuple[int, int, str] | None = None
    """(hour, minute, zone) the windows are anchored at; None: a window from first use."""
    text: str = ""
    """How the rule was written, for display (``100 requests / 1d from 00:00 America/Los_Angeles``)."""
    id: str = field(init=False, default="")
    """A stable id of the rule's terms: a changed rule starts counting afresh."""

    def __post_init__(self) -> None:
        terms = repr((self.requests, self.tokens, self.window, self.models, self.reset)).encode()
        object.__setattr__(self, "id", hashlib.sha256(terms).hexdigest()[:10])

    def applies(self, model: str) -> bool:
        return not self.models or model in self.models

    def window_end(self, now: float) -> float:
        """The end of the anchored window holding ``now`` (0.0 for a window from first use)."""
        if self.reset is None:
            return 0.0
        hour, minute, zone = self.reset
        tz = ZoneInfo(zone)
        today = datetime.fromtimestamp(now, tz).date()
        anchor = _at(today, hour, minute, tz)
        if anchor > now:
            today -= timedelta(days=1)
            anchor = _at(today, hour, minute, tz)
        if self.window >= DAY:
            days = int(self.window // DAY)
            start_day = today - timedelta(days=today.toordinal() % days)
            return _at(start_day + timedelta(days=days), hour, minute, tz)
        return anchor + ((now - anchor) // self.window + 1) * self.window


def _at(day: date, hour: int, minute: int, tz: ZoneInfo) -> float:
    return datetime.combine(day, clock_time(hour, minute), tzinfo=tz).timestamp()


def parse_duration(value: Any) -> float:
    """``"30s"``, ``"5m"``, ``"1h"``, ``"1d"`` or a number of seconds -> seconds (ValueError if not)."""
    if isinstance(value, bool):
        raise ValueError("must be a duration like 30s, 5m, 1h, 1d")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError("must be a duration like 30s, 5m, 1h, 1d")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError("must be longer than 0")
    return seconds


def parse_reset(value: Any) -> tuple[int, int, str]:
    """``"00:00 America/Los_Angeles"`` (zone optional: UTC) -> (hour, minute, zone)."""
    match = _RESET.match(value) if isinstance(value, str) else None
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError('must be a time of day and an IANA time zone, like "00:00 America/Los_Angeles"')
    zone = match.group(3) or "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {zone!r} (an IANA name, like America/Los_Angeles)") from None
    return int(match.group(1)), int(match.group(2)), zone


def parse_rule(raw: Any, groups: dict[str, list[str]]) -> QuotaRule:
    """One ``quotas`` entry -> QuotaRule; ValueError(message) naming what is wrong.

    ``groups``: the config's model groups (aliases) -> the model names they stand for here.
    """
    if not isinstance(raw, dict):
        raise ValueError("each quota must be a mapping like {requests: 100, window: 1d}")
    unknown = [k for k in raw if k not in KNOWN]
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (expected one of: {', '.join(KNOWN)})")
    limits: dict[str, int | None] = {}
    for name in ("requests", "tokens"):
        value = raw.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{name} must be a whole number of 1 or more")
        limits[name] = value
    if limits["requests"] is None and limits["tokens"] is None:
        raise ValueError("a quota needs requests, tokens or both")
    if "window" not in raw:
        raise ValueError("a quota needs a window (like 1m, 1h, 1d)")
    try:
        window = parse_duration(raw["window"])
    except ValueError as exc:
        raise ValueError(f"window {exc}") from None
    reset = None
    if raw.get("reset") is not None:
        try:
            reset = parse_reset(raw["reset"])
        except ValueError as exc:
            raise ValueError(f"reset {exc}") from None
        if (window >= DAY and window % DAY) or (window < DAY and DAY % window):
            raise ValueError("a window with a reset time must be whole days or divide a day evenly (1h, 15m, 1d, 7d)")
    models = raw.get("models") or []
    if isinstance(models, str):
        models = [models]
    if not isinstance(models, list) or not all(isinstance(m, str) and m for m in models):
        raise ValueError("models must be a list of model names or model groups")
    expanded = tuple(dict.fromkeys(name for m in models for name in groups.get(m, [m])))
    amounts = " + ".join(f"{v} {k}" for k, v in limits.items() if v is not None)
    text = f"{amounts} / {raw['window']}" + (f" from {raw['reset']}" if reset else "")
    return QuotaRule(limits["requests"], limits["tokens"], window, expanded, reset, text)
