"""Isolation (session, key, provider, model, protocol), fail-closed scopes, store bounds and
store failures. One test runs on the Redis backend (127.0.0.1:6379; it fails when Redis is
absent, it never skips)."""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import replace

import pytest
import redis
from fc_helpers import SCOPE, assistant_turn, decode, gemini_strict_error, new_cache, raw, record_stream, run

from switchyard.core.model import ID_MINTED, Message, Request, Response, TextPart, ToolCallPart, ToolResultPart
from switchyard.fieldcache import Extract, FieldCache, Inject, Rule, Scope, builtin_rules
from switchyard.protocols import codec
from switchyard.store import KVStore, MemoryKVStore
from switchyard.store.redis import RedisKVStore, connect

gemini = codec("gemini")
REDIS_URL = os.environ.get("SWITCHYARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
EVENTS = decode("gemini", raw("gemini/stream_parallel_calls_gemini3.sse"))


def _turn2(resp: Response) -> Request:
    step = assistant_turn(resp)
    calls = [p for p in step.content if isinstance(p, ToolCallPart)]
    results = Message("tool", [ToolResultPart(c.id, [TextPart("5")]) for c in calls])
    return Request("gemini-3-flash-preview", [Message("user", [TextPart("q")]), step, results], protocol="openai_chat")


async def _recorded(cache: FieldCache, scope: Scope = SCOPE) -> Request:
    return _turn2(await record_stream(cache, "gemini", scope, EVENTS))


@pytest.mark.parametrize(
    "other",
    [
        replace(SCOPE, session="session-2"),
        replace(SCOPE, key_id="key-2"),
        replace(SCOPE, provider="upstream-b"),
        replace(SCOPE, model="model-y"),
    ],
    ids=["session", "key", "provider", "model"],
)
def test_values_never_cross_scopes(other: Scope) -> None:
    cache = new_cache()

    async def flow() -> None:
        req = await _recorded(cache)
        assert await cache.inject(req, "gemini", other) is req
        assert gemini_strict_error(gemini.build_request(await cache.inject(req, "gemini", SCOPE))) is None

    run(flow())


def test_value_issued_under_one_key_is_found_under_another_key_of_the_provider() -> None:
    """The key that issued a tool loop's state is no longer usable: another key of the same
    provider looks it up under the provider's other keys (its own values first); the session and
    the provider still bound it."""
    cache = new_cache()
    other_key = replace(SCOPE, key_id="key-2", other_keys=("key-3", SCOPE.key_id))

    async def flow() -> None:
        req = await _recorded(cache)
        moved = gemini.build_request(await cache.inject(req, "gemini", other_key))
        assert gemini_strict_error(moved) is None
        assert moved == gemini.build_request(await cache.inject(req, "gemini", SCOPE))
        for stranger in (replace(other_key, session="session-2"), replace(other_key, provider="upstream-b")):
            assert await cache.inject(req, "gemini", stranger) is req

    run(flow())


def test_call_sent_back_without_its_id_is_matched_by_name_and_arguments() -> None:
    """A client that dropped the call ids (the parser minted new ones, marked ID_MINTED) gets the
    state back by name and arguments; other arguments, or another session, get nothing."""
    cache = new_cache()

    def id_less(req: Request, arguments: str | None = None) -> Request:
        def strip(p):
            if isinstance(p, ToolResultPart):
                return replace(p, tool_call_id="call_gm" + p.tool_call_id)
            if not isinstance(p, ToolCallPart):
                return p
            return replace(p, id="call_gm" + p.id, arguments=arguments or p.arguments, extensions={ID_MINTED: True})

        return replace(req, messages=[replace(m, content=[strip(p) for p in m.content]) for m in req.messages])

    async def flow() -> None:
        req = id_less(await _recorded(cache))
        assert gemini_strict_error(gemini.build_request(req)) is not None
        assert gemini_strict_error(gemini.build_request(await cache.inject(req, "gemini", SCOPE))) is None
        other_args = id_less(await _recorded(cache), '{"a": 999}')
        assert await cache.inject(other_args, "gemini", SCOPE) is other_args
        assert await cache.inject(req, "gemini", replace(SCOPE, session="session-2")) is req

    run(flow())


def test_two_sessions_keep_their_own_values() -> None:
    """Same tool-call ids in two sessions with different signatures: each gets its own."""
    cache = new_cache()
    alt = [replace(e, signature="OTHER-SESSION-SIG") if hasattr(e, "signature") else e for e in EVENTS]
    s2 = replace(SCOPE, session="session-2")

    async def flow() -> None:
        req = await _recorded(cache, SCOPE)
        await record_stream(cache, "gemini", s2, alt)
        one = gemini.build_request(await cache.inject(req, "gemini", SCOPE))
        two = gemini.build_request(await cache.inject(req, "gemini", s2))
        assert one["contents"][1]["parts"][0]["thoughtSignature"] != "OTHER-SESSION-SIG"
        assert two["contents"][1]["parts"][0]["thoughtSignature"] == "OTHER-SESSION-SIG"

    run(flow())


def test_values_never_cross_provider_protocols() -> None:
    """A rule shared by two protocols keeps their values apart; other protocols' rules never
    see them."""
    shared = Rule(
        "shared.call_signature",
        ("gemini", "openai_chat"),
        "per_tool_call",
        Extract(path="content[kind=tool_call]", select=((("signature", "*"),),)),
        Inject(anchor="tool_call", path="", op="merge"),
    )
    cache = FieldCache(MemoryKVStore(), [*builtin_rules(), shared])

    async def flow() -> None:
        req = await _recorded(cache)
        assert await cache.inject(req, "openai_chat", SCOPE) is req
        assert await cache.inject(req, "anthropic", SCOPE) is req
        assert await cache.inject(req, "openai_responses", SCOPE) is req
        assert await cache.inject(req, "gemini", SCOPE) is not req

    run(flow())


@pytest.mark.parametrize("missing", ["provider", "model", "key_id", "session"])
@pytest.mark.parametrize("empty", [None, ""])
def test_fail_closed_when_a_scope_field_is_missing(missing: str, empty: str | None) -> None:
    partial = replace(SCOPE, **{missing: empty})
    cache = new_cache()

    async def flow() -> None:
        req = await _recorded(cache, partial)
        assert len(cache.kv) == 0  # type: ignore[arg-type]  nothing recorded
        await record_stream(cache, "gemini", SCOPE, EVENTS)
        assert await cache.inject(req, "gemini", partial) is req  # nothing injected

    run(flow())


def test_a_rule_may_leave_session_out_of_its_scope() -> None:
    """Deployments without session signals can scope a rule by provider, model and key only."""
    rules = [replace(r, scope=("provider", "model", "key_id")) for r in builtin_rules("gemini")]
    cache = FieldCache(MemoryKVStore(), rules)
    no_session = replace(SCOPE, session=None)

    async def flow() -> None:
        req = await _recorded(cache, no_session)
        assert gemini_strict_error(gemini.build_request(await cache.inject(req, "gemini", no_session))) is None
        assert await cache.inject(req, "gemini", replace(no_session, key_id="key-2")) is req

    run(flow())


def test_isolation_on_redis() -> None:
    sync = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        sync.ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"this test needs Redis at {REDIS_URL} and it is not reachable ({exc}); "
            "start redis-server or set SWITCHYARD_TEST_REDIS_URL",
            pytrace=False,
        )
    prefix = f"switchyard-test:{uuid.uuid4().hex}:"

    async def flow() -> None:
        kv = RedisKVStore(connect(REDIS_URL), prefix=prefix, owns_client=True)
        try:
            replica_a, replica_b = new_cache(kv), new_cache(kv)
            req = await _recorded(replica_a, SCOPE)
            # another replica sharing the store re-attaches the value ...
            body = gemini.build_request(await replica_b.inject(req, "gemini", SCOPE))
            assert gemini_strict_error(body) is None
            # ... but only for the same scope
            for other in (replace(SCOPE, session="s2"), replace(SCOPE, key_id="k2"), replace(SCOPE, provider="p2")):
                assert await replica_b.inject(req, "gemini", other) is req
        finally:
            await kv.close()

    try:
        run(flow())
        assert any(k.startswith(prefix.encode()) for k in sync.scan_iter(match=prefix + "*"))
    finally:
        keys = list(sync.scan_iter(match=prefix + "*", count=1000))
        if keys:
            sync.delete(*keys)
        sync.close()


# ------------------------------------------------------------------------------ bounds


def _call_response(i: int, sig: str = "sig") -> Response:
    return Response(f"r{i}", "m", [ToolCallPart(f"call-{i}", "f", "{}", f"{sig}-{i}", "gemini")], protocol="gemini")


def _call_request(i: int) -> Request:
    return Request(
        "m",
        [
            Message("user", [TextPart("q")]),
            Message("assistant", [ToolCallPart(f"call-{i}", "f", "{}")]),
            Message("tool", [ToolResultPart(f"call-{i}", [TextPart("r")])]),
        ],
        protocol="openai_chat",
    )


def _injected_signature(req: Request) -> str | None:
    return req.messages[1].content[0].signature  # type: ignore[union-attr]


def test_entry_bound_evicts_the_least_recently_used() -> None:
    kv = MemoryKVStore(max_entries=3)
    cache = new_cache(kv, "gemini")

    async def flow() -> None:
        for i in range(5):
            await cache.record_response(_call_response(i), "gemini", SCOPE)
        assert len(kv) == 3
        assert _injected_signature(await cache.inject(_call_request(0), "gemini", SCOPE)) is None
        assert _injected_signature(await cache.inject(_call_request(1), "gemini", SCOPE)) is None
        assert _injected_signature(await cache.inject(_call_request(4), "gemini", SCOPE)) == "sig-4"

    run(flow())


def test_byte_bound_refuses_oversized_values_and_evicts_old_ones() -> None:
    kv = MemoryKVStore(max_bytes=600)
    cache = new_cache(kv, "gemini")

    async def flow() -> None:
        await cache.record_response(_call_response(0, "x" * 1000), "gemini", SCOPE)
        assert len(kv) == 0  # one entry alone is over the bound: not stored
        assert _injected_signature(await cache.inject(_call_request(0), "gemini", SCOPE)) is None
        for i in range(1, 6):
            await cache.record_response(_call_response(i, "y" * 100), "gemini", SCOPE)
        assert kv.bytes <= 600
        assert _injected_signature(await cache.inject(_call_request(5), "gemini", SCOPE)) == "y" * 100 + "-5"
        assert _injected_signature(await cache.inject(_call_request(1), "gemini", SCOPE)) is None

    run(flow())


def test_ttl_expires_values() -> None:
    now = [1000.0]
    kv = MemoryKVStore(clock=lambda: now[0])
    cache = new_cache(kv, "gemini", ttl=60)
    short = FieldCache(kv, [replace(r, ttl=5) for r in builtin_rules("gemini")], ttl=60)
    other = replace(SCOPE, session="short")

    async def flow() -> None:
        await cache.record_response(_call_response(1), "gemini", SCOPE)
        await short.record_response(_call_response(1), "gemini", other)
        now[0] += 10  # past the rule's own TTL, within the cache's
        assert _injected_signature(await short.inject(_call_request(1), "gemini", other)) is None
        assert _injected_signature(await cache.inject(_call_request(1), "gemini", SCOPE)) == "sig-1"
        now[0] += 51
        assert _injected_signature(await cache.inject(_call_request(1), "gemini", SCOPE)) is None

    run(flow())


class _BrokenKV(KVStore):
    async def get(self, key: str) -> bytes | None:
        raise ConnectionError("store down")

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        raise ConnectionError("store down")

    async def delete(self, key: str) -> bool:
        raise ConnectionError("store down")


def test_store_failures_are_logged_and_the_request_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    cache = new_cache(_BrokenKV(), "gemini")

    async def flow() -> None:
        await cache.record_response(_call_response(1), "gemini", SCOPE)
        req = _call_request(1)
        assert await cache.inject(req, "gemini", SCOPE) is req

    with caplog.at_level(logging.WARNING, logger="switchyard.fieldcache"):
        run(flow())
    assert "write failed" in caplog.text and "read failed" in caplog.text


def test_ttl_must_be_positive() -> None:
    with pytest.raises(ValueError):
        FieldCache(MemoryKVStore(), [], ttl=0)
