"""The admin side of governance: client keys and teams made, shown, changed, rotated, revoked.

:class:`AdminOps` is a part of :class:`~switchyard.governance.service.Governance` (its base),
kept apart so the request path and the admin API each read on their own. Every change is
written to the records first, then announced (a new version with the counters) so every process
reloads before its next request.
"""

from __future__ import annotations

import abc
import secrets
from collections.abc import Callable
from typing import Any

from ..core.errors import ErrorKind, GatewayError
from .counters import Counters
from .model import (
    KEY_FIELDS,
    KEY_PREFIX,
    NANO,
    TEAM_FIELDS,
    ClientKey,
    Limits,
    Subject,
    Team,
    iso,
    key_hash,
    parse_fields,
)
from .records import Records


class AdminOps(abc.ABC):
    """Admin operations over the state :class:`Governance` keeps."""

    records: Records
    counters: Counters
    clock: Callable[[], float]
    rate_window: float
    shared: bool
    _by_id: dict[str, ClientKey]
    _teams: dict[str, Team]

    @abc.abstractmethod
    async def _changed(self) -> None:
        """Announce a change to keys or teams (every process reloads)."""

    @abc.abstractmethod
    async def _reload(self, *, if_stale: bool = False) -> None: ...

    @abc.abstractmethod
    def window(self, subject: Subject, now: float) -> tuple[str, float | None]: ...

    # ------------------------------------------------------------------ admin: client keys

    def _key(self, key_id: str) -> ClientKey:
        key = self._by_id.get(key_id)
        if key is None:
            raise GatewayError(ErrorKind.NOT_FOUND, f"no client key with id '{key_id}'")
        return key

    def _editable(self, key_id: str) -> ClientKey:
        key = self._key(key_id)
        if key.source == "config":
            raise GatewayError(
                ErrorKind.INVALID_REQUEST,
                f"client key '{key_id}' is declared in the configuration (server.auth_keys); change it there",
                status=409,
            )
        if key.revoked_at is not None:
            raise GatewayError(ErrorKind.INVALID_REQUEST, f"client key '{key_id}' is revoked", status=409)
        return key

    def _team_named(self, fields: dict[str, Any]) -> None:
        team = fields.get("team")
        if team is not None and team not in self._teams:
            raise GatewayError(ErrorKind.INVALID_REQUEST, f"no team named '{team}' (create it first)", param="team")

    async def create_key(self, body: Any) -> dict[str, Any]:
        await self._fresh()
        fields = parse_fields(body, KEY_FIELDS, create=True)
        self._team_named(fields)
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        now = self.clock()
        key = ClientKey(
            created_at=now,
            budget=fields.get("budget"),
            limits=fields.get("limits") or Limits(),
            id="ck_" + secrets.token_hex(8),
            name=fields["name"],
            hash=key_hash(secret),
            hint=secret[len(KEY_PREFIX) : len(KEY_PREFIX) + 4],
            team=fields.get("team"),
            models=fields.get("models"),
            expires_at=fields.get("expires_at"),
            metadata=fields.get("metadata") or {},
            updated_at=now,
        )
        await self.records.put_key(key)
        await self._changed()
        return {**key.public(), "key": secret}

    async def list_keys(self) -> dict[str, Any]:
        await self._fresh()
        data = sorted((k.public() for k in self._by_id.values()), key=lambda k: k["created_at"] or "")
        return {"object": "list", "data": data}

    async def show_key(self, key_id: str) -> dict[str, Any]:
        await self._fresh()
        key = self._key(key_id)
        return {**key.public(), **await self._usage(key)}

    async def update_key(self, key_id: str, body: Any) -> dict[str, Any]:
        await self._fresh()
        key = self._editable(key_id)
        fields = parse_fields(body, KEY_FIELDS, create=False)
        self._team_named(fields)
        self._apply(key, fields)
        await self.records.put_key(key)
        await self._changed()
        return await self.show_key(key_id)

    def _apply(self, subject: ClientKey | Team, fields: dict[str, Any]) -> None:
        """A partial update: the fields given (null clears one; cleared limits are no limits)."""
        for name, value in fields.items():
            setattr(subject, name, Limits() if name == "limits" and value is None else value)
        subject.metadata = subject.metadata or {}
        subject.updated_at = self.clock()

    async def rotate_key(self, key_id: str) -> dict[str, Any]:
        await self._fresh()
        key = self._editable(key_id)
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key.hash, key.hint = key_hash(secret), secret[len(KEY_PREFIX) : len(KEY_PREFIX) + 4]
        key.updated_at = self.clock()
        await self.records.put_key(key)
        await self._changed()
        return {**self._key(key_id).public(), "key": secret}

    async def revoke_key(self, key_id: str) -> dict[str, Any]:
        await self._fresh()
        key = self._editable(key_id)
        key.revoked_at = key.updated_at = self.clock()
        await self.records.put_key(key)
        await self._changed()
        return self._key(key_id).public()

    async def _usage(self, subject: Subject) -> dict[str, Any]:
        now = self.clock()
        window, resets = self.window(subject, now)
        state = await self.counters.state(subject.subject, window, int(now // self.rate_window), now)
        return {
            "spend": {"usd": state.spent_nano / NANO, "window": window, "window_resets_at": iso(resets)},
            "reserved_usd": state.reserved_nano / NANO,
            "in_flight": state.in_flight,
            "rate_window": {"requests": state.requests, "tokens": state.tokens, "seconds": self.rate_window},
        }

    async def _fresh(self) -> None:
        """Reload when another process changed keys or teams (admin reads see the shared view)."""
        if self.shared:
            await self._reload(if_stale=True)

    # ------------------------------------------------------------------ admin: teams

    def _team(self, name: str) -> Team:
        team = self._teams.get(name)
        if team is None:
            raise GatewayError(ErrorKind.NOT_FOUND, f"no team named '{name}'")
        return team

    async def create_team(self, body: Any) -> dict[str, Any]:
        await self._fresh()
        fields = parse_fields(body, TEAM_FIELDS, create=True)
        if fields["name"] in self._teams:
            raise GatewayError(ErrorKind.INVALID_REQUEST, f"a team named '{fields['name']}' exists", status=409)
        now = self.clock()
        team = Team(
            created_at=now,
            budget=fields.get("budget"),
            limits=fields.get("limits") or Limits(),
            name=fields["name"],
            metadata=fields.get("metadata") or {},
            updated_at=now,
        )
        await self.records.put_team(team)
        await self._changed()
        return self._team(team.name).public()

    async def list_teams(self) -> dict[str, Any]:
        await self._fresh()
        return {"object": "list", "data": [t.public() for t in self._teams.values()]}

    async def show_team(self, name: str) -> dict[str, Any]:
        await self._fresh()
        team = self._team(name)
        keys = [k.id for k in self._by_id.values() if k.team == name and k.revoked_at is None]
        return {**team.public(), **await self._usage(team), "keys": keys}

    async def update_team(self, name: str, body: Any) -> dict[str, Any]:
        await self._fresh()
        team = self._team(name)
        fields = parse_fields(body, TEAM_FIELDS, create=False)
        if fields.get("name", name) != name:
            raise GatewayError(ErrorKind.INVALID_REQUEST, "a team cannot be renamed", param="name")
        self._apply(team, fields)
        await self.records.put_team(team)
        await self._changed()
        return await self.show_team(name)

    async def delete_team(self, name: str) -> dict[str, Any]:
        await self._fresh()
        team = self._team(name)
        members = [k.id for k in self._by_id.values() if k.team == name and k.revoked_at is None]
        if members:
            raise GatewayError(
                ErrorKind.INVALID_REQUEST,
                f"team '{name}' still has active keys ({', '.join(members)}): move or revoke them first",
                status=409,
            )
        await self.records.delete_team(name)
        await self._changed()
        return {"name": team.name, "deleted": True}
