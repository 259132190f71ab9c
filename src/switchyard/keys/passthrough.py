"""Clients' own credentials (``credentials: passthrough | either``): their ids and their state.

A passthrough credential is never stored, logged or used as a name. It is known by its *id*: a
keyed hash (HMAC-SHA256 under a per-installation secret, ``data_dir/passthrough.key``, made on
first use with mode 0600) cut to 12 hex digits, prefixed ``pt-``. Without the secret the id
cannot be checked against a guessed credential. The id names the credential's key-pool state
(cooldowns and rate-limit strikes per model), its field-cache scope and its usage-log rows.

Each credential seen gets a one-key :class:`~switchyard.keys.pool.KeyPool` of its own whose key
is empty — the credential travels with its request — so one client's cooldowns never touch
another's. The most recently used :data:`REMEMBERED` pools are kept per provider; this state is
per process (not shared through Redis).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .pool import KeyPool

SECRET_FILE = "passthrough.key"
REMEMBERED = 10_000
"""Client credentials whose pool state a provider keeps (least recently used dropped first)."""


@dataclass(frozen=True, slots=True)
class Credential:
    """A client's own upstream credential, for one request."""

    value: str = field(repr=False)
    id: str


def installation_secret(data_dir: Path) -> bytes:
    """The installation's HMAC secret for credential ids, created (0600) when missing."""
    path = Path(data_dir) / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_bytes()
        if len(secret) < 32:
            raise ValueError(f"{path} holds fewer than 32 bytes: remove it to make a new secret") from None
        return secret
    secret = secrets.token_bytes(32)
    try:
        os.write(fd, secret)
    finally:
        os.close(fd)
    return secret


class CredentialIds:
    """Makes :class:`Credential` objects: a credential's value with its keyed-hash id."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def __call__(self, value: str) -> Credential:
        digest = hmac.new(self._secret, value.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()
        return Credential(value, "pt-" + digest[:12])


class PassthroughPools:
    """One provider's pools of client credentials, by credential id (see the module doc)."""

    __slots__ = ("_make", "_pools")

    def __init__(self, make: Callable[[str], KeyPool]) -> None:
        self._make = make
        self._pools: OrderedDict[str, KeyPool] = OrderedDict()

    def get(self, credential_id: str) -> KeyPool:
        pool = self._pools.get(credential_id)
        if pool is None:
            pool = self._pools[credential_id] = self._make(credential_id)
            if len(self._pools) > REMEMBERED:
                self._pools.popitem(last=False)
        else:
            self._pools.move_to_end(credential_id)
        return pool

    def __len__(self) -> int:
        return len(self._pools)
