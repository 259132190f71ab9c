"""Helpers for the prompt-caching tests: where a Messages body has its cache breakpoints, a body
without them, and prompt text of a given (estimated) size."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

import orjson

CLAUDE_CODE = Path("/work/shared/protocols/clients/claude_code")
CAPTURES = sorted(glob.glob(str(CLAUDE_CODE / "*" / "*_v1_messages.body.json")))
"""Every request Claude Code sent in the captures (each carries its own cache_control)."""

Marker = tuple[Any, ...]


def markers(body: dict[str, Any]) -> list[Marker]:
    """The cache breakpoints of ``body`` in the order the API renders a prompt: ``("tools", i,
    ttl)``, ``("system", i, ttl)``, ``("messages", i, j, ttl)`` (ttl None: the default 5m);
    ``("top", ttl)`` for a top-level one."""
    found: list[Marker] = []
    if "cache_control" in body:
        found.append(("top", body["cache_control"].get("ttl")))
    for i, tool in enumerate(body.get("tools") or []):
        if "cache_control" in tool:
            found.append(("tools", i, tool["cache_control"].get("ttl")))
    system = body.get("system")
    for i, block in enumerate(system if isinstance(system, list) else []):
        if "cache_control" in block:
            found.append(("system", i, block["cache_control"].get("ttl")))
    for i, message in enumerate(body.get("messages") or []):
        content = message["content"]
        for j, block in enumerate(content if isinstance(content, list) else []):
            if "cache_control" in block:
                found.append(("messages", i, j, block["cache_control"].get("ttl")))
            for inner in block.get("content") if isinstance(block.get("content"), list) else []:
                if "cache_control" in inner:
                    found.append(("messages", i, j, "inner", inner["cache_control"].get("ttl")))
    return found


def stripped(value: Any) -> Any:
    """``value`` with every ``cache_control`` taken out."""
    if isinstance(value, dict):
        return {k: stripped(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [stripped(v) for v in value]
    return value


def capture(path: str) -> dict[str, Any]:
    return orjson.loads(Path(path).read_bytes())


def words(tokens: int, seed: str = "policy") -> str:
    """Text the gateway estimates at about ``tokens`` tokens (4 characters a token)."""
    unit = f"{seed} clause {{}} applies to every request. "
    out: list[str] = []
    size = 0
    n = 0
    while size < tokens * 4:
        piece = unit.format(n)
        out.append(piece)
        size += len(piece)
        n += 1
    return "".join(out)
