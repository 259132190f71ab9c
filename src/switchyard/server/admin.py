"""The admin API for client keys and teams (JSON; admin keys only — see ``auth.py``).

::

    POST   /admin/client-keys                 201 {id, key, ...}   (the only time ``key`` is shown)
    GET    /admin/client-keys                 {"object": "list", "data": [...]}
    GET    /admin/client-keys/{id}            the key with spend, reserved_usd, in_flight
    PATCH  /admin/client-keys/{id}            partial update (name, team, models, expires_at, metadata, budget, limits)
    DELETE /admin/client-keys/{id}            revoke (the record stays, marked revoked_at)
    POST   /admin/client-keys/{id}/rotate     201 {id, key, ...}   (the old key stops working)
    POST   /admin/teams                       201 the team
    GET    /admin/teams                       the list
    GET | PATCH | DELETE /admin/teams/{name}
"""

from __future__ import annotations

from typing import Any

import orjson

from ..core.errors import ErrorKind, GatewayError, RequestError
from ..governance import Governance

KEYS = "/admin/client-keys"
TEAMS = "/admin/teams"
PREFIXES = (KEYS, TEAMS)


async def handle(gov: Governance, method: str, path: str, raw: bytes) -> tuple[int, Any]:
    """(status, JSON payload) for one admin API call; raises GatewayError (404, 405, 400, 409)."""
    collection, _, rest = path.partition("/admin/")[2].partition("/")
    parts = [p for p in rest.split("/") if p] if rest else []
    if collection == "client-keys":
        return await _keys(gov, method, parts, raw)
    if collection == "teams":
        return await _teams(gov, method, parts, raw)
    raise GatewayError(ErrorKind.NOT_FOUND, f"no such endpoint: {method} {path}")


def _body(raw: bytes) -> Any:
    try:
        return orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError as exc:
        raise RequestError(f"the request body is not valid JSON: {exc}") from None


async def _keys(gov: Governance, method: str, parts: list[str], raw: bytes) -> tuple[int, Any]:
    if not parts:
        if method == "POST":
            return 201, await gov.create_key(_body(raw))
        if method == "GET":
            return 200, await gov.list_keys()
    elif len(parts) == 1:
        key_id = parts[0]
        if method == "GET":
            return 200, await gov.show_key(key_id)
        if method == "PATCH":
            return 200, await gov.update_key(key_id, _body(raw))
        if method == "DELETE":
            return 200, await gov.revoke_key(key_id)
    elif len(parts) == 2 and parts[1] == "rotate" and method == "POST":
        return 201, await gov.rotate_key(parts[0])
    raise _not_allowed(method, KEYS, parts)


async def _teams(gov: Governance, method: str, parts: list[str], raw: bytes) -> tuple[int, Any]:
    if not parts:
        if method == "POST":
            return 201, await gov.create_team(_body(raw))
        if method == "GET":
            return 200, await gov.list_teams()
    elif len(parts) == 1:
        name = parts[0]
        if method == "GET":
            return 200, await gov.show_team(name)
        if method == "PATCH":
            return 200, await gov.update_team(name, _body(raw))
        if method == "DELETE":
            return 200, await gov.delete_team(name)
    raise _not_allowed(method, TEAMS, parts)


def _not_allowed(method: str, base: str, parts: list[str]) -> GatewayError:
    path = "/".join([base, *parts])
    if len(parts) > 2:
        return GatewayError(ErrorKind.NOT_FOUND, f"no such endpoint: {method} {path}")
    return GatewayError(ErrorKind.INVALID_REQUEST, f"{method} is not allowed on {path}", status=405)
