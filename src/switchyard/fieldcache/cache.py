"""The field cache: record provider state from upstream output, re-attach it to later requests.

Recording evaluates each rule's extract path on the core Response (or on the request, for
``source: request`` rules), renders the stored values and writes them through the
:class:`~switchyard.store.KVStore` (orjson bytes, with a TTL) under keys built by
:mod:`.keys`. Injection looks up only what the request can use (the tool-call ids it holds, the
hashes of its assistant messages, its last user turn), all lookups at once, and applies each hit
at its anchor on a JSON copy of that message (or of the request), which is decoded back into
core objects. The request given to :meth:`FieldCache.inject` is never mutated; a request with
nothing to inject is returned as it is.

Failure policy: a missing scope field makes a rule do nothing; a store error is logged and the
request goes on without the cached values (the upstream's own error then says what is missing);
a stored value that no longer decodes into core objects is skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson

from ..core.model import ID_MINTED, Message, Part, Request, Response, ToolCallPart
from ..store.base import KVStore
from ..store.memory import MemoryKVStore
from .keys import Scope, assistant_turn_key, cache_key, call_key, user_turn_key
from .neutral import from_json, to_json
from .paths import find, get_at, insert_at, merge_at, set_at
from .rules import Rule, extract, selected
from .stream import StreamRecorder

log = logging.getLogger("switchyard.fieldcache")

DEFAULT_TTL = 3600.0


@dataclass(slots=True)
class _Lookup:
    """One value an injection looks for: ``rule``'s entry of ``kind`` / ``turn`` under the scope
    values ``values``, for message ``msg`` (None: the request) and tool call ``call_id`` / ``name``."""

    rule: Rule
    values: tuple[str, ...] | None
    kind: str
    turn: str = ""
    msg: int | None = None
    call_id: str | None = None
    name: str | None = None

    def key(self, protocol: str) -> str:
        assert self.values is not None
        return cache_key(self.rule.name, protocol, self.values, self.kind, self.turn)


@dataclass(slots=True)
class _Op:
    """One injection: ``values`` of ``rule`` at message ``msg`` (None: the request), at the
    tool call ``call_id`` when the rule's anchor is ``tool_call``."""

    rule: Rule
    values: list[Any]
    msg: int | None = None
    call_id: str | None = None


class FieldCache:
    """See the package docstring for the API and :mod:`.rules` for the rule format."""

    def __init__(self, kv: KVStore, rules: Iterable[Rule], ttl: float = DEFAULT_TTL) -> None:
        if ttl <= 0:
            raise ValueError("the field-cache TTL must be positive")
        self.kv = kv
        self.ttl = ttl
        self.rules: dict[str, list[Rule]] = {}
        names: set[str] = set()
        for rule in rules:
            if rule.name in names:
                raise ValueError(f"two field-cache rules are named {rule.name!r}")
            names.add(rule.name)
            if rule.enabled:
                for protocol in rule.protocols:
                    self.rules.setdefault(protocol, []).append(rule)

    def applies(self, protocol: str) -> bool:
        """Whether any rule applies to ``protocol`` (nothing to do otherwise)."""
        return protocol in self.rules

    # ------------------------------------------------------------------------------ record

    async def record_response(self, resp: Response, protocol: str, scope: Scope) -> None:
        """Keep what the ``response`` rules of ``protocol`` extract from ``resp``."""
        rules = [r for r in self.rules.get(protocol, ()) if r.extract.source == "response"]
        await self._record(rules, resp, protocol, scope, {})

    def stream_recorder(self, protocol: str, scope: Scope) -> StreamRecorder:
        """A recorder for one upstream stream: ``feed(event)`` each core event, ``await finish()``."""
        return StreamRecorder(self, protocol, scope)

    async def _record(
        self,
        rules: Sequence[Rule],
        resp: Response,
        protocol: str,
        scope: Scope,
        extra: dict[str, list[tuple[Any, str | None]]],
    ) -> None:
        """Save hits of ``rules`` on ``resp``, plus ``extra`` hits by rule name (stream rules)."""
        writes = []
        for rule in rules:
            hits = extra[rule.name] if rule.name in extra else extract(rule, resp, protocol)
            if hits:
                writes.append(self._save(rule, protocol, scope, resp.content, hits))
        if writes:
            await asyncio.gather(*writes)

    async def _save(
        self,
        rule: Rule,
        protocol: str,
        scope: Scope,
        content: Sequence[Part],
        hits: list[tuple[Any, str | None]],
        turn: str | None = None,
    ) -> None:
        sv = scope.values(rule.scope)
        if sv is None:
            return
        values = _dedupe(v for v, _ in hits)[-rule.max_values :]
        ttl = rule.ttl or self.ttl
        if rule.mode == "per_tool_call":
            calls = {p.id: p for p in content if isinstance(p, ToolCallPart) and p.id}
            per_id: dict[str, list[Any]] = {cid: [] for cid in calls}
            for value, own in hits:
                for cid in [own] if own is not None else calls:
                    if cid in per_id:
                        per_id[cid].append(value)
            writes = []
            for cid, found in per_id.items():
                kept = _dedupe(found)[-rule.max_values :]
                if kept:
                    entry = {"name": calls[cid].name, "values": kept}
                    writes.append(self._set(cache_key(rule.name, protocol, sv, "call", cid), entry, ttl))
                    by_args = cache_key(rule.name, protocol, sv, "call_args", call_key(calls[cid]))
                    writes.append(self._set(by_args, entry, ttl))  # for a client that drops the id
            await asyncio.gather(*writes)
        elif rule.mode == "last_assistant_turn":
            key = assistant_turn_key(content)
            if key is not None:
                await self._set(cache_key(rule.name, protocol, sv, "assistant", key), {"values": values}, ttl)
        elif rule.mode == "last_user_turn":
            if turn is None:
                raw = await self._get(cache_key(rule.name, protocol, sv, "pending"))
                turn = raw.get("turn") if isinstance(raw, dict) else None
            if isinstance(turn, str):
                await self._set(cache_key(rule.name, protocol, sv, "user", turn), {"values": values}, ttl)
        elif rule.mode == "last":
            await self._set(cache_key(rule.name, protocol, sv, "last"), {"values": values}, ttl)
        else:  # all
            key = cache_key(rule.name, protocol, sv, "all")
            old = await self._get(key)
            known = old.get("values", []) if isinstance(old, dict) else []
            merged = _dedupe([*known, *values][::-1])[::-1][-rule.max_values :]  # a value seen again is newest
            await self._set(key, {"values": merged}, ttl)

    # ------------------------------------------------------------------------------ inject

    async def inject(self, req: Request, protocol: str, scope: Scope) -> Request:
        """``req`` with the cached values of ``protocol``'s rules re-attached (a new Request when
        anything was injected, ``req`` itself otherwise; ``req`` is never mutated)."""
        rules = self.rules.get(protocol)
        if not rules:
            return req
        await self._record_request(req, rules, protocol, scope)
        lookups: list[_Lookup] = []
        turn_keys: list[str | None] | None = None
        for rule in rules:
            sv = scope.values(rule.scope)
            if sv is None:
                continue
            if rule.mode == "per_tool_call":
                for i, msg in enumerate(req.messages):
                    if msg.role != "assistant":
                        continue
                    for p in msg.content:
                        if isinstance(p, ToolCallPart) and p.id:
                            kind, turn = ("call_args", call_key(p)) if p.extensions.get(ID_MINTED) else ("call", p.id)
                            lookups.append(_Lookup(rule, sv, kind, turn, i, p.id, p.name))
            elif rule.mode == "last_assistant_turn":
                if turn_keys is None:
                    turn_keys = [assistant_turn_key(m.content) if m.role == "assistant" else None for m in req.messages]
                for i, key in enumerate(turn_keys):
                    if key is not None:
                        lookups.append(_Lookup(rule, sv, "assistant", key, i))
            elif rule.mode == "last_user_turn":
                turn = user_turn_key(req.messages)
                if turn is None:
                    continue
                if rule.extract.source != "request":
                    await self._set(cache_key(rule.name, protocol, sv, "pending"), {"turn": turn}, rule.ttl or self.ttl)
                target = _last_role(req.messages, "user") if rule.anchor == "message" else None
                lookups.append(_Lookup(rule, sv, "user", turn, target))
            else:
                lookups.append(_Lookup(rule, sv, rule.mode))
        if not lookups:
            return req
        found = await self._get_many([look.key(protocol) for look in lookups])
        found = await self._from_other_keys(lookups, found, protocol, scope)
        ops: dict[tuple[str, int | None, str | None], _Op] = {}
        for look, entry in zip(lookups, found, strict=True):
            rule, msg, call_id, name = look.rule, look.msg, look.call_id, look.name
            if not _usable(entry):
                continue
            if call_id is not None and entry.get("name") not in (None, "", name):
                log.debug("field cache: %s value for %s belongs to another tool, ignored", rule.name, call_id)
                continue
            anchored_call = call_id if rule.anchor == "tool_call" else None
            op = ops.get((rule.name, msg, anchored_call))
            if op is not None:
                op.values = _dedupe([*op.values, *entry["values"]])
            else:
                ops[(rule.name, msg, anchored_call)] = _Op(rule, list(entry["values"]), msg, anchored_call)
        return _apply(req, list(ops.values()), protocol) if ops else req

    async def _from_other_keys(
        self, lookups: list[_Lookup], found: list[Any], protocol: str, scope: Scope
    ) -> list[Any]:
        """``found`` with each miss of a rule scoped by credential looked up again under the
        provider's other keys (the first hit in pool order wins): the key that issued a tool
        loop's state may no longer be usable, and its other keys accept that state."""
        misses = [n for n, entry in enumerate(found) if not _usable(entry) and "key_id" in lookups[n].rule.scope]
        if not misses or not scope.other_keys:
            return found
        tries = [(n, replace(lookups[n], values=scope.under(k).values(lookups[n].rule.scope))) for n in misses
                 for k in scope.other_keys]  # fmt: skip
        again = await self._get_many([look.key(protocol) for _, look in tries])
        found = list(found)
        for (n, _), entry in zip(tries, again, strict=True):
            if not _usable(found[n]) and _usable(entry):
                found[n] = entry
        return found

    async def _record_request(self, req: Request, rules: Sequence[Rule], protocol: str, scope: Scope) -> None:
        """Keep what ``request`` rules find in what the client sent. Per-message modes look at the
        last assistant message only: earlier ones were the last one of an earlier request."""
        writes = []
        for rule in rules:
            if rule.extract.source != "request" or scope.values(rule.scope) is None:
                continue
            if rule.mode in ("per_tool_call", "last_assistant_turn"):
                i = _last_role(req.messages, "assistant")
                if i is None:
                    continue
                msg = req.messages[i]
                hits = extract(rule, msg, protocol)
                if hits:
                    writes.append(self._save(rule, protocol, scope, msg.content, hits))
            else:
                hits = extract(rule, req, protocol)
                if hits:
                    turn = user_turn_key(req.messages) if rule.mode == "last_user_turn" else None
                    writes.append(self._save(rule, protocol, scope, [], hits, turn))
        if writes:
            await asyncio.gather(*writes)

    # ------------------------------------------------------------------------------ store I/O

    async def _get_many(self, keys: list[str]) -> list[Any]:
        # The in-memory store never suspends: plain awaits cost far less than a task per key.
        # Other stores (Redis) answer the lookups concurrently.
        if isinstance(self.kv, MemoryKVStore):
            return [await self._get(key) for key in keys]
        return list(await asyncio.gather(*(self._get(key) for key in keys)))

    async def _get(self, key: str) -> Any:
        try:
            raw = await self.kv.get(key)
            return orjson.loads(raw) if raw is not None else None
        except Exception as exc:  # a store outage must not fail the request
            log.warning("field cache: read failed (%s: %s); going on without it", type(exc).__name__, exc)
            return None

    async def _set(self, key: str, value: Any, ttl: float) -> None:
        try:
            if not await self.kv.set(key, orjson.dumps(value), ttl):
                log.info("field cache: an entry of %d bytes is larger than the store bound", len(orjson.dumps(value)))
        except Exception as exc:
            log.warning("field cache: write failed (%s: %s)", type(exc).__name__, exc)


# ---------------------------------------------------------------------------------- helpers


def _apply(req: Request, ops: list[_Op], protocol: str) -> Request:
    messages = list(req.messages)
    by_msg: dict[int, list[_Op]] = {}
    top: list[_Op] = []
    for op in ops:
        (top if op.msg is None else by_msg.setdefault(op.msg, [])).append(op)
    changed = False
    for i, msg_ops in by_msg.items():
        # tool-call anchors first: message-level inserts would shift the parts
        done = _apply_ops(messages[i], sorted(msg_ops, key=lambda o: o.call_id is None), protocol)
        if done is not None:
            messages[i] = done
            changed = True
    out = replace(req, messages=messages) if changed else req
    if top:
        done = _apply_ops(out, top, protocol)
        if done is not None:
            out = done
            changed = True
    return out if changed else req


def _apply_ops(anchor: Any, ops: list[_Op], protocol: str) -> Any:
    """``anchor`` (a Message or the Request) with ``ops`` applied to its JSON form, decoded back;
    None when every op was skipped. An op whose result does not decode is skipped alone."""
    doc = to_json(anchor)
    result = None
    for op in ops:
        trial = _apply_op(doc, op, protocol)
        if trial is None:
            continue
        try:
            checked = from_json(trial)
        except (ValueError, TypeError) as exc:
            log.warning(
                "field cache: rule %s produced an invalid %s (%s); skipped", op.rule.name, type(anchor).__name__, exc
            )
            continue
        if type(checked) is not type(anchor):
            log.warning("field cache: rule %s changed the kind of its anchor; skipped", op.rule.name)
            continue
        doc, result = trial, checked
        log.debug("field cache: %s injected %d value(s)", op.rule.name, len(op.values))
    return result


def _apply_op(doc: dict[str, Any], op: _Op, protocol: str) -> dict[str, Any] | None:
    """A changed copy of ``doc`` with ``op`` applied; None when it was skipped."""
    rule = op.rule
    target = doc
    at = None
    if op.call_id is not None:
        parts = doc.get("content") or []
        at = next((i for i, p in enumerate(parts) if p.get("kind") == "tool_call" and p.get("id") == op.call_id), None)
        if at is None:
            return None
        target = parts[at]
    for probe in rule.inject.unless:
        if any(selected(m, probe.select, protocol) for _, m in find(target, probe.path)):
            return None
    trial = orjson.loads(orjson.dumps(doc))
    where = trial if at is None else trial["content"][at]
    for probe in rule.inject.replace:
        _remove(where, [w for w, m in find(where, probe.path) if selected(m, probe.select, protocol)])
    values = op.values  # fresh from the store; from_json copies whatever it keeps
    path = rule.inject.path
    if rule.inject.op == "insert":
        written = insert_at(where, path, values)
    elif rule.inject.op == "set":
        written = set_at(where, path, values[0] if len(values) == 1 else values)
    else:
        written = sum(merge_at(where, path, v) for v in values if isinstance(v, dict))
    if not written:
        return None
    if at is not None and where.get("kind") != "tool_call":
        log.warning("field cache: rule %s changed the kind of its anchor; skipped", rule.name)
        return None
    return trial


def _remove(doc: Any, paths: list[tuple[str | int, ...]]) -> None:
    """Delete the list elements at ``paths`` (last ones first, so indexes stay valid)."""
    for where in sorted((w for w in paths if w and isinstance(w[-1], int)), key=lambda w: w[-1], reverse=True):
        parent = get_at(doc, where[:-1])
        if isinstance(parent, list) and 0 <= where[-1] < len(parent):
            del parent[where[-1]]


def _usable(entry: Any) -> bool:
    """A stored entry with values to inject."""
    return isinstance(entry, dict) and isinstance(entry.get("values"), list) and bool(entry["values"])


def _last_role(messages: Sequence[Message], role: str) -> int | None:
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].role == role:
            return i
    return None


def _dedupe(values: Iterable[Any]) -> list[Any]:
    seen: set[bytes] = set()
    out = []
    for value in values:
        key = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        if key not in seen:
            seen.add(key)
            out.append(value)
    return out
