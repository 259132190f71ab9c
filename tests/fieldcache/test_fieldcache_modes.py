"""The modes and sources with small custom rules (the kind a config override adds)."""

from __future__ import annotations

import logging

import pytest
from fc_helpers import SCOPE, decode, load, raw, run

from switchyard.core.events import MessageDelta, MessageStart, MessageStop, PartStart, PartStop, TextDelta
from switchyard.core.model import Message, Request, Response, TextPart, ToolCallPart, ToolResultPart
from switchyard.fieldcache import FieldCache, Rule, builtin_rules, merge_rules
from switchyard.protocols import codec
from switchyard.store import MemoryKVStore

TOKEN_RULE = {
    "name": "acme.conversation_token",
    "protocols": ["openai_chat"],
    "mode": "last",
    "extract": {"source": "response", "path": "extensions.conversation_token"},
    "inject": {
        "path": "extensions.conversation_token",
        "op": "set",
        "unless": [{"path": "extensions.conversation_token"}],
    },
}


def _cache(*rules: dict) -> FieldCache:
    return FieldCache(MemoryKVStore(), [Rule.from_dict(r) for r in rules])


def _req(*messages: Message, **ext: object) -> Request:
    return Request("m", list(messages), protocol="openai_chat", extensions=dict(ext))


def _resp(**ext: object) -> Response:
    return Response("r", "m", [TextPart("ok")], extensions=dict(ext))


USER = Message("user", [TextPart("question one")])


def test_last_keeps_the_latest_value_and_respects_what_the_client_sent() -> None:
    cache = _cache(TOKEN_RULE)

    async def flow() -> None:
        assert (await cache.inject(_req(USER), "openai_chat", SCOPE)).extensions == {}
        await cache.record_response(_resp(conversation_token="A"), "openai_chat", SCOPE)
        assert (await cache.inject(_req(USER), "openai_chat", SCOPE)).extensions == {"conversation_token": "A"}
        await cache.record_response(_resp(conversation_token="B"), "openai_chat", SCOPE)
        await cache.record_response(_resp(), "openai_chat", SCOPE)  # no value: the last one stays
        assert (await cache.inject(_req(USER), "openai_chat", SCOPE)).extensions == {"conversation_token": "B"}
        own = _req(USER, conversation_token="mine")
        assert await cache.inject(own, "openai_chat", SCOPE) is own

    run(flow())


def test_all_keeps_distinct_values_up_to_max_values() -> None:
    rule = {
        **TOKEN_RULE,
        "name": "acme.seen",
        "mode": "all",
        "max_values": 3,
        "inject": {"path": "extensions.seen", "op": "set"},
    }
    cache = _cache(rule)

    async def flow() -> None:
        for token in ["a", "b", "a", "c", "d"]:
            await cache.record_response(_resp(conversation_token=token), "openai_chat", SCOPE)
        out = await cache.inject(_req(USER), "openai_chat", SCOPE)
        assert out.extensions == {"seen": ["a", "c", "d"]}  # "a" came again after "b"

    run(flow())


def test_last_user_turn_lives_as_long_as_the_tool_loop_of_that_turn() -> None:
    rule = {
        **TOKEN_RULE,
        "name": "acme.turn_state",
        "mode": "last_user_turn",
        "inject": {"path": "extensions.state", "op": "set"},
    }
    cache = _cache(rule)
    call = Message("assistant", [ToolCallPart("c1", "f", "{}")])
    result = Message("tool", [ToolResultPart("c1", [TextPart("r")])])

    async def flow() -> None:
        assert (await cache.inject(_req(USER), "openai_chat", SCOPE)).extensions == {}
        await cache.record_response(_resp(conversation_token="S1"), "openai_chat", SCOPE)
        in_loop = await cache.inject(_req(USER, call, result), "openai_chat", SCOPE)
        assert in_loop.extensions == {"state": "S1"}
        next_turn = _req(
            USER, call, result, Message("assistant", [TextPart("done")]), Message("user", [TextPart("two")])
        )
        assert (await cache.inject(next_turn, "openai_chat", SCOPE)).extensions == {}

    run(flow())


def test_last_user_turn_can_anchor_on_that_user_message() -> None:
    rule = {
        **TOKEN_RULE,
        "name": "acme.turn_note",
        "mode": "last_user_turn",
        "inject": {"anchor": "message", "path": "extensions.note", "op": "set"},
    }
    cache = _cache(rule)

    async def flow() -> None:
        await cache.inject(_req(USER), "openai_chat", SCOPE)
        await cache.record_response(_resp(conversation_token="N"), "openai_chat", SCOPE)
        out = await cache.inject(_req(USER), "openai_chat", SCOPE)
        assert out.messages[0].extensions == {"note": "N"}
        assert USER.extensions == {}

    run(flow())


def test_request_source_records_what_the_client_sent() -> None:
    """The Gemini rules with ``source: request``: a history that came in signed (say through a
    Gemini client) is restored later for a request that lost the signatures."""
    rules = merge_rules(
        builtin_rules("gemini"),
        [{"name": r.name, "extract": {"source": "request"}} for r in builtin_rules("gemini")],
    )
    cache = FieldCache(MemoryKVStore(), rules)
    gemini = codec("gemini")
    signed = gemini.parse_request(load("gemini/request_multi_turn_thought_signatures.json"), "gemini-3-pro-preview")
    wire = gemini.build_request(signed)
    first_step = signed.messages[:3]  # user, model call (signed), function response

    async def flow() -> None:
        await cache.inject(Request("m", first_step, protocol="gemini"), "gemini", SCOPE)
        bare = [
            Message(
                m.role,
                [ToolCallPart(p.id, p.name, p.arguments) if isinstance(p, ToolCallPart) else p for p in m.content],
            )
            for m in first_step
        ]
        out = await cache.inject(Request("m", bare, protocol="openai_chat"), "gemini", SCOPE)
        body = gemini.build_request(out)
        assert (
            body["contents"][1]["parts"][0]["thoughtSignature"] == wire["contents"][1]["parts"][0]["thoughtSignature"]
        )

    run(flow())


def test_stream_source_reads_events() -> None:
    rule = {
        **TOKEN_RULE,
        "name": "acme.stream_token",
        "extract": {"source": "stream", "path": "[kind=message_start].extensions.conversation_token"},
    }
    cache = _cache(rule)
    events = [
        MessageStart("r", "m", extensions={"conversation_token": "from-stream"}),
        PartStart(0, TextPart("")),
        TextDelta(0, "hi"),
        PartStop(0),
        MessageDelta("end_turn"),
        MessageStop(),
    ]

    async def flow() -> None:
        rec = cache.stream_recorder("openai_chat", SCOPE)
        for e in events:
            rec.feed(e)
        await rec.finish()
        assert (await cache.inject(_req(USER), "openai_chat", SCOPE)).extensions == {
            "conversation_token": "from-stream"
        }

    run(flow())


def test_an_injection_that_breaks_the_model_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    rule = {
        "name": "bad.insert",
        "protocols": ["openai_chat"],
        "mode": "per_tool_call",
        "extract": {"path": "content[kind=tool_call].name"},
        "inject": {"path": "content[0]", "op": "insert"},
    }
    cache = _cache(rule)
    call = Message("assistant", [ToolCallPart("c1", "lookup", "{}")])

    async def flow() -> None:
        await cache.record_response(Response("r", "m", list(call.content)), "openai_chat", SCOPE)
        req = _req(USER, call)
        assert await cache.inject(req, "openai_chat", SCOPE) is req

    with caplog.at_level(logging.WARNING, logger="switchyard.fieldcache"):
        run(flow())
    assert "bad.insert produced an invalid Message" in caplog.text


def test_recorder_fold_matches_the_codec_for_gemini_streams() -> None:
    """The recorder's Response from a stream holds the same signatures parse_response would."""
    from fc_helpers import new_cache

    events = decode("gemini", raw("gemini/stream_parallel_calls_gemini3.sse"))
    rec = new_cache().stream_recorder("gemini", SCOPE)
    for e in events:
        rec.feed(e)
    resp = rec.response()
    calls = [p for p in resp.content if isinstance(p, ToolCallPart)]
    assert [(c.id, c.name, bool(c.signature), c.signature_source) for c in calls] == [
        ("3ae8iwca", "sum", True, "gemini"),
        ("up3kf30e", "sum", False, None),
        ("ycroch25", "sum", False, None),
    ]
    assert resp.stop_reason == "tool_use"
    assert [c.arguments for c in calls] == ['{"b":3,"a":2}', '{"a":4,"b":5}', '{"b":7,"a":6}']
