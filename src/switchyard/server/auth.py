"""Who is calling: admin keys, the config's client keys, and client keys made through the admin API.

A request may present its key the way any of the four SDKs does: ``Authorization: Bearer <key>``
(OpenAI), ``x-api-key`` (Anthropic), ``x-goog-api-key`` or the ``?key=`` query parameter
(Gemini). Configured keys (``server.admin_keys``, ``server.auth_keys``) are compared in constant
time (:func:`hmac.compare_digest`); a client key of the admin API is found by its SHA-256 hash
(the only form stored). These keys only admit clients: upstream credentials come from the
provider configuration, except for a passthrough provider (``credentials: passthrough | either``),
which uses the client's own.

A client bringing its own upstream credential puts it where its SDK puts keys, and its gateway key
in ``server.client_key_header`` (``x-switchyard-key``): when that header is present it alone
identifies the caller, and the auth headers carry the upstream credential
(:meth:`Authenticator.credential`). Without it, the auth headers carry the gateway key, unless
client auth is off — then they carry the upstream credential.

Access per route: ``client`` routes (the model endpoints) take client keys and config keys;
``admin`` routes (``/admin/*``) take admin keys only — or, while no admin key is configured, the
config's keys for the read-only ``/admin/keys`` as before; ``operator`` routes (``/metrics``) take
admin and config keys. Client auth is on when any key is configured or a client key exists.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import parse_qsl

from ..core.errors import ErrorKind, GatewayError
from ..governance import ClientKey, Governance
from .http import Headers

_KEY_HEADERS = (b"x-api-key", b"x-goog-api-key")


@dataclass(frozen=True, slots=True)
class Principal:
    kind: str
    """``admin`` | ``config`` (a ``server.auth_keys`` key) | ``client`` (an admin-API key) | ``anonymous``"""
    key: ClientKey | None = None
    """The client key record (for config keys: only when the config gives it limits)."""
    caller: str | None = None
    """Who the key belongs to, as an opaque identity (``key:<id>`` for an admin-API client key, a
    hash of the key for a config key; None: no gateway key, see :func:`caller`)."""


ANONYMOUS = Principal("anonymous")
ADMIN = Principal("admin")
_ALLOWED = {
    "client": ("config", "client", "anonymous"),
    "operator": ("admin", "config", "anonymous"),
    "admin": ("admin", "anonymous"),
    "admin_api": ("admin",),
}


class Authenticator:
    __slots__ = ("_admin", "_config", "_header", "governance", "passthrough")

    def __init__(
        self,
        auth_keys: list[str],
        admin_keys: list[str],
        governance: Governance | None = None,
        client_key_header: str = "x-switchyard-key",
        passthrough: bool = False,
    ) -> None:
        self._config = tuple(k.encode() for k in auth_keys)
        self._admin = tuple(k.encode() for k in admin_keys)
        self._header = client_key_header.encode()
        self.governance = governance
        self.passthrough = passthrough
        """Some provider takes the client's own credential (the errors say where the gateway key goes)."""

    @property
    def enabled(self) -> bool:
        return bool(self._config or self._admin or (self.governance is not None and self.governance.has_keys))

    async def identify(self, headers: Headers, query: bytes = b"") -> Principal:
        """The caller (raises a 401 GatewayError for a missing, unknown, revoked or expired key)."""
        if not self.enabled:
            return ANONYMOUS
        gateway_key = _header(headers, self._header)
        presented = [gateway_key] if gateway_key else _presented(headers, query)
        if self.governance is not None and not self.governance.loaded:
            if any(_among(value, self._admin) for value in presented):
                return ADMIN
            raise GatewayError(
                ErrorKind.UNAVAILABLE,
                "the gateway cannot check client keys yet (its governance database is unreachable); retry shortly",
                retry_after=5,
            )
        if not presented:
            raise GatewayError(
                ErrorKind.AUTHENTICATION,
                "missing API key: send it as 'Authorization: Bearer <key>', 'x-api-key' or 'x-goog-api-key'"
                + self._beside(),
            )
        for value in presented:
            if _among(value, self._admin):
                return ADMIN
            if _among(value, self._config):
                key = self.governance.config_key(value) if self.governance is not None else None
                if key is not None and self.governance is not None:
                    self.governance.check_key(key)  # a config key may have an expiry too
                return Principal("config", key, _digest(value))
        if self.governance is not None:
            for value in presented:
                key = await self.governance.lookup(value)
                if key is not None and key.source == "api":
                    self.governance.check_key(key)
                    return Principal("client", key, "key:" + key.id)
        raise GatewayError(ErrorKind.AUTHENTICATION, "invalid API key" + ("" if gateway_key else self._beside()))

    def _beside(self) -> str:
        if not self.passthrough:
            return ""
        return f" (a client bringing its own upstream credential sends the gateway key in '{self._header.decode()}')"

    def credential(self, headers: Headers, query: bytes = b"") -> str | None:
        """The client's own upstream credential: what its auth headers carry when they do not
        carry its gateway key (see the module doc)."""
        if self.enabled and not _header(headers, self._header):
            return None
        presented = _presented(headers, query)
        return presented[0].decode("latin-1") if presented else None

    def permit(self, principal: Principal, access: str) -> None:
        """Raise a 403 unless ``principal`` may use a route of ``access``."""
        allowed = _ALLOWED[access]
        if access == "admin" and not self._admin:
            allowed = (*allowed, "config")  # no admin keys: /admin/keys stays readable as before
        if principal.kind in allowed:
            return
        if access == "admin_api" and not self._admin:
            raise GatewayError(ErrorKind.PERMISSION, "the admin API is off: set server.admin_keys to use it")
        if principal.kind == "admin":
            raise GatewayError(
                ErrorKind.PERMISSION, "admin keys are for /admin/*; call the model endpoints with a client key"
            )
        raise GatewayError(ErrorKind.PERMISSION, "this endpoint needs an admin key (server.admin_keys)")


def caller(principal: Principal, headers: Headers, query: bytes = b"") -> str:
    """The caller's gateway identity: its gateway key's, else a hash of the credential its auth
    headers carry (client auth off, or a passthrough client), else ``client:anonymous``. It scopes
    the field cache and the stored Responses (a caller sees only the responses it stored)."""
    if principal.caller is not None:
        return principal.caller
    presented = _presented(headers, query)
    return _digest(presented[0]) if presented else "client:anonymous"


def _digest(secret: bytes) -> str:
    return "client:" + hashlib.sha256(secret).hexdigest()[:24]


def _among(value: bytes, keys: tuple[bytes, ...]) -> bool:
    found = False
    for key in keys:
        found |= hmac.compare_digest(value, key)
    return found


def _header(headers: Headers, name: bytes) -> bytes | None:
    for key, value in headers:
        if key == name and value.strip():
            return value.strip()
    return None


def _presented(headers: Headers, query: bytes) -> list[bytes]:
    values = []
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                values.append(token.strip())
        elif name in _KEY_HEADERS and value:
            values.append(value.strip())
    if b"key=" in query:
        for name, value in parse_qsl(query.decode("latin-1")):
            if name == "key" and value:
                values.append(value.encode("latin-1"))
    return values
