"""The chain: order of stages (requests forward, responses and events backward), trace entries
before and after each stage, the field cache as a stage, defaults per protocol."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from switchyard.adapters import DEFAULT_CHAINS, Adapter, AdapterChain, register
from switchyard.adapters.chain import Stage
from switchyard.core.events import (
    MessageDelta,
    MessageStart,
    MessageStop,
    PartStart,
    PartStop,
    SignatureDelta,
    TextDelta,
    ToolArgsDelta,
)
from switchyard.core.model import Message, ReasoningPart, Request, Response, TextPart, ToolCallPart, ToolResultPart
from switchyard.fieldcache import FieldCache, Scope, builtin_rules, from_json
from switchyard.store import MemoryKVStore

SCOPE = Scope("p", "m", "k", "s")


class Trace:
    def __init__(self) -> None:
        self.entries: list[tuple[str, Any, Any]] = []

    def __call__(self, stage: str, before: Any, after: Any) -> None:
        self.entries.append((stage, before, after))

    @property
    def stages(self) -> list[str]:
        return [e[0] for e in self.entries]


def _req() -> Request:
    return Request(
        "client-model",
        [Message("developer", [TextPart("rules")]), Message("user", [TextPart(""), TextPart("hi")])],
        max_tokens=50_000,
        top_k=5,
    )


SPECS = [
    {"name": "max_tokens_clamp", "max": 8192},
    {"name": "drop_params", "params": ["top_k"]},
    {"name": "model_override", "model": "x"},
    "developer_to_system",
    "reasoning_content_normalize",
    "drop_empty_text",
]


def test_request_stages_run_in_order_and_each_is_traced() -> None:
    chain = AdapterChain.from_config(SPECS, protocol="anthropic")
    trace = Trace()
    out = asyncio.run(chain.apply_request(_req(), trace))
    assert chain.names == [
        "max_tokens_clamp",
        "drop_params",
        "model_override",
        "developer_to_system",
        "reasoning_content_normalize",
        "drop_empty_text",
        "field_cache",
    ]
    assert trace.stages == chain.names
    first, *_ = trace.entries
    assert first[1]["max_tokens"] == 50_000 and first[2]["max_tokens"] == 8192
    for (_, _, after), (_, before, _) in zip(trace.entries, trace.entries[1:], strict=False):
        assert after == before  # each stage starts from the previous one's result
    by_stage = {stage: (before, after) for stage, before, after in trace.entries}
    assert by_stage["drop_params"][1]["top_k"] is None
    assert by_stage["model_override"][1]["model"] == "x"
    assert by_stage["developer_to_system"][1]["messages"][0]["role"] == "system"
    assert by_stage["reasoning_content_normalize"][0] == by_stage["reasoning_content_normalize"][1]
    assert len(by_stage["drop_empty_text"][1]["messages"][1]["content"]) == 1
    assert from_json(trace.entries[-1][2]) == out
    assert (out.model, out.max_tokens, out.top_k, out.messages[0].role) == ("x", 8192, None, "system")


def test_order_matters() -> None:
    """A clamp after an override sees the overridden request; two clamps: the later one wins
    only when lower."""
    chain = AdapterChain.from_config(
        [{"name": "max_tokens_clamp", "max": 100}, {"name": "max_tokens_clamp", "max": 1000, "default": 10}],
        protocol="openai_chat",
    )
    assert chain.names == ["max_tokens_clamp", "max_tokens_clamp#2", "field_cache"]
    assert asyncio.run(chain.apply_request(Request("m", max_tokens=5000))).max_tokens == 100
    chain2 = AdapterChain.from_config(
        [{"name": "max_tokens_clamp", "max": 1000, "default": 10}, {"name": "max_tokens_clamp", "max": 100}],
        protocol="openai_chat",
    )
    assert asyncio.run(chain2.apply_request(Request("m"))).max_tokens == 10
    assert asyncio.run(chain.apply_request(Request("m"))).max_tokens == 10


def test_responses_and_events_run_backwards() -> None:
    seen: list[str] = []

    def tag(name: str):
        def response(resp: Response, params: dict, protocol: str) -> Response:
            seen.append(name)
            return Response(resp.id, resp.model, [*resp.content, TextPart(name)])

        class Events:
            def __init__(self, params: dict, protocol: str) -> None:
                pass

            def feed(self, event: Any) -> list[Any]:
                seen.append(f"{name}:event")
                return [event]

            def finish(self) -> list[Any]:
                return []

        return response, Events

    r1, e1 = tag("one")
    r2, e2 = tag("two")
    chain = AdapterChain(
        [Stage("one", Adapter("t-one", response=r1, event=e1)), Stage("two", Adapter("t-two", response=r2, event=e2))],
        protocol="openai_chat",
    )
    trace = Trace()
    out = asyncio.run(chain.apply_response(Response("r", "m"), trace))
    assert [p.text for p in out.content] == ["two", "one"]
    assert trace.stages == ["two", "one"]
    stream = chain.stream()
    stream.feed(MessageStop())
    assert seen == ["two", "one", "two:event", "one:event"]


def test_defaults_per_protocol() -> None:
    assert DEFAULT_CHAINS["anthropic"] == ["drop_empty_text", "field_cache"]
    for protocol in ("openai_chat", "openai_responses", "anthropic", "gemini"):
        chain = AdapterChain.from_config(None, protocol=protocol)
        assert chain.names[-1] == "field_cache"
        assert "developer_to_system" not in chain.names
    assert AdapterChain.from_config(None, protocol="anthropic").rewrites
    assert not AdapterChain.from_config(None, protocol="gemini").rewrites  # only the field cache
    assert AdapterChain.from_config(["developer_to_system"], protocol="openai_chat").names == [
        "developer_to_system",
        "field_cache",
    ]
    off = AdapterChain.from_config(["drop_empty_text", {"name": "field_cache", "enabled": False}], protocol="x")
    assert off.names == ["drop_empty_text"]
    moved = AdapterChain.from_config(["field_cache", "drop_empty_text"], protocol="anthropic")
    assert moved.names == ["field_cache", "drop_empty_text"]
    with pytest.raises(ValueError, match="once per chain"):
        AdapterChain.from_config(["field_cache", "field_cache"], protocol="anthropic")
    with pytest.raises(ValueError, match="list of stages"):
        AdapterChain.from_config("drop_empty_text", protocol="anthropic")


def test_custom_adapters_register_by_name() -> None:
    def shout(req: Request, params: dict, protocol: str) -> Request:
        return Request(req.model.upper(), req.messages)

    register(Adapter("test_shout_model", request=shout))
    chain = AdapterChain.from_config(["test_shout_model"], protocol="openai_chat")
    assert asyncio.run(chain.apply_request(Request("abc"))).model == "ABC"
    with pytest.raises(ValueError, match="exists already"):
        register(Adapter("test_shout_model", request=shout))
    with pytest.raises(ValueError, match="exists already"):
        register(Adapter("field_cache"))


# ---------------------------------------------------------------- the field cache as a stage


def _cache() -> FieldCache:
    return FieldCache(MemoryKVStore(), builtin_rules())


THINKING = ReasoningPart("let me call the tool", "SIG-1", "anthropic")


def _answer() -> Response:
    return Response("msg_1", "claude", [THINKING, ToolCallPart("toolu_1", "get_weather", '{"city":"Paris"}')])


def _turn2(extra: list[Message] | None = None) -> Request:
    return Request(
        "claude",
        [
            Message("user", [TextPart("weather?")]),
            Message("assistant", [TextPart(""), ToolCallPart("toolu_1", "get_weather", '{"city":"Paris"}')]),
            Message("tool", [ToolResultPart("toolu_1", [TextPart("15C")])]),
            *(extra or []),
        ],
        protocol="openai_chat",
    )


def test_field_cache_stage_records_responses_and_injects_requests() -> None:
    cache = _cache()
    chain = AdapterChain.from_config(None, protocol="anthropic", field_cache=cache)
    trace = Trace()

    async def flow() -> None:
        await chain.apply_response(_answer(), trace, SCOPE)
        assert trace.stages == ["field_cache", "drop_empty_text"]
        out = await chain.apply_request(_turn2(), trace, SCOPE)
        assert out.messages[1].content == [THINKING, ToolCallPart("toolu_1", "get_weather", '{"city":"Paris"}')]
        stage, before, after = trace.entries[-1]
        assert stage == "field_cache"
        assert [p["kind"] for p in before["messages"][1]["content"]] == ["tool_call"]  # empty text dropped first
        assert [p["kind"] for p in after["messages"][1]["content"]] == ["reasoning", "tool_call"]
        assert after["messages"][1]["content"][0]["signature"] == "SIG-1"
        # no scope (or no cache): the stage passes the request through
        assert (await chain.apply_request(_turn2(), None, None)).messages[1].content[0].kind == "tool_call"
        bare = AdapterChain.from_config(None, protocol="anthropic")
        assert (await bare.apply_request(_turn2(), None, SCOPE)).messages[1].content[0].kind == "tool_call"

    asyncio.run(flow())


def test_field_cache_stage_records_streams_at_finish() -> None:
    cache = _cache()
    chain = AdapterChain.from_config(None, protocol="anthropic", field_cache=cache)
    events = [
        MessageStart("msg_1", "claude"),
        PartStart(0, ReasoningPart()),
        SignatureDelta(0, "SIG-1", "anthropic"),
        PartStop(0),
        PartStart(1, ToolCallPart("toolu_1", "get_weather", "")),
        ToolArgsDelta(1, '{"city":"Paris"}'),
        PartStop(1),
        MessageDelta("tool_use"),
        MessageStop(),
    ]

    async def flow() -> None:
        stream = chain.stream(None, SCOPE)
        out = [e for event in events for e in stream.feed(event)]
        assert out == events  # the cache only observes
        assert await cache.inject(_turn2(), "anthropic", SCOPE) == _turn2()  # nothing saved before finish
        assert await stream.finish() == []
        injected = await chain.apply_request(_turn2(), None, SCOPE)
        assert injected.messages[1].content[0] == ReasoningPart("", "SIG-1", "anthropic")

    asyncio.run(flow())


def test_stream_trace_only_for_changes_and_flushes_at_finish() -> None:
    chain = AdapterChain.from_config(["reasoning_content_normalize"], protocol="openai_chat", field_cache=_cache())
    trace = Trace()
    stream = chain.stream(trace, SCOPE)
    out = []
    for event in [MessageStart("r", "m"), PartStart(0, TextPart("")), TextDelta(0, "<thi")]:
        out += stream.feed(event)
    assert out == [MessageStart("r", "m")]  # "<thi" may still become "<think>": held back
    assert trace.stages == ["reasoning_content_normalize", "reasoning_content_normalize"]
    assert trace.entries[0][1][0]["kind"] == "part_start" and trace.entries[0][2] == []
    tail = asyncio.run(stream.finish())
    assert tail == [PartStart(0, TextPart("")), TextDelta(0, "<thi")]
    assert trace.entries[-1] == (
        "reasoning_content_normalize",
        [],
        [
            {"kind": "part_start", "index": 0, "part": {"kind": "text", "text": "", "extensions": {}}},
            {"kind": "text_delta", "index": 0, "text": "<thi"},
        ],
    )
