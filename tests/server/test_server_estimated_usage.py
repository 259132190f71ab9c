"""Usage the upstream does not report, counted by the gateway with tiktoken: an OpenAI-compatible
upstream that sends no usage, streamed and whole, through every client protocol (the Chat client
on the same-protocol fast path), and streams cut short. The usage-log row is marked
``usage_estimated`` and its counts are within 10% of tiktoken's own count of the same text."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from gateway_harness import CLIENT_KEY, call, usage_row
from mock_upstreams import Reply, sse_reply

from tokenizer_support import encoding, tiktoken_count

AUTH = {"authorization": f"Bearer {CLIENT_KEY}"}
MODEL = "oc/gpt-4o-mini"  # an OpenAI Chat target of the o200k_base family
ENCODING = "o200k_base"
SYSTEM = "You are a careful assistant who answers questions about railway signalling in plain words."
PROMPT = (
    "A freight yard has eleven sidings, three of which are reserved for hazardous cargo and must be "
    "kept at least two tracks away from the passenger platforms. Explain, step by step, how a "
    "dispatcher should plan the evening shunting so that no reserved siding is blocked, why the "
    "interlocking refuses conflicting routes, and what happens when a point machine reports a fault "
    "halfway through the manoeuvre. Mention the role of track circuits, axle counters and the "
    "signaller's panel, and keep the answer under two hundred words. "
) * 2
ANSWER = (
    "First, the dispatcher lists every movement of the evening and marks the three reserved sidings "
    "as protected: no route may end on them unless the wagon carries hazardous cargo. The "
    "interlocking then checks each requested route against the ones already set; it refuses any "
    "route whose points or track sections overlap, because two trains must never be given the same "
    "piece of track. Track circuits and axle counters tell the interlocking which sections are "
    "occupied. If a point machine reports a fault halfway, the route stays locked, the signal in "
    "front of it returns to danger, and the signaller sends a technician before anything moves."
)


def within_ten_percent(value: int, expected: int) -> bool:
    return abs(value - expected) <= 0.1 * expected


def prompt_tokens() -> int:
    """tiktoken's count of the prompt's text (system and user message)."""
    return tiktoken_count(ENCODING, SYSTEM) + tiktoken_count(ENCODING, PROMPT)


def pieces(text: str, per_token: bool) -> list[str]:
    """``text`` in stream deltas: one tiktoken token each (as OpenAI and llama.cpp stream), or a
    few words each (a server that batches tokens)."""
    if per_token:
        enc = encoding(ENCODING)
        return [enc.decode([token]) for token in enc.encode_ordinary(text)]
    words = text.split(" ")
    return [" ".join(words[i : i + 6]) + (" " if i + 6 < len(words) else "") for i in range(0, len(words), 6)]


def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = {
        "id": "chatcmpl-est",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + orjson.dumps(body) + b"\n\n"


def no_usage_stream(text: str, per_token: bool = False, cut: bool = False) -> Reply:
    """A Chat stream with no usage chunk; ``cut``: it stops after its content, with no finish
    reason and no ``[DONE]`` (the connection just ends)."""
    frames = [chunk({"role": "assistant", "content": ""})]
    frames += [chunk({"content": piece}) for piece in pieces(text, per_token)]
    if not cut:
        frames += [chunk({}, "stop"), b"data: [DONE]\n\n"]
    return sse_reply(frames)


def no_usage_answer(text: str) -> Reply:
    body = {
        "id": "chatcmpl-est",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
    }
    return Reply(body=orjson.dumps(body))


def ask(gateway, client: str, stream: bool) -> str:
    """Ask ``PROMPT`` in the client's protocol; the request id."""
    if client == "chat":
        path = "/v1/chat/completions"
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}]
        body: dict[str, Any] = {"model": MODEL, "messages": messages, "stream": stream}
    elif client == "anthropic":
        path = "/v1/messages"
        messages = [{"role": "user", "content": PROMPT}]
        body = {"model": MODEL, "system": SYSTEM, "messages": messages, "max_tokens": 400, "stream": stream}
    elif client == "responses":
        path = "/v1/responses"
        body = {"model": MODEL, "instructions": SYSTEM, "input": PROMPT, "stream": stream, "store": False}
    else:
        verb = "streamGenerateContent?alt=sse" if stream else "generateContent"
        path = f"/v1beta/models/{MODEL}:{verb}"
        body = {
            "systemInstruction": {"parts": [{"text": SYSTEM}]},
            "contents": [{"role": "user", "parts": [{"text": PROMPT}]}],
        }
    resp = call(gateway.url + path, "POST", body, AUTH)
    assert resp.status == 200, resp.body
    return resp.headers["x-request-id"]


def row(gateway, request_id: str) -> dict[str, Any]:
    return usage_row(gateway, "request_id = ?", (request_id,))


def assert_estimated(rec: dict[str, Any], output_text: str) -> None:
    assert rec["usage_estimated"] == 1
    assert within_ten_percent(rec["input_tokens"], prompt_tokens()), (rec["input_tokens"], prompt_tokens())
    output = tiktoken_count(ENCODING, output_text)
    assert within_ten_percent(rec["output_tokens"], output), (rec["output_tokens"], output)


CLIENTS = ["chat", "anthropic", "responses", "gemini"]


@pytest.mark.parametrize("per_token", [False, True], ids=["batched", "per_token"])
@pytest.mark.parametrize("client", CLIENTS)
def test_stream_without_usage_is_counted_with_tiktoken(gateway, upstreams, client, per_token):
    upstreams["openai_chat"].queue(no_usage_stream(ANSWER, per_token))
    request_id = ask(gateway, client, stream=True)
    assert_estimated(row(gateway, request_id), ANSWER)


@pytest.mark.parametrize("client", CLIENTS)
def test_whole_answer_without_usage_is_counted_with_tiktoken(gateway, upstreams, client):
    upstreams["openai_chat"].queue(no_usage_answer(ANSWER))
    request_id = ask(gateway, client, stream=False)
    assert_estimated(row(gateway, request_id), ANSWER)


@pytest.mark.parametrize("client", ["chat", "anthropic"], ids=["fast_path", "translated"])
def test_stream_cut_short_is_counted_with_tiktoken(gateway, upstreams, client):
    sent = ANSWER[: len(ANSWER) // 2]
    upstreams["openai_chat"].queue(no_usage_stream(sent, cut=True))
    request_id = ask(gateway, client, stream=True)
    rec = row(gateway, request_id)
    assert rec["error"] is not None  # the stream ended early, and the row says so
    assert_estimated(rec, sent)


def test_claude_targets_keep_the_approximation(gateway, upstreams):
    """No tokenizer for other families: a Chat client of an Anthropic target whose stream is cut
    before any usage is counted at four characters a token."""
    sent = ANSWER[:400]
    frames = [
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message",'
        b'"role":"assistant","model":"claude-x","content":[],"stop_reason":null}}\n\n',
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
        b'"content_block":{"type":"text","text":""}}\n\n',
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta",'
        b'"text":' + orjson.dumps(sent) + b"}}\n\n",
    ]
    upstreams["anthropic"].queue(sse_reply(frames))
    body = {"model": "an/claude-x", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    resp = call(gateway.url + "/v1/chat/completions", "POST", body, AUTH)
    rec = row(gateway, resp.headers["x-request-id"])
    assert rec["usage_estimated"] == 1 and rec["output_tokens"] == len(sent) // 4
