"""Limits learned from what upstreams say: rate-limit headers and Gemini quota errors.

- OpenAI (and many OpenAI-compatible servers): ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}``;
  the reset is a duration (``"1s"``, ``"6m0s"``, ``"20ms"``).
- Anthropic: ``anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}``;
  the reset is an RFC 3339 time.
- Gemini: a 429 ``RESOURCE_EXHAUSTED`` whose details hold a ``google.rpc.QuotaFailure``
  (``violations[].quotaId`` / ``quotaMetric`` / ``quotaValue``) and a ``google.rpc.RetryInfo``
  (already read into the error's ``retry_after``). A per-day quota resets at midnight Pacific
  time (as Google documents for the Gemini API); per-minute and per-hour ones after the retry
  delay, or else the quota's period.

Pure: times are passed in (Unix seconds).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..core.errors import GatewayError
from ..keys.classify import parse_duration
from .rules import QuotaRule

METRICS = ("requests", "tokens", "input-tokens", "output-tokens")
GEMINI_DAY = QuotaRule(requests=1, tokens=None, window=86400.0, reset=(0, 0, "America/Los_Angeles"))
"""The window of Gemini's per-day quotas (only its reset matters)."""
_PERIODS = (("PerMinute", 60.0), ("PerHour", 3600.0), ("PerDay", 86400.0))
_QUOTA_FAILURE = "type.googleapis.com/google.rpc.QuotaFailure"


@dataclass(frozen=True, slots=True)
class Learned:
    metric: str
    limit: int | None
    remaining: int
    reset_at: float
    source: str = "headers"
    """``headers``, or the upstream's quota id (Gemini)."""


def _int(value: Any) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def from_headers(headers: Mapping[str, str], now: float) -> list[Learned]:
    """The limits a response's headers state (``headers``: case-insensitive, or lower-case names)."""
    out: list[Learned] = []
    for metric in ("requests", "tokens"):
        remaining = _int(headers.get("x-ratelimit-remaining-" + metric))
        if remaining is not None:
            wait = parse_duration(headers.get("x-ratelimit-reset-" + metric) or "")
            if wait is not None:
                limit = _int(headers.get("x-ratelimit-limit-" + metric))
                out.append(Learned(metric, limit, remaining, now + wait))
    for metric in METRICS:
        prefix = f"anthropic-ratelimit-{metric}-"
        remaining = _int(headers.get(prefix + "remaining"))
        if remaining is not None:
            try:
                reset = datetime.fromisoformat((headers.get(prefix + "reset") or "").replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
            out.append(Learned(metric, _int(headers.get(prefix + "limit")), remaining, reset))
    return out


def from_error(error: GatewayError, now: float) -> Learned | None:
    """The quota a Gemini quota error names (None: the error names none)."""
    if not isinstance(error.details, list):
        return None
    for detail in error.details:
        if not isinstance(detail, dict) or detail.get("@type") != _QUOTA_FAILURE:
            continue
        for violation in detail.get("violations") or []:
            if not isinstance(violation, dict):
                continue
            quota_id = str(violation.get("quotaId") or violation.get("quotaMetric") or "quota")
            period = next((seconds for name, seconds in _PERIODS if name in quota_id), None)
            wait = error.retry_after if error.retry_after is not None else period or 60.0
            reset = now + wait
            if period == 86400.0:
                reset = max(reset, GEMINI_DAY.window_end(now))
            metric = "tokens" if "token" in str(violation.get("quotaMetric", "")).lower() else "requests"
            return Learned(metric, _int(violation.get("quotaValue")), 0, reset, quota_id)
    return None
