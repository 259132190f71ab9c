"""Provider state across turns, end to end: clients that cannot carry a provider's opaque state
(OpenAI Chat, and Anthropic clients towards Gemini) talk through the gateway to STRICT upstreams
that answer 400 when a signature they issued does not come back, as the real APIs do.

- Anthropic: with thinking on, an assistant turn with tool_use must start with the exact thinking
  block (signature) it was issued with.
- Gemini 3: every functionCall part issued with a thoughtSignature must come back with it
  (parallel calls: the signature rides on the first part only).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import orjson
import pytest
from aiohttp import web
from gateway_harness import CLIENT_KEY, Gateway, config_from_yaml
from mock_upstreams import UpstreamHost

WEATHER_OPENAI = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
WEATHER_ANTHROPIC = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def sse(events: list[tuple[str | None, dict]], crlf: bool = False) -> bytes:
    eol = "\r\n" if crlf else "\n"
    out = ""
    for name, data in events:
        out += (f"event: {name}{eol}" if name else "") + f"data: {orjson.dumps(data).decode()}{eol}{eol}"
    return out.encode()


class StrictUpstream:
    """Records each request body and answers 400 (``error``) when ``check`` finds a problem,
    else with ``answer``; ``issued`` holds the signatures handed out, by call id."""

    def __init__(self) -> None:
        self.issued: dict[str, str] = {}
        self.bodies: list[dict[str, Any]] = []

    def check(self, body: dict[str, Any]) -> str | None:
        raise NotImplementedError

    def error(self, problem: str) -> dict[str, Any]:
        raise NotImplementedError

    def answer(self, request: web.Request, body: dict[str, Any], n: int) -> web.StreamResponse:
        raise NotImplementedError

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.bodies.append(body)
        problem = self.check(body)
        if problem:
            return web.json_response(self.error(problem), status=400)
        return self.answer(request, body, len(self.bodies))


class StrictAnthropic(StrictUpstream):
    """``issued``: tool_use id -> the signature of the thinking before it."""

    def check(self, body: dict[str, Any]) -> str | None:
        if (body.get("thinking") or {}).get("type") != "enabled":
            return "thinking was turned off"
        for msg in body["messages"]:
            blocks = msg["content"] if isinstance(msg["content"], list) else []
            ids = [b["id"] for b in blocks if b.get("type") == "tool_use"]
            if msg["role"] == "assistant" and ids:
                first = blocks[0]
                if first.get("type") != "thinking" or first.get("signature") != self.issued.get(ids[0]):
                    return "messages: assistant turn with tool_use must start with its thinking block"
        return None

    def error(self, problem: str) -> dict[str, Any]:
        return {"type": "error", "error": {"type": "invalid_request_error", "message": problem}}

    def answer(self, request: web.Request, body: dict[str, Any], n: int) -> web.StreamResponse:
        content: list[dict[str, Any]]
        if n <= 2:
            signature = f"EqAnthropicSig{n}" + "A" * 60
            tool_id = f"toolu_strict_{n:04d}"
            self.issued[tool_id] = signature
            content = [
                {"type": "thinking", "thinking": f"I should look up city {n}.", "signature": signature},
                {"type": "tool_use", "id": tool_id, "name": "get_weather", "input": {"city": f"City{n}"}},
            ]
            stop = "tool_use"
        else:
            content, stop = [{"type": "text", "text": "All done: sunny everywhere."}], "end_turn"
        usage = {"input_tokens": 20, "output_tokens": 10}
        message = {"id": f"msg_strict_{n}", "type": "message", "role": "assistant", "model": "claude-strict",
                   "content": content, "stop_reason": stop, "stop_sequence": None, "usage": usage}  # fmt: skip
        if not body.get("stream"):
            return web.json_response(message)
        events: list[tuple[str | None, dict]] = [
            ("message_start", {"type": "message_start", "message": {**message, "content": [], "stop_reason": None}})
        ]
        for i, block in enumerate(content):
            if block["type"] == "thinking":
                start = {"type": "thinking", "thinking": "", "signature": ""}
                deltas = [
                    {"type": "thinking_delta", "thinking": block["thinking"]},
                    {"type": "signature_delta", "signature": block["signature"]},
                ]
            elif block["type"] == "tool_use":
                start = {**block, "input": {}}
                deltas = [{"type": "input_json_delta", "partial_json": orjson.dumps(block["input"]).decode()}]
            else:
                start = {"type": "text", "text": ""}
                deltas = [{"type": "text_delta", "text": block["text"]}]
            events.append(("content_block_start", {"type": "content_block_start", "index": i, "content_block": start}))
            events += [("content_block_delta", {"type": "content_block_delta", "index": i, "delta": d}) for d in deltas]
            events.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
        events.append(
            (
                "message_delta",
                {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}, "usage": usage},
            )
        )
        events.append(("message_stop", {"type": "message_stop"}))
        return web.Response(body=sse(events), content_type="text/event-stream")


class StrictGemini(StrictUpstream):
    """``issued``: functionCall id -> thoughtSignature."""

    def check(self, body: dict[str, Any]) -> str | None:
        for content in body["contents"]:
            for part in content.get("parts", []):
                call = part.get("functionCall")
                if call and call.get("id") in self.issued and part.get("thoughtSignature") != self.issued[call["id"]]:
                    return f"Function call is missing a thought_signature in functionCall parts ({call.get('id')})"
        return None

    def error(self, problem: str) -> dict[str, Any]:
        return {"error": {"code": 400, "message": problem, "status": "INVALID_ARGUMENT"}}

    def answer(self, request: web.Request, body: dict[str, Any], n: int) -> web.StreamResponse:
        if n <= 2:
            first = {
                "functionCall": {"id": f"g{n}a", "name": "get_weather", "args": {"city": f"Paris{n}"}},
                "thoughtSignature": f"GmSig{n}" + "B" * 40,
            }
            second = {"functionCall": {"id": f"g{n}b", "name": "get_weather", "args": {"city": f"Rome{n}"}}}
            self.issued[f"g{n}a"] = first["thoughtSignature"]
            parts = [first, second]
        else:
            parts = [{"text": "All done: sunny everywhere."}]
        chunk = {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
                 "usageMetadata": {"promptTokenCount": 20, "candidatesTokenCount": 10, "totalTokenCount": 30},
                 "modelVersion": "gemini-strict", "responseId": f"strict{n}"}  # fmt: skip
        if "streamGenerateContent" in request.path:
            return web.Response(body=sse([(None, chunk)], crlf=True), content_type="text/event-stream")
        return web.json_response(chunk)


@pytest.fixture(scope="module")
def strict(tmp_path_factory) -> Iterator[tuple[Gateway, StrictAnthropic, StrictGemini]]:
    an, gm = StrictAnthropic(), StrictGemini()
    upstream_host = UpstreamHost()
    urls = []
    for upstream in (an, gm):

        async def start(handler=upstream.handle) -> str:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", handler)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            upstream_host.runners.append(runner)
            return f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]

        urls.append(upstream_host.call(start()))
    yaml = f"""
server: {{auth_keys: ["{CLIENT_KEY}"]}}
providers:
  strict-an: {{type: anthropic, base_url: "{urls[0]}", api_keys: [sk-ant-strict-0001]}}
  strict-gm: {{type: gemini, base_url: "{urls[1]}", api_keys: [gm-strict-0001]}}
"""
    gateway = Gateway(config_from_yaml(yaml, base_dir=tmp_path_factory.mktemp("fieldcache"))).start()
    yield gateway, an, gm
    gateway.stop()
    upstream_host.close()


def chat_turns(gateway: Gateway, model: str, stream: bool, session: str) -> list[Any]:
    """Three OpenAI Chat turns of a tool loop; the client keeps only what Chat can carry."""
    sdk = openai.OpenAI(
        base_url=gateway.url + "/v1", api_key=CLIENT_KEY, max_retries=0, default_headers={"x-session-id": session}
    )
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in two cities, one at a time please"}]
    answers = []
    for _turn in range(3):
        kwargs = {"model": model, "messages": messages, "tools": [WEATHER_OPENAI], "reasoning_effort": "medium"}
        if stream:
            with sdk.chat.completions.stream(**kwargs) as s:
                answer = s.get_final_completion().choices[0].message
        else:
            answer = sdk.chat.completions.create(**kwargs).choices[0].message
        answers.append(answer)
        if not answer.tool_calls:
            break
        messages.append(
            {
                "role": "assistant",
                "content": answer.content,
                "tool_calls": [tc.model_dump() for tc in answer.tool_calls],
            }
        )
        messages += [{"role": "tool", "tool_call_id": tc.id, "content": "sunny, 21C"} for tc in answer.tool_calls]
    return answers


@pytest.mark.parametrize("stream", [False, True])
def test_openai_chat_client_to_anthropic_keeps_thinking_signatures(strict, stream):
    gateway, an, _ = strict
    an.bodies.clear()
    answers = chat_turns(gateway, "strict-an/claude-strict", stream, f"s-an-{stream}")
    assert answers[-1].content == "All done: sunny everywhere."  # no 400 on turns 2 and 3
    assert len(an.bodies) == 3
    for turn, body in enumerate(an.bodies[1:], start=2):
        assistants = [m for m in body["messages"] if m["role"] == "assistant"]
        assert len(assistants) == turn - 1
        for k, msg in enumerate(assistants, start=1):
            assert msg["content"][0] == {
                "type": "thinking",
                "thinking": f"I should look up city {k}.",
                "signature": f"EqAnthropicSig{k}" + "A" * 60,
            }


@pytest.mark.parametrize("stream", [False, True])
def test_openai_chat_client_to_gemini_keeps_thought_signatures_on_parallel_calls(strict, stream):
    gateway, _, gm = strict
    gm.bodies.clear()
    answers = chat_turns(gateway, "strict-gm/gemini-strict", stream, f"s-gm-{stream}")
    assert len(answers[0].tool_calls) == 2 and answers[-1].content == "All done: sunny everywhere."
    for body in gm.bodies[1:]:
        calls = [p for c in body["contents"] for p in c["parts"] if "functionCall" in p]
        signed = [p for p in calls if p["functionCall"]["id"].endswith("a")]
        assert signed and all(p["thoughtSignature"] == gm.issued[p["functionCall"]["id"]] for p in signed)


def test_anthropic_client_to_gemini_keeps_thought_signatures(strict):
    gateway, _, gm = strict
    gm.bodies.clear()
    sdk = anthropic.Anthropic(base_url=gateway.url, api_key=CLIENT_KEY, max_retries=0)
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in two cities"}]
    for _turn in range(3):
        answer = sdk.messages.create(
            model="strict-gm/gemini-strict", max_tokens=500, messages=messages, tools=[WEATHER_ANTHROPIC]
        )
        uses = [b for b in answer.content if b.type == "tool_use"]
        if not uses:
            break
        messages.append({"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in answer.content]})
        messages.append(
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": u.id, "content": "sunny"} for u in uses],
            }
        )
    assert answer.content[0].text == "All done: sunny everywhere." and len(gm.bodies) == 3


def test_sessions_and_keys_do_not_share_values(strict):
    """Another session gets nothing injected: the strict upstream refuses its borrowed history."""
    gateway, an, _ = strict
    an.bodies.clear()
    chat_turns(gateway, "strict-an/claude-strict", False, "owner-session")
    history = an.bodies[1]["messages"]
    sdk = openai.OpenAI(
        base_url=gateway.url + "/v1", api_key=CLIENT_KEY, max_retries=0, default_headers={"x-session-id": "intruder"}
    )
    first = history[0]["content"]
    chat_history: list[dict[str, Any]] = [
        {"role": "user", "content": first if isinstance(first, str) else first[0]["text"]}
    ]
    tool_id = history[1]["content"][1]["id"]
    chat_history.append(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": tool_id, "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}],
        }
    )
    chat_history.append({"role": "tool", "tool_call_id": tool_id, "content": "x"})
    an.bodies.clear()
    with pytest.raises(openai.BadRequestError):  # nothing of the owner's was injected, so the strict upstream refuses
        sdk.chat.completions.create(
            model="strict-an/claude-strict", messages=chat_history, tools=[WEATHER_OPENAI], reasoning_effort="medium"
        )
    sent = an.bodies[-1]
    assert not any(
        b.get("type") == "thinking"
        for m in sent["messages"]
        for b in (m["content"] if isinstance(m["content"], list) else [])
    )
