"""The built-in mock as an upstream: the transport answers its base URL in-process (no socket),
in Chat Completions on the wire, and the gateway reads it with the same codecs as any upstream."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from switchyard import mock, mock_upstream
from switchyard.config import ConfigError, Timeouts, load_config
from switchyard.core.model import Message, Request, TextPart, Usage
from switchyard.core.sse import SSEDecoder
from switchyard.protocols import codec
from switchyard.transport import Transport

CHAT = codec("openai_chat")
REQUEST = Request("mock-1", messages=[Message("user", [TextPart("think about the weather")])])


def post(path: str, body: bytes) -> tuple[int, str, bytes, bool]:
    """POST through a fresh Transport: (status, content type, body, whether it opened a client session)."""

    async def go() -> tuple[int, str, bytes, bool]:
        transport = Transport()
        resp = await transport.post(mock_upstream.BASE_URL + path, {}, body, stream=False, timeouts=Timeouts())
        data = await resp.read()
        resp.release()
        return resp.status, resp.headers["content-type"], data, transport.started

    return asyncio.run(go())


def tokens(usage: Usage) -> tuple[int, int, int]:
    return usage.input_tokens, usage.output_tokens, usage.reasoning_tokens


def test_the_mock_answers_chat_completions_in_process():
    status, kind, body, opened = post("/chat/completions", orjson.dumps(CHAT.build_request(REQUEST)))
    assert (status, kind, opened) == (200, "application/json", False)
    answer = CHAT.parse_response(orjson.loads(body))
    want = mock.respond(REQUEST)
    assert answer.content == want.content and tokens(answer.usage) == tokens(want.usage)
    assert answer.created  # the wire answer carries the time, as a server's does


def test_the_mock_streams_chat_completion_chunks():
    streamed = Request(REQUEST.model, messages=REQUEST.messages, stream=True)
    status, kind, body, _ = post("/chat/completions", orjson.dumps(CHAT.build_request(streamed)))
    assert (status, kind) == (200, "text/event-stream")
    decoder, sse = CHAT.StreamDecoder(), SSEDecoder()
    events = [event for frame in [*sse.feed(body), *sse.flush()] for event in decoder.feed(frame)]
    events += decoder.finish()
    want = mock.events(streamed)
    assert [type(e) for e in events] == [type(e) for e in want]
    assert tokens(events[-2].usage) == tokens(want[-2].usage)  # the built request asks for usage


def test_the_mock_counts_words_at_the_responses_input_tokens_endpoint():
    body = {"model": "mock-1", "input": "one two three", "instructions": "be brief"}
    status, _, answer, _ = post("/responses/input_tokens", orjson.dumps(body))
    assert status == 200 and orjson.loads(answer) == {"object": "response.input_tokens", "input_tokens": 5}


def test_the_mock_refuses_what_it_does_not_serve_in_openai_error_shape():
    status, _, body, _ = post("/images/generations", b"{}")
    assert status == 404 and "/v1/images/generations" in orjson.loads(body)["error"]["message"]
    status, _, body, _ = post("/chat/completions", b"not json")
    assert status == 400 and orjson.loads(body)["error"]["type"] == "invalid_request_error"
    status, _, body, _ = post("/chat/completions", b'{"model": "m"}')
    assert status == 400 and "messages" in orjson.loads(body)["error"]["message"]


def test_a_mock_provider_takes_no_base_url(tmp_path):
    path = tmp_path / "switchyard.yaml"
    path.write_text("providers:\n  m: {type: mock, base_url: 'http://127.0.0.1:1/v1'}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert f"{path}:2: providers.m.base_url: the mock provider is answered inside the gateway" in info.value.problems[0]
    assert load_config(None, env={}).providers["mock"].base_url == mock_upstream.BASE_URL
