"""Client authentication against ``server.auth_keys``.

A request may present its key the way any of the four SDKs does: ``Authorization: Bearer <key>``
(OpenAI), ``x-api-key`` (Anthropic), ``x-goog-api-key`` or the ``?key=`` query parameter
(Gemini). Every presented value is compared with every configured key in constant time
(:func:`hmac.compare_digest`). These keys only admit clients; upstream credentials always come
from the provider configuration.
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qsl

from ..core.errors import ErrorKind, GatewayError
from .http import Scope

_KEY_HEADERS = (b"x-api-key", b"x-goog-api-key")


class Authenticator:
    __slots__ = ("_keys",)

    def __init__(self, keys: list[str]) -> None:
        self._keys = tuple(k.encode() for k in keys)

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def check(self, scope: Scope) -> None:
        """Raise a 401 GatewayError unless the request carries a configured key."""
        if not self._keys:
            return
        presented = list(_presented(scope))
        if not presented:
            raise GatewayError(
                ErrorKind.AUTHENTICATION,
                "missing API key: send it as 'Authorization: Bearer <key>', 'x-api-key' or 'x-goog-api-key'",
            )
        ok = False
        for value in presented:
            for key in self._keys:
                ok |= hmac.compare_digest(value, key)
        if not ok:
            raise GatewayError(ErrorKind.AUTHENTICATION, "invalid API key")


def _presented(scope: Scope) -> list[bytes]:
    values = []
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                values.append(token.strip())
        elif name in _KEY_HEADERS and value:
            values.append(value.strip())
    query = scope.get("query_string") or b""
    if b"key=" in query:
        for name, value in parse_qsl(query.decode("latin-1")):
            if name == "key" and value:
                values.append(value.encode("latin-1"))
    return values
