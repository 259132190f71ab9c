"""Credential pools and the failure-classification table."""

from .classify import Action, classify, parse_duration, retry_after_from_headers
from .pool import KeyPool, KeyState, Lease, NoKeyAvailable

__all__ = [
    "Action",
    "KeyPool",
    "KeyState",
    "Lease",
    "NoKeyAvailable",
    "classify",
    "parse_duration",
    "retry_after_from_headers",
]
