"""Gemini thought signatures through a client that drops them, with the real Gemini codec.

The "client" turns here are core requests as an OpenAI Chat client's parse gives them: assistant
messages with text and tool calls only, tool results in ``tool`` messages, no signatures. The
strict check (fc_helpers.gemini_strict_error) answers what Gemini 3 answers when the first
functionCall of a step has no thoughtSignature.
"""

from __future__ import annotations

from dataclasses import replace

from fc_helpers import (
    SCOPE,
    assistant_turn,
    decode,
    deep_copy,
    gemini_strict_error,
    load,
    new_cache,
    raw,
    record_stream,
    run,
    signatures_of,
)

from switchyard.core.errors import GatewayError
from switchyard.core.events import MessageStop, StreamError
from switchyard.core.model import Message, Request, Response, TextPart, ToolCallPart, ToolResultPart
from switchyard.fieldcache import FieldCache, to_json
from switchyard.protocols import codec

gemini = codec("gemini")


def _results(calls: list[ToolCallPart], prefix: str = "result") -> Message:
    return Message("tool", [ToolResultPart(c.id, [TextPart(f"{prefix} {c.name}")], name=None) for c in calls])


def _calls(msg: Message) -> list[ToolCallPart]:
    return [p for p in msg.content if isinstance(p, ToolCallPart)]


def _chat(messages: list[Message]) -> Request:
    return Request("gemini-3-flash-preview", messages, protocol="openai_chat")


def _first_signature(events: list) -> str:
    from switchyard.core.events import SignatureDelta

    return next(e.signature for e in events if isinstance(e, SignatureDelta))


def test_three_turns_parallel_calls_then_single_call_then_text() -> None:
    cache = new_cache()

    async def flow() -> None:
        # turn 1: the upstream streams three parallel calls (signature on the first only)
        events = decode("gemini", raw("gemini/stream_parallel_calls_gemini3.sse"))
        resp1 = await record_stream(cache, "gemini", SCOPE, events)
        step1 = assistant_turn(resp1)
        assert [c.id for c in _calls(step1)] == ["3ae8iwca", "up3kf30e", "ycroch25"]
        sig1 = _first_signature(events)

        # turn 2: the client sends the calls back without signatures, with the results
        history = [Message("user", [TextPart("Add 2+3, 4+5 and 6+7")]), step1, _results(_calls(step1))]
        req2 = _chat(history)
        snapshot = to_json(req2)
        assert gemini_strict_error(gemini.build_request(req2)) is not None  # without the cache: 400
        out2 = await cache.inject(req2, "gemini", SCOPE)
        assert to_json(req2) == snapshot  # never mutated
        body2 = gemini.build_request(out2)
        assert gemini_strict_error(body2) is None
        assert signatures_of(body2) == [("3ae8iwca", sig1)]  # parallel calls: only the first carried one
        model_parts = body2["contents"][1]["parts"]
        assert [p["functionCall"]["id"] for p in model_parts] == ["3ae8iwca", "up3kf30e", "ycroch25"]

        # the upstream answers with another call (Gemini 2.5 shape: no id, the codec mints one)
        resp2 = gemini.parse_response(load("gemini/response_tool_call.json"))
        await cache.record_response(resp2, "gemini", SCOPE)
        step2 = assistant_turn(resp2)
        (call2,) = _calls(step2)
        assert call2.id.startswith("call_gm")
        sig2 = load("gemini/response_tool_call.json")["candidates"][0]["content"]["parts"][0]["thoughtSignature"]

        # turn 3: both steps come back unsigned; both get their exact signatures
        req3 = _chat([*history, step2, _results([call2])])
        body3 = gemini.build_request(await cache.inject(req3, "gemini", SCOPE))
        assert gemini_strict_error(body3) is None
        assert signatures_of(body3) == [("3ae8iwca", sig1), (None, sig2)]  # minted ids are not sent

        # the model answers in text with a trailing signature-only part (Gemini 3.1)
        events3 = decode("gemini", raw("gemini/stream_text_trailing_signature_gemini31.sse"))
        resp3 = await record_stream(cache, "gemini", SCOPE, events3)
        answer = assistant_turn(resp3)
        req4 = _chat([*req3.messages, answer, Message("user", [TextPart("And 10+20?")])])
        body4 = gemini.build_request(await cache.inject(req4, "gemini", SCOPE))
        assert gemini_strict_error(body4) is None
        last_model = body4["contents"][-2]
        assert last_model["role"] == "model"
        assert last_model["parts"][-1] == {"thoughtSignature": _first_signature(events3)}
        assert last_model["parts"][0]["text"].startswith("Here are the results of your additions")

    run(flow())


def test_gemini25_stream_without_ids_uses_the_minted_ids() -> None:
    cache = new_cache()

    async def flow() -> None:
        events = decode("gemini", raw("gemini/stream_parallel_calls_gemini25.sse"))
        resp = await record_stream(cache, "gemini", SCOPE, events)
        step = assistant_turn(resp)
        assert all(c.id.startswith("call_gm") for c in _calls(step))
        req = _chat([Message("user", [TextPart("sums")]), step, _results(_calls(step))])
        body = gemini.build_request(await cache.inject(req, "gemini", SCOPE))
        assert gemini_strict_error(body) is None
        assert signatures_of(body) == [(None, _first_signature(events))]
        assert all("id" not in p["functionCall"] for p in body["contents"][1]["parts"])

    run(flow())


def test_gemini_client_sending_signatures_back_is_left_untouched() -> None:
    """A Gemini client replays every signature itself: no double injection, same wire body."""
    cache = new_cache()
    body = load("gemini/request_multi_turn_thought_signatures.json")
    req = gemini.parse_request(body, "gemini-3-pro-preview")

    async def flow() -> None:
        # the gateway saw the same outputs before (recorded from the model turns of the history)
        for msg in deep_copy(req).messages:
            if msg.role == "assistant":
                await cache.record_response(Response("r", "m", msg.content), "gemini", SCOPE)
        assert len(cache.kv) > 0  # type: ignore[arg-type]
        out = await cache.inject(req, "gemini", SCOPE)
        assert gemini.build_request(out) == gemini.build_request(req)
        assert out == req

    run(flow())


def test_signature_only_part_request_is_left_untouched() -> None:
    cache = new_cache()
    req = gemini.parse_request(load("gemini/request_signature_only_part_gemini31.json"), "gemini-3.1-pro-preview")

    async def flow() -> None:
        events = decode("gemini", raw("gemini/stream_text_trailing_signature_gemini31.sse"))
        await record_stream(cache, "gemini", SCOPE, events)
        for msg in deep_copy(req).messages:
            if msg.role == "assistant":
                await cache.record_response(Response("r", "m", msg.content), "gemini", SCOPE)
        out = await cache.inject(req, "gemini", SCOPE)
        assert gemini.build_request(out) == gemini.build_request(req)

    run(flow())


def test_text_signature_on_the_text_part_is_replayed_as_a_signature_only_part() -> None:
    cache = new_cache()
    wire = load("gemini/response_multi_turn_thought_signatures.json")
    resp = gemini.parse_response(wire)
    sig = wire["candidates"][0]["content"]["parts"][0]["thoughtSignature"]

    async def flow() -> None:
        await cache.record_response(resp, "gemini", SCOPE)
        answer = assistant_turn(resp)
        req = _chat([Message("user", [TextPart("What did I ask?")]), answer, Message("user", [TextPart("ok")])])
        body = gemini.build_request(await cache.inject(req, "gemini", SCOPE))
        assert body["contents"][1]["parts"] == [{"text": answer.content[0].text}, {"thoughtSignature": sig}]
        # a different answer text does not get it
        other = _chat([Message("user", [TextPart("q")]), Message("assistant", [TextPart("something else")])])
        assert await cache.inject(other, "gemini", SCOPE) is other

    run(flow())


def test_a_cached_signature_is_not_put_on_a_call_of_another_tool() -> None:
    cache = new_cache()

    async def flow() -> None:
        events = decode("gemini", raw("gemini/stream_parallel_calls_gemini3.sse"))
        resp = await record_stream(cache, "gemini", SCOPE, events)
        step = assistant_turn(resp)
        renamed = Message("assistant", [replace(c, name="other_tool") for c in _calls(step)])
        req = _chat([Message("user", [TextPart("q")]), renamed, _results(_calls(renamed))])
        assert await cache.inject(req, "gemini", SCOPE) is req
        unknown = Message("assistant", [ToolCallPart("not-a-cached-id", "sum", '{"a":1,"b":2}')])
        req2 = _chat([Message("user", [TextPart("q")]), unknown, _results(_calls(unknown))])
        assert await cache.inject(req2, "gemini", SCOPE) is req2

    run(flow())


def test_nothing_is_recorded_from_a_failed_or_unfinished_stream() -> None:
    events = decode("gemini", raw("gemini/stream_parallel_calls_gemini3.sse"))
    step = assistant_turn(gemini_response_of(events))
    req = _chat([Message("user", [TextPart("q")]), step, _results(_calls(step))])

    async def flow(evs: list) -> Request:
        cache = new_cache()
        await record_stream(cache, "gemini", SCOPE, evs)
        return await cache.inject(req, "gemini", SCOPE)

    failed = [e for e in events if not isinstance(e, MessageStop)] + [StreamError(GatewayError("server", "cut"))]
    assert run(flow(failed)) is req
    unfinished = [e for e in events if not isinstance(e, MessageStop)]
    assert run(flow(unfinished)) is req
    assert run(flow(events)) is not req


def test_midstream_error_fixture_records_nothing() -> None:
    cache = new_cache()
    events = decode("gemini", raw("gemini/stream_error_midstream.sse"))
    assert isinstance(events[-1], StreamError)

    async def flow() -> None:
        rec = cache.stream_recorder("gemini", SCOPE)
        for e in events:
            rec.feed(e)
        await rec.finish()

    run(flow())
    assert len(cache.kv) == 0  # type: ignore[arg-type]


def test_recorder_is_inactive_without_rules_or_scope() -> None:
    cache = new_cache()
    assert not cache.stream_recorder("openai_chat", SCOPE).active
    assert not cache.stream_recorder("gemini", replace(SCOPE, session=None)).active
    assert cache.stream_recorder("gemini", SCOPE).active
    assert not FieldCache(cache.kv, []).applies("gemini")


def gemini_response_of(events: list) -> Response:
    rec = new_cache().stream_recorder("gemini", SCOPE)
    for e in events:
        rec.feed(e)
    return rec.response()
