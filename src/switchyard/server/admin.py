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

from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from ..core.errors import ErrorKind, GatewayError, RequestError
from ..governance import Governance

PREFIXES = ("/admin/client-keys", "/admin/teams")


Call = Callable[[Governance, str, bytes], Awaitable[Any]]

# (collection, path shape, method) -> (status, call(governance, id or name, body))
ROUTES: dict[tuple[str, str, str], tuple[int, Call]] = {
    ("client-keys", "", "POST"): (201, lambda g, _, raw: g.create_key(_body(raw))),
    ("client-keys", "", "GET"): (200, lambda g, _, raw: g.list_keys()),
    ("client-keys", "{}", "GET"): (200, lambda g, key_id, raw: g.show_key(key_id)),
    ("client-keys", "{}", "PATCH"): (200, lambda g, key_id, raw: g.update_key(key_id, _body(raw))),
    ("client-keys", "{}", "DELETE"): (200, lambda g, key_id, raw: g.revoke_key(key_id)),
    ("client-keys", "{}/rotate", "POST"): (201, lambda g, key_id, raw: g.rotate_key(key_id)),
    ("teams", "", "POST"): (201, lambda g, _, raw: g.create_team(_body(raw))),
    ("teams", "", "GET"): (200, lambda g, _, raw: g.list_teams()),
    ("teams", "{}", "GET"): (200, lambda g, name, raw: g.show_team(name)),
    ("teams", "{}", "PATCH"): (200, lambda g, name, raw: g.update_team(name, _body(raw))),
    ("teams", "{}", "DELETE"): (200, lambda g, name, raw: g.delete_team(name)),
}
SHAPES = {shape for _, shape, _ in ROUTES}


async def handle(gov: Governance, method: str, path: str, raw: bytes) -> tuple[int, Any]:
    """(status, JSON payload) for one admin API call; raises GatewayError (404, 405, 400, 409)."""
    collection, _, rest = path.partition("/admin/")[2].partition("/")
    ident, _, tail = rest.partition("/")
    shape = ("{}" if ident else "") + (f"/{tail}" if tail else "")
    route = ROUTES.get((collection, shape, method))
    if route is not None:
        status, call = route
        return status, await call(gov, ident, raw)
    if shape in SHAPES and collection in ("client-keys", "teams"):
        raise GatewayError(ErrorKind.INVALID_REQUEST, f"{method} is not allowed on {path}", status=405)
    raise GatewayError(ErrorKind.NOT_FOUND, f"no such endpoint: {method} {path}")


def _body(raw: bytes) -> Any:
    try:
        return orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError as exc:
        raise RequestError(f"the request body is not valid JSON: {exc}") from None
