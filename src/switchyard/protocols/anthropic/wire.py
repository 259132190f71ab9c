"""Small helpers shared by the Anthropic codec modules."""

from __future__ import annotations

from typing import Any

NAME = "anthropic"


def public(ext: dict[str, Any]) -> dict[str, Any]:
    """Extension entries that are wire fields (not ``_``-prefixed codec hints)."""
    return {k: v for k, v in ext.items() if not k.startswith("_")}
