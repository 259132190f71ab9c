"""Key pools under fault injection, through the running gateway (issue 5).

One aiohttp upstream (a real server on 127.0.0.1, its own event loop thread) speaks OpenAI Chat,
Anthropic Messages and Gemini; how it answers is chosen by the API key it receives
(``Authorization: Bearer``, ``x-api-key``, ``x-goog-api-key``), and it records per key the requests
received and the peak number in flight. Each test builds its own gateway (fresh key pools) with
keys unique to the test, and checks key states through ``GET /admin/keys`` and the
``x-switchyard-attempts`` header.

Behaviours (``FaultUpstream.set(key, behaviour)``): ``ok``; ``retry-after:S``, ``retry-after-ms:MS``,
``anthropic-reset:S``, ``retry-info:S`` (429s with each retry hint); ``quota``; ``401``; ``500``;
``529``; ``reset`` (connection closed before an answer); ``hang`` (no headers); ``stall`` and
``truncated`` (a stream that stops after its first content); ``reset-mid`` (connection closed after
the first content); ``garbage``; ``inband`` (an error on HTTP 200); ``slow:S``.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anthropic
import openai
import orjson
import pytest
from aiohttp import web
from gateway_harness import Gateway, HTTPResult, call, config_from_yaml

from switchyard.core import SSEDecoder

# ---------------------------------------------------------------------------- the upstream


def _sse(*frames: tuple[str | None, Any]) -> list[bytes]:
    out = []
    for event, data in frames:
        payload = data if isinstance(data, bytes) else orjson.dumps(data)
        out.append((f"event: {event}\n".encode() if event else b"") + b"data: " + payload + b"\n\n")
    return out


def ok_json(protocol: str, model: str, text: str) -> dict:
    if protocol == "openai_chat":
        return {
            "id": "chatcmpl-fault",
            "object": "chat.completion",
            "created": 1770000000,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9},
        }
    if protocol == "anthropic":
        return {
            "id": "msg_fault",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 5, "output_tokens": 4},
        }
    return {
        "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 4, "totalTokenCount": 9},
        "modelVersion": model,
        "responseId": "resp-fault",
    }


def ok_frames(protocol: str, model: str, text: str) -> list[bytes]:
    """A complete stream; its first two frames are the start and the first content."""
    words = [text[: len(text) // 2], text[len(text) // 2 :]]
    if protocol == "openai_chat":

        def chunk(delta: dict, finish: str | None = None, **extra: Any) -> dict:
            return {
                "id": "chatcmpl-fault",
                "object": "chat.completion.chunk",
                "created": 1770000000,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if delta is not None else [],
                **extra,
            }

        return _sse(
            (None, chunk({"role": "assistant", "content": words[0]})),
            (None, chunk({"content": words[1]})),
            (None, chunk({}, "stop")),
            (None, chunk(None, usage={"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9})),
            (None, b"[DONE]"),
        )
    if protocol == "anthropic":
        start = {
            "type": "message_start",
            "message": {
                "id": "msg_fault",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 5, "output_tokens": 1},
            },
        }
        frames = _sse(
            ("message_start", start),
            (
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            ),
            *(
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}},
                )
                for w in words
            ),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": 4},
                },
            ),
            ("message_stop", {"type": "message_stop"}),
        )
        return [frames[0], frames[1] + frames[2], *frames[3:]]
    part = {
        "candidates": [{"content": {"role": "model", "parts": [{"text": words[0]}]}, "index": 0}],
        "responseId": "r1",
    }
    last = {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": words[1]}]}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 4, "totalTokenCount": 9},
        "responseId": "r1",
    }
    return _sse((None, part), (None, last))


def inband_frames(protocol: str, model: str) -> list[bytes]:
    """HTTP 200, then an error before any content."""
    if protocol == "openai_chat":
        return _sse(
            (
                None,
                {
                    "error": {
                        "message": "The server had an error while processing your request.",
                        "type": "server_error",
                    }
                },
            )
        )
    if protocol == "anthropic":
        return ok_frames(protocol, model, "x")[:1] + _sse(
            ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
        )
    return _sse((None, {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}))


def error_reply(protocol: str, behaviour: str, arg: float) -> tuple[int, dict[str, str], dict]:
    """(status, headers, body) of an upstream error."""
    if behaviour == "retry-after":
        return 429, {"retry-after": f"{arg:g}"}, _rate_limit_body(protocol)
    if behaviour == "retry-after-ms":
        return 429, {"retry-after-ms": f"{arg:g}"}, _rate_limit_body(protocol)
    if behaviour == "anthropic-reset":
        reset = (datetime.now(UTC) + timedelta(seconds=arg)).isoformat().replace("+00:00", "Z")
        return 429, {"anthropic-ratelimit-requests-reset": reset}, _rate_limit_body("anthropic")
    if behaviour == "retry-info":
        body = {
            "error": {
                "code": 429,
                "message": "Resource has been exhausted (e.g. check quota).",
                "status": "RESOURCE_EXHAUSTED",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                        "violations": [{"quotaId": "GenerateRequestsPerMinutePerProjectPerModel"}],
                    },
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{arg:g}s"},
                ],
            }
        }
        return 429, {}, body
    if behaviour == "quota":
        body = {
            "error": {
                "message": "You exceeded your current quota.",
                "type": "insufficient_quota",
                "param": None,
                "code": "insufficient_quota",
            }
        }
        return 429, {}, body
    if behaviour == "401":
        if protocol == "anthropic":
            return 401, {}, {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}
        body = {
            "error": {
                "message": "Incorrect API key provided.",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key",
            }
        }
        return 401, {}, body
    if behaviour == "529":
        return 529, {}, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    return (
        500,
        {},
        {"error": {"message": "The server had an error while processing your request.", "type": "server_error"}},
    )


def _rate_limit_body(protocol: str) -> dict:
    if protocol == "anthropic":
        return {
            "type": "error",
            "error": {"type": "rate_limit_error", "message": "Number of requests has exceeded your rate limit."},
        }
    return {
        "error": {
            "message": "Rate limit reached for requests.",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }


class FaultUpstream:
    """One server for all three protocols; behaviour per API key; per-key counts and peaks."""

    def __init__(self) -> None:
        self.behaviour: dict[str, str] = {}
        self.seen: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.order: list[str] = []
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fault-upstream", daemon=True)
        self.thread.start()
        self.url = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)

    async def _start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def set(self, behaviour: str, *keys: str) -> None:
        for key in keys:
            self.behaviour[key] = behaviour

    async def handle(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("authorization", "")
        key = (
            auth.removeprefix("Bearer ")
            if auth
            else request.headers.get("x-api-key") or request.headers.get("x-goog-api-key", "")
        )
        with self.lock:
            self.seen[key] += 1
            self.order.append(key)
            self.in_flight[key] += 1
            self.peak[key] = max(self.peak[key], self.in_flight[key])
        try:
            return await self._answer(request, key)
        finally:
            with self.lock:
                self.in_flight[key] -= 1

    async def _answer(self, request: web.Request, key: str) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        path = request.path
        if path.endswith("/chat/completions"):
            protocol, stream, model = "openai_chat", bool(body.get("stream")), body.get("model", "")
        elif path.endswith("/messages"):
            protocol, stream, model = "anthropic", bool(body.get("stream")), body.get("model", "")
        else:
            protocol, stream = "gemini", ":streamGenerateContent" in path
            model = path.rsplit("/", 1)[-1].split(":")[0]
        name, _, raw_arg = self.behaviour.get(key, "ok").partition(":")
        arg = float(raw_arg or 0)
        text = f"hello from {key[-4:]}"
        if name == "slow":
            await asyncio.sleep(arg)
            name = "ok"
        if name == "hang":
            await asyncio.sleep(60)
        if name == "reset":
            assert request.transport is not None
            request.transport.abort()
            await asyncio.sleep(60)
        if name in ("retry-after", "retry-after-ms", "anthropic-reset", "retry-info", "quota", "401", "500", "529"):
            status, headers, err = error_reply(protocol, name, arg)
            return web.json_response(err, status=status, headers=headers)
        if name == "garbage":
            ctype = "text/event-stream" if stream else "application/json"
            return web.Response(body=b"\x00\xff<html><body>502 Bad Gateway</body></html>\n\n", content_type=ctype)
        if not stream:
            if name == "inband":  # some OpenAI-compatible servers answer an error with HTTP 200
                return web.json_response(error_reply(protocol, "500", 0)[2])
            return web.json_response(ok_json(protocol, model, text))
        frames = inband_frames(protocol, model) if name == "inband" else ok_frames(protocol, model, text)
        resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await resp.prepare(request)
        if name in ("stall", "truncated", "reset-mid"):
            frames = frames[:2]
        for frame in frames:
            await resp.write(frame)
        if name == "stall":
            await asyncio.sleep(60)
        if name == "reset-mid":
            assert request.transport is not None
            request.transport.abort()
            await asyncio.sleep(60)
        await resp.write_eof()
        return resp


@pytest.fixture(scope="module")
def upstream() -> Iterator[FaultUpstream]:
    up = FaultUpstream()
    yield up
    up.close()


# ---------------------------------------------------------------------------- gateways and clients


def keyset(prefix: str, n: int) -> list[str]:
    """``n`` fresh keys (unique to the calling test) whose masked ids end in 0001, 0002, ..."""
    tag = uuid.uuid4().hex[:8]
    return [f"{prefix}-{tag}-key-{i:04d}" for i in range(1, n + 1)]


def gateway_yaml(
    url: str,
    *,
    oa: list[str] | None = None,
    an: list[str] | None = None,
    gm: list[str] | None = None,
    rotation: str = "balanced",
    retries: int = 2,
    first_byte: float = 0.6,
    stall: float = 0.6,
    max_concurrency: int | None = None,
    models: str = "",
) -> str:
    providers = []
    for name, ptype, base, keys in (
        ("oa", "openai", f"{url}/v1", oa),
        ("an", "anthropic", url, an),
        ("gm", "gemini", url, gm),
    ):
        if keys:
            limit = f"\n    max_concurrency: {max_concurrency}" if max_concurrency else ""
            providers.append(
                f"  {name}:\n    type: {ptype}\n    base_url: {base}\n    api_keys: {orjson.dumps(keys).decode()}{limit}"
            )
    return f"""
routing:
  retries: {retries}
  rotation: {rotation}
  timeouts: {{first_byte: {first_byte}, stall: {stall}, request: 15}}
  heartbeat: 0
  cooldown: {{base: 0.5, max: 1}}
providers:
{chr(10).join(providers)}
{models}
"""


@pytest.fixture
def make_gateway(tmp_path: Path) -> Iterator[Callable[..., Gateway]]:
    made: list[Gateway] = []

    def make(url: str, **kwargs: Any) -> Gateway:
        gw = Gateway(config_from_yaml(gateway_yaml(url, **kwargs), base_dir=tmp_path)).start()
        made.append(gw)
        return gw

    yield make
    for gw in made:
        gw.stop()


def chat(gw: Gateway, model: str, stream: bool = False, headers: dict[str, str] | None = None) -> HTTPResult:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    return call(gw.url + "/v1/chat/completions", "POST", body, headers)


def messages(gw: Gateway, model: str, stream: bool = False) -> HTTPResult:
    body = {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    return call(gw.url + "/v1/messages", "POST", body)


def gemini(gw: Gateway, model: str, stream: bool = False) -> HTTPResult:
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    return call(f"{gw.url}/v1beta/models/{model}:{method}", "POST", body)


def responses(gw: Gateway, model: str, stream: bool = False) -> HTTPResult:
    return call(gw.url + "/v1/responses", "POST", {"model": model, "input": "hi", "stream": stream, "store": False})


def key_states(gw: Gateway, provider: str) -> dict[str, dict]:
    """``GET /admin/keys`` for one provider, by the last four characters of the masked id."""
    resp = call(gw.url + "/admin/keys", "GET")
    assert resp.status == 200
    return {k["key"][-4:]: k for k in resp.json[provider]}


def attempts(resp: HTTPResult) -> list[tuple[str, str]]:
    """``x-switchyard-attempts`` as (key id's last four characters, outcome) pairs."""
    out = []
    for part in resp.headers["x-switchyard-attempts"].split(" | "):
        match = re.match(r"\S+ key=\S*?(\w{4}) (ok|\S+ \S+) \d+ms$", part)
        assert match, part
        out.append((match.group(1), match.group(2)))
    return out


def sse_events(raw: bytes) -> list[tuple[str | None, Any]]:
    dec = SSEDecoder()
    return [
        (f.event, orjson.loads(f.data))
        for f in dec.feed(raw) + dec.flush()
        if f.comment is None and f.data and f.data != "[DONE]"
    ]


def chat_text(resp: HTTPResult) -> str:
    return resp.json["choices"][0]["message"]["content"]


# ---------------------------------------------------------------------------- rate limits


RATE_LIMIT_STYLES = [
    # (behaviour, provider, send the request, expected wait in seconds)
    ("retry-after:1", "oa", lambda gw: chat(gw, "oa/gpt-4.1"), 1.0),
    ("retry-after-ms:900", "oa", lambda gw: chat(gw, "oa/gpt-4.1"), 0.9),
    ("anthropic-reset:1", "an", lambda gw: messages(gw, "an/claude-sonnet-4-5"), 1.0),
    ("retry-info:1", "gm", lambda gw: gemini(gw, "gm/gemini-2.5-flash"), 1.0),
]


@pytest.mark.parametrize(
    ("behaviour", "provider", "send", "wait"), RATE_LIMIT_STYLES, ids=[s[0] for s in RATE_LIMIT_STYLES]
)
def test_a_rate_limited_key_cools_for_the_upstreams_wait_then_serves_again(
    upstream, make_gateway, behaviour, provider, send, wait
):
    keys = keyset(f"sk-{provider}", 2)
    gw = make_gateway(upstream.url, **{provider: keys})
    upstream.set(behaviour, keys[0])
    upstream.set("ok", keys[1])

    first = send(gw)
    assert first.status == 200, first.body
    assert attempts(first) == [("0001", "429 rate_limit"), ("0002", "ok")]
    states = key_states(gw, provider)
    assert states["0001"]["status"].startswith("cooling") and states["0002"]["status"] == "healthy"
    (cooling,) = states["0001"]["cooling_models_s"].values()
    assert wait - 0.3 <= cooling <= wait + 0.05  # the upstream's wait, not the configured backoff (0.5 s)

    upstream.set("ok", keys[0])  # healthy again, but still cooling in the gateway
    for _ in range(3):
        resp = send(gw)
        assert resp.status == 200 and attempts(resp) == [("0002", "ok")]
    assert upstream.seen[keys[0]] == 1

    time.sleep(wait + 0.1)
    resp = send(gw)  # the fewest served: the key that was cooling
    assert resp.status == 200 and attempts(resp) == [("0001", "ok")]
    assert upstream.seen[keys[0]] == 2
    assert key_states(gw, provider)["0001"]["status"] == "healthy"


def test_every_key_rate_limited_gives_the_openai_sdk_a_429_with_retry_after(upstream, make_gateway):
    keys = keyset("sk-oa", 2)
    gw = make_gateway(upstream.url, oa=keys)
    upstream.set("retry-after:3", *keys)
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="oa/gpt-4.1", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 429
    assert info.value.response.headers["retry-after"] == "3"
    assert info.value.code == "rate_limit_exceeded"  # the upstream's own error, relayed
    assert [upstream.seen[k] for k in keys] == [1, 1]

    # the keys are cooling: the next request is answered at once, upstream untouched
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="oa/gpt-4.1", messages=[{"role": "user", "content": "hi"}])
    assert 1 <= int(info.value.response.headers["retry-after"]) <= 3
    assert [upstream.seen[k] for k in keys] == [1, 1]


def test_every_key_cooling_answers_429_in_each_clients_own_shape(upstream, make_gateway):
    keys = keyset("sk-oa", 2)
    gw = make_gateway(upstream.url, oa=keys)
    upstream.set("retry-after:3", *keys)
    assert chat(gw, "oa/gpt-4.1").status == 429
    seen = sum(upstream.seen[k] for k in keys)

    anth = messages(gw, "oa/gpt-4.1")
    assert anth.status == 429 and anth.json["type"] == "error"
    assert anth.json["error"]["type"] == "rate_limit_error"
    gem = gemini(gw, "oa/gpt-4.1")
    assert gem.status == 429 and gem.json["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert any(d["@type"].endswith("RetryInfo") for d in gem.json["error"]["details"])
    resp = responses(gw, "oa/gpt-4.1")
    assert resp.status == 429 and resp.json["error"]["message"]
    stream = chat(gw, "oa/gpt-4.1", stream=True)  # a stream that never started: a plain HTTP error
    assert stream.status == 429 and stream.json["error"]["message"]
    for r in (anth, gem, resp, stream):
        assert 1 <= int(r.headers["retry-after"]) <= 3
    assert sum(upstream.seen[k] for k in keys) == seen


def test_an_exhausted_quota_rests_the_key_for_an_hour(upstream, make_gateway):
    keys = keyset("sk-oa", 2)
    gw = make_gateway(upstream.url, oa=keys)
    upstream.set("quota", keys[0])
    resp = chat(gw, "oa/gpt-4.1")
    assert resp.status == 200 and attempts(resp) == [("0001", "429 quota"), ("0002", "ok")]
    (cooling,) = key_states(gw, "oa")["0001"]["cooling_models_s"].values()
    assert cooling > 3500
    upstream.set("ok", keys[0])
    for _ in range(4):
        assert attempts(chat(gw, "oa/gpt-4.1")) == [("0002", "ok")]
    assert upstream.seen[keys[0]] == 1

    upstream.set("quota", keys[1])  # now none is left: a clean 429 in the client's shape
    resp = chat(gw, "oa/gpt-4.1")
    assert resp.status == 429 and resp.json["error"]["code"] == "insufficient_quota"


# ---------------------------------------------------------------------------- rejected keys and upstream faults


def test_a_rejected_key_is_disabled_and_never_used_again(upstream, make_gateway):
    keys = keyset("sk-oa", 3)
    gw = make_gateway(upstream.url, oa=keys)
    upstream.set("401", keys[1])
    results = [chat(gw, "oa/gpt-4.1") for _ in range(3)]
    assert all(r.status == 200 for r in results)
    assert ("0002", "401 authentication") in [a for r in results for a in attempts(r)]
    states = key_states(gw, "oa")
    assert states["0002"]["status"] == "disabled" and states["0002"]["disabled_reason"]
    assert states["0001"]["status"] == states["0003"]["status"] == "healthy"

    upstream.set("ok", keys[1])  # the key works again upstream: the gateway still never uses it
    for _ in range(12):
        assert chat(gw, "oa/gpt-4.1").status == 200
    assert upstream.seen[keys[1]] == 1
    assert upstream.seen[keys[0]] + upstream.seen[keys[2]] == 15  # every request answered by a good key


def test_every_key_rejected_is_a_clean_error_not_a_client_auth_failure(upstream, make_gateway):
    keys = keyset("sk-an", 2)
    gw = make_gateway(upstream.url, an=keys)
    upstream.set("401", *keys)
    first = messages(gw, "an/claude-sonnet-4-5")
    assert first.json["type"] == "error" and first.json["error"]["message"]
    assert first.status >= 500, first.body  # the gateway's credentials failed, not the client's
    assert {k: s["status"] for k, s in key_states(gw, "an").items()} == {"0001": "disabled", "0002": "disabled"}
    again = messages(gw, "an/claude-sonnet-4-5")
    assert again.status == first.status and again.json["error"]["type"] == first.json["error"]["type"]
    assert sum(upstream.seen[k] for k in keys) == 2


FAULTS = [
    # (behaviour, provider, send, the failed attempt's outcome)
    ("500", "oa", lambda gw: chat(gw, "oa/gpt-4.1"), "500 server"),
    ("529", "an", lambda gw: messages(gw, "an/claude-sonnet-4-5"), "529 overloaded"),
    ("reset", "oa", lambda gw: chat(gw, "oa/gpt-4.1"), "502 unavailable"),
    ("reset", "gm", lambda gw: gemini(gw, "gm/gemini-2.5-flash", stream=True), "502 unavailable"),
    ("garbage", "an", lambda gw: chat(gw, "an/claude-sonnet-4-5"), "502 server"),  # translated
    ("garbage", "oa", lambda gw: chat(gw, "oa/gpt-4.1"), "502 server"),  # same protocol
    ("garbage", "oa", lambda gw: chat(gw, "oa/gpt-4.1", stream=True), None),
    ("inband", "oa", lambda gw: chat(gw, "oa/gpt-4.1", stream=True), None),
    ("inband", "gm", lambda gw: messages(gw, "gm/gemini-2.5-flash", stream=True), None),
    ("inband", "oa", lambda gw: messages(gw, "oa/gpt-4.1"), None),  # HTTP 200 carrying an error object
    ("hang", "oa", lambda gw: chat(gw, "oa/gpt-4.1", stream=True), "504 timeout"),
]


@pytest.mark.parametrize(
    ("behaviour", "provider", "send", "outcome"),
    FAULTS,
    ids=[f"{b}-{p}-{i}" for i, (b, p, _, _) in enumerate(FAULTS)],
)
def test_an_upstream_fault_moves_to_a_healthy_key(upstream, make_gateway, behaviour, provider, send, outcome):
    keys = keyset(f"sk-{provider}", 2)
    gw = make_gateway(upstream.url, **{provider: keys})
    upstream.set(behaviour, keys[0])
    upstream.set("ok", keys[1])
    resp = send(gw)
    assert resp.status == 200, resp.body
    tried = attempts(resp)
    assert [k for k, _ in tried] == ["0001", "0002"] and tried[1][1] == "ok"
    if outcome is not None:
        assert tried[0][1] == outcome
    body = resp.body.decode()
    assert "rom 0002" in body  # the healthy key's answer (streams split the text in two)
    assert "error" not in body
    state = key_states(gw, provider)["0001"]
    assert state["status"] == "healthy" and state["failures"] == 1  # one transient failure: no cooldown yet


def test_three_transient_failures_in_a_row_cool_the_key(upstream, make_gateway):
    keys = keyset("sk-oa", 2)
    gw = make_gateway(upstream.url, oa=keys)
    upstream.set("500", keys[0])
    for _ in range(6):  # balanced: the failing key is picked again whenever it has served less
        assert chat(gw, "oa/gpt-4.1").status == 200
        if key_states(gw, "oa")["0001"]["status"] == "cooling":
            break
    assert upstream.seen[keys[0]] == 3
    assert key_states(gw, "oa")["0001"]["cooling_for_s"] > 0


def test_every_key_failing_answers_the_last_error_in_the_client_shape(upstream, make_gateway):
    keys = keyset("sk-an", 3)
    gw = make_gateway(upstream.url, an=keys)
    upstream.set("529", *keys)
    resp = gemini(gw, "an/claude-sonnet-4-5")
    assert resp.status == 503 and resp.json["error"]["status"] == "UNAVAILABLE"
    assert [o for _, o in attempts(resp)] == ["529 overloaded"] * 3  # retries: 2
    anth = messages(gw, "an/claude-sonnet-4-5")
    assert anth.status == 529 and anth.json["error"]["type"] == "overloaded_error"


# ---------------------------------------------------------------------------- streams


def test_a_stream_falls_back_on_a_first_byte_hang_but_not_after_the_first_byte(upstream, make_gateway):
    keys = keyset("sk-oa", 2)
    gw = make_gateway(upstream.url, oa=keys, first_byte=0.6, stall=0.8)
    upstream.set("hang", keys[0])
    started = time.monotonic()
    resp = chat(gw, "oa/gpt-4.1", stream=True)
    elapsed = time.monotonic() - started
    assert resp.status == 200 and 0.55 < elapsed < 2.0
    assert [k for k, _ in attempts(resp)] == ["0001", "0002"]
    text = "".join(
        e[1]["choices"][0]["delta"].get("content") or "" for e in sse_events(resp.body) if e[1].get("choices")
    )
    assert text == "hello from 0002"

    upstream.set("stall", keys[0])  # headers and the first content, then silence
    upstream.set("ok", keys[1])
    seen = upstream.seen[keys[1]]
    for _ in range(2):  # whichever key balanced rotation picks first, the stalled one comes up
        started = time.monotonic()
        resp = chat(gw, "oa/gpt-4.1", stream=True)
        if attempts(resp)[0][0] == "0001":
            break
    elapsed = time.monotonic() - started
    assert resp.status == 200 and attempts(resp) == [("0001", "ok")]
    events = sse_events(resp.body)
    assert events[0][1]["choices"][0]["delta"]["content"] == "hello f"  # the first half of the text
    assert "error" in events[-1][1] and "finish_reason" not in str(events[-1][1])
    assert not any(c.get("finish_reason") for e in events if "choices" in e[1] for c in e[1]["choices"])
    assert 0.75 < elapsed < 2.0  # ended within the stall timeout (0.8 s)
    assert upstream.seen[keys[1]] - seen <= 1  # the stalled stream was not retried elsewhere


MID_STREAM = ["stall", "truncated", "reset-mid"]
CLIENTS = ["openai_chat", "anthropic", "openai_responses", "gemini"]


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("behaviour", MID_STREAM)
def test_a_mid_stream_failure_ends_the_client_stream_with_its_error_event(upstream, make_gateway, behaviour, client):
    keys = keyset("sk-oa", 1)
    gw = make_gateway(upstream.url, oa=keys, stall=0.5)
    upstream.set(behaviour, *keys)
    send = {"openai_chat": chat, "anthropic": messages, "openai_responses": responses, "gemini": gemini}[client]
    started = time.monotonic()
    resp = send(gw, "oa/gpt-4.1", stream=True)
    elapsed = time.monotonic() - started
    assert resp.status == 200
    assert elapsed < 0.5 + 1.0 and (behaviour != "stall" or elapsed > 0.45)
    events = sse_events(resp.body)
    names = [e for e, _ in events]
    last = events[-1][1]
    body = resp.body.decode()
    assert "hello " in body  # the first content reached the client
    if client == "openai_chat":
        assert "error" in last and not any(c.get("finish_reason") for _, d in events for c in d.get("choices", []))
    elif client == "anthropic":
        assert names[-1] == "error" and last["error"]["type"] in ("api_error", "overloaded_error", "timeout_error")
        assert "message_stop" not in names and "message_delta" not in names
    elif client == "openai_responses":
        assert last["type"] == "response.failed" and "response.completed" not in body
    else:
        assert "error" in last and "finishReason" not in body
    assert upstream.seen[keys[0]] == 1


def test_the_anthropic_sdk_streams_past_an_in_band_error_on_another_key(upstream, make_gateway):
    keys = keyset("sk-an", 2)
    gw = make_gateway(upstream.url, an=keys)
    upstream.set("inband", keys[0])
    client = anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0)
    with client.messages.stream(
        model="an/claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "hello from 0002" and final.stop_reason == "end_turn"
    assert upstream.seen[keys[0]] == 1 and upstream.seen[keys[1]] == 1

    upstream.set("inband", keys[1])  # both keys answer 200 + an error event: the SDK gets a clean 529
    with (
        pytest.raises(anthropic.APIStatusError) as info,
        client.messages.stream(
            model="an/claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
        ) as stream,
    ):
        "".join(stream.text_stream)
    assert info.value.status_code == 529
    assert info.value.body["error"]["type"] == "overloaded_error"


# ---------------------------------------------------------------------------- rotation, sessions, concurrency


def test_balanced_rotation_spreads_300_requests_evenly(upstream, make_gateway):
    keys = keyset("sk-oa", 3)
    gw = make_gateway(upstream.url, oa=keys)
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: chat(gw, "oa/gpt-4.1").status, range(300)))
    assert statuses == [200] * 300
    counts = [upstream.seen[k] for k in keys]
    assert sum(counts) == 300
    assert all(80 <= c <= 120 for c in counts), counts


def test_sequential_rotation_stays_on_one_key_until_it_fails(upstream, make_gateway):
    keys = keyset("sk-oa", 3)
    gw = make_gateway(upstream.url, oa=keys, rotation="sequential")
    for _ in range(5):
        assert attempts(chat(gw, "oa/gpt-4.1")) == [("0001", "ok")]
    upstream.set("retry-after:1", keys[0])
    assert attempts(chat(gw, "oa/gpt-4.1")) == [("0001", "429 rate_limit"), ("0002", "ok")]
    upstream.set("ok", keys[0])
    for _ in range(5):
        assert attempts(chat(gw, "oa/gpt-4.1")) == [("0002", "ok")]
    upstream.set("401", keys[1])
    assert attempts(chat(gw, "oa/gpt-4.1")) == [("0002", "401 authentication"), ("0003", "ok")]
    assert attempts(chat(gw, "oa/gpt-4.1")) == [("0003", "ok")]
    time.sleep(1.05)  # the first key's cooldown is over: back to it
    assert attempts(chat(gw, "oa/gpt-4.1")) == [("0001", "ok")]
    assert [upstream.seen[k] for k in keys] == [7, 7, 2]


def test_a_session_stays_on_its_key(upstream, make_gateway):
    keys = keyset("sk-oa", 3)
    gw = make_gateway(upstream.url, oa=keys)
    pinned: dict[str, str] = {}
    for _ in range(4):
        for session in ("alpha", "beta", "gamma", "delta"):
            resp = chat(gw, "oa/gpt-4.1", headers={"x-session-id": session})
            ((key, outcome),) = attempts(resp)
            assert outcome == "ok"
            assert pinned.setdefault(session, key) == key
        chat(gw, "oa/gpt-4.1")  # unrelated traffic in between
    assert len(set(pinned.values())) == 3  # sessions are spread, each one kept

    # when the session's key is rate limited the session moves, and then stays on its new key
    upstream.set("retry-after:5", next(k for k in keys if k.endswith(pinned["alpha"])))
    resp = chat(gw, "oa/gpt-4.1", headers={"x-session-id": "alpha"})
    moved = attempts(resp)[-1][0]
    assert moved != pinned["alpha"] and attempts(resp)[-1][1] == "ok"
    for _ in range(3):
        assert attempts(chat(gw, "oa/gpt-4.1", headers={"x-session-id": "alpha"})) == [(moved, "ok")]


def test_concurrency_limits_hold_under_100_concurrent_requests(upstream, make_gateway):
    keys = keyset("sk-oa", 3)
    gw = make_gateway(upstream.url, oa=keys, rotation="sequential", max_concurrency=2)
    upstream.set("slow:0.1", *keys)
    started = time.monotonic()
    with ThreadPoolExecutor(100) as pool:
        results = list(pool.map(lambda n: chat(gw, "oa/gpt-4.1", stream=n % 2 == 0), range(100)))
    elapsed = time.monotonic() - started
    assert [r.status for r in results] == [200] * 100, [r.body for r in results if r.status != 200][:2]
    assert [upstream.peak[k] for k in keys] == [2, 2, 2]  # every key used to its limit, never beyond
    assert sum(upstream.seen[k] for k in keys) == 100
    assert elapsed > 100 / 6 * 0.1 * 0.8  # the limit made requests wait
    assert all(s["in_flight"] == 0 for s in key_states(gw, "oa").values())
