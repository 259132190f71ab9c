"""Strict mock upstreams: real aiohttp servers that answer 400 unless they get their own provider
state back, exactly as it was issued, as the real APIs do.

- :class:`StrictAnthropic`: with thinking on, an assistant turn with tool_use must start with the
  exact thinking block (signature) it was issued with; thinking must be on (``thinking: enabled``).
- :class:`StrictGemini`: every functionCall part issued with a thoughtSignature must come back
  with it (parallel calls: the signature rides on the first part only).
- :class:`StrictResponses`: a ``function_call`` input item the upstream issued must come right
  after its reasoning item, with the ``encrypted_content`` it was issued with ("function_call was
  provided without its required reasoning item").

Each answers the first ``calls`` requests with a tool call (thinking / signature first) and then
with text; with ``calls=None`` it answers every user message with a tool call and every tool result
with text (a multi-turn conversation, each turn a tool loop). With ``thoughts`` the reasoning is also
readable: a thought part before a Gemini call, a summary on a Responses reasoning item (Anthropic
always writes its thinking out). State issued under one key is accepted under every other key of the upstream (as for
the keys of one provider account); ``refuse`` holds keys answered with a 429.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web
from mock_upstreams import UpstreamHost

DONE = "All done: sunny everywhere."


def sse(events: list[tuple[str | None, dict]], crlf: bool = False) -> bytes:
    eol = "\r\n" if crlf else "\n"
    out = ""
    for name, data in events:
        out += (f"event: {name}{eol}" if name else "") + f"data: {orjson.dumps(data).decode()}{eol}{eol}"
    return out.encode()


def _call(name: str, args: dict[str, Any]) -> str:
    return name + orjson.dumps(args, option=orjson.OPT_SORT_KEYS).decode()


def request_key(request: web.Request) -> str:
    """The credential a request presented (any of the three auth styles)."""
    for name in ("x-api-key", "x-goog-api-key"):
        if name in request.headers:
            return request.headers[name]
    return request.headers.get("authorization", "").removeprefix("Bearer ")


class StrictUpstream:
    """Records each request body (``bodies``) and key (``keys``); answers 400 (``error``) when
    ``check`` finds a problem, else with ``answer``; ``issued`` holds the state handed out."""

    def __init__(self, calls: int | None = 2, thoughts: bool = False) -> None:
        self.calls = calls
        self.thoughts = thoughts
        self.issued: dict[str, str] = {}
        self.bodies: list[dict[str, Any]] = []
        self.keys: list[str] = []
        self.refuse: set[str] = set()
        self.problems: list[str] = []
        self.url = ""
        self.pause = 0.0
        """Seconds of silence in a streamed answer after its first event (the model thinking)."""

    def reset(self) -> None:
        self.bodies.clear()
        self.keys.clear()
        self.refuse.clear()
        self.problems.clear()

    def check(self, body: dict[str, Any]) -> str | None:
        raise NotImplementedError

    def user_spoke_last(self, body: dict[str, Any]) -> bool:
        raise NotImplementedError

    def calls_tool(self, body: dict[str, Any], n: int) -> bool:
        """Whether the ``n``-th request is answered with a tool call."""
        return self.user_spoke_last(body) if self.calls is None else n <= self.calls

    def error(self, problem: str, status: int = 400) -> dict[str, Any]:
        raise NotImplementedError

    def answer(self, request: web.Request, body: dict[str, Any], n: int) -> web.StreamResponse:
        raise NotImplementedError

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        key = request_key(request)
        if key in self.refuse:
            return web.json_response(self.error("rate limited", 429), status=429, headers={"retry-after": "30"})
        self.bodies.append(body)
        self.keys.append(key)
        problem = self.check(body)
        if problem:
            self.problems.append(problem)
            return web.json_response(self.error(problem), status=400)
        answer = self.answer(request, body, len(self.bodies))
        if not self.pause or answer.content_type != "text/event-stream":
            return answer
        body = answer.body  # type: ignore[union-attr]
        first, sep, rest = body.partition(b"\r\n\r\n" if b"\r\n\r\n" in body else b"\n\n")
        stream = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await stream.prepare(request)
        await stream.write(first + sep)
        await asyncio.sleep(self.pause)
        await stream.write(rest)
        await stream.write_eof()
        return stream

    def start(self, host: UpstreamHost) -> str:
        async def start() -> str:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self.handle)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host.runners.append(runner)
            return f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]

        self.url = host.call(start())
        return self.url


class StrictAnthropic(StrictUpstream):
    """``issued``: tool_use id (and name + input) -> the signature of the thinking before it. ``preamble``: a line of
    text the model writes between its thinking and its tool call (Claude often does)."""

    def __init__(self, calls: int | None = 2, preamble: str | None = None) -> None:
        super().__init__(calls)
        self.preamble = preamble
        self.thoughts: dict[str, str] = {}
        """signature -> the thinking text it signs"""

    def check(self, body: dict[str, Any]) -> str | None:
        if (body.get("thinking") or {}).get("type") != "enabled":
            return "thinking was turned off"
        for msg in body["messages"]:
            blocks = msg["content"] if isinstance(msg["content"], list) else []
            uses = [b for b in blocks if b.get("type") == "tool_use"]
            if msg["role"] == "assistant" and uses:
                first = blocks[0]
                # the signature signs the thinking, not the tool_use id a client may have lost
                issued = self.issued.get(uses[0]["id"]) or self.issued.get(_call(uses[0]["name"], uses[0]["input"]))
                if first.get("type") != "thinking" or first.get("signature") != issued:
                    return "messages: assistant turn with tool_use must start with its thinking block"
                if first.get("thinking") != self.thoughts[issued]:
                    return "messages: invalid signature in thinking block"  # the signature signs the text
        return None

    def user_spoke_last(self, body: dict[str, Any]) -> bool:
        last = body["messages"][-1]
        blocks = last["content"] if isinstance(last["content"], list) else []
        return last["role"] == "user" and not any(b.get("type") == "tool_result" for b in blocks)

    def error(self, problem: str, status: int = 400) -> dict[str, Any]:
        kind = "rate_limit_error" if status == 429 else "invalid_request_error"
        return {"type": "error", "error": {"type": kind, "message": problem}}

    def answer(self, request: web.Request, body: dict[str, Any], n: int) -> web.StreamResponse:
        content: list[dict[str, Any]]
        if self.calls_tool(body, n):
            signature = f"EqAnthropicSig{n}" + "A" * 60
            tool_id = f"toolu_strict_{n:04d}"
            self.issued[tool_id] = self.issued[_call("get_weather", {"city": f"City{n}"})] = signature
            self.thoughts[signature] = f"I should look up city {n}."
            content = [{"type": "thinking", "thinking": self.thoughts[signature], "signature": signature}]
            if self.preamble:
                content.append({"type": "text", "text": self.preamble})
            content.append({"type": "tool_use", "id": tool_id, "name": "get_weather", "input": {"city": f"City{n}"}})
            stop = "tool_use"
        else:
            content, stop = [{"type": "text", "text": DONE}], "end_turn"
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

    def user_spoke_last(self, body: dict[str, Any]) -> bool:
        last = body["contents"][-1]
        return last.get("role", "user") == "user" and not any("functionResponse" in p for p in last["parts"])

    def error(self, problem: str, status: int = 400) -> dict[str, Any]:
        return {
            "error": {
                "code": status,
                "message": problem,
                "status": "RESOURCE_EXHAUSTED" if status == 429 else "INVALID_ARGUMENT",
            }
        }

    def answer(self, request: web.Request, body: dict[str, Any], n: int) -> web.StreamResponse:
        if self.calls_tool(body, n):
            first = {
                "functionCall": {"id": f"g{n}a", "name": "get_weather", "args": {"city": f"Paris{n}"}},
                "thoughtSignature": f"GmSig{n}" + "B" * 40,
            }
            second = {"functionCall": {"id": f"g{n}b", "name": "get_weather", "args": {"city": f"Rome{n}"}}}
            self.issued[f"g{n}a"] = first["thoughtSignature"]
            thought = [{"text": f"Looking up Paris{n} and Rome{n}.", "thought": True}] if self.thoughts else []
            parts = [*thought, first, second]
        else:
            parts = [{"text": DONE}]

        def chunk(parts: list[dict[str, Any]]) -> dict[str, Any]:
            return {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
                    "usageMetadata": {"promptTokenCount": 20, "candidatesTokenCount": 10, "totalTokenCount": 30},
                    "modelVersion": "gemini-strict", "responseId": f"strict{n}"}  # fmt: skip

        if "streamGenerateContent" in request.path:  # as Gemini streams: thoughts first, the calls in the last chunk
            chunks = [chunk([p]) for p in parts if p.get("thought")] + [
                chunk([p for p in parts if not p.get("thought")])
            ]
            return web.Response(body=sse([(None, c) for c in chunks], crlf=True), content_type="text/event-stream")
        return web.json_response(chunk(parts))


class StrictResponses(StrictUpstream):
    """``issued``: function_call call_id -> the encrypted_content of the reasoning item before it."""

    def check(self, body: dict[str, Any]) -> str | None:
        items = body.get("input") if isinstance(body.get("input"), list) else []
        for i, item in enumerate(items):
            if item.get("type") != "function_call" or item.get("call_id") not in self.issued:
                continue
            before = items[i - 1] if i else {}
            if before.get("type") == "function_call":
                continue  # a parallel call: its reasoning item stands before the first one
            if before.get("type") != "reasoning" or before.get("encrypted_content") != self.issued[item["call_id"]]:
                return (
                    f"Item '{item.get('id')}' of type 'function_call' was provided without its required "
                    "'reasoning' item"
                )
        return None

    def user_spoke_last(self, body: dict[str, Any]) -> bool:
        items = body["input"] if isinstance(body["input"], list) else [{"type": "message", "role": "user"}]
        return items[-1].get("type", "message") == "message" and items[-1].get("role") == "user"

    def error(self, problem: str, status: int = 400) -> dict[str, Any]:
        kind = "rate_limit_exceeded" if status == 429 else "invalid_request_error"
        return {"error": {"message": problem, "type": kind, "param": "input", "code": None}}

    def answer(self, request: web.Request, body: dict[str, Any], n: int) -> web.StreamResponse:
        if self.calls_tool(body, n):
            encrypted = f"gAAAAResponsesEnc{n}" + "C" * 50
            call_id = f"call_strict_{n}"
            self.issued[call_id] = encrypted
            output = [
                {"id": f"rs_strict_{n}", "type": "reasoning", "encrypted_content": encrypted,
                 "summary": [{"type": "summary_text", "text": f"Looking up Oslo{n}."}] if self.thoughts else []},
                {"id": f"fc_strict_{n}", "type": "function_call", "status": "completed", "call_id": call_id,
                 "name": "get_weather", "arguments": orjson.dumps({"city": f"Oslo{n}"}).decode()},
            ]  # fmt: skip
        else:
            output = [{"id": f"msg_strict_{n}", "type": "message", "status": "completed", "role": "assistant",
                       "content": [{"type": "output_text", "text": DONE, "annotations": []}]}]  # fmt: skip
        usage = {"input_tokens": 20, "output_tokens": 10, "total_tokens": 30}
        response = {"id": f"resp_strict_{n}", "object": "response", "created_at": 1700000000 + n,
                    "status": "completed", "model": "gpt-strict", "output": output, "usage": usage}  # fmt: skip
        if not body.get("stream"):
            return web.json_response(response)
        events: list[tuple[str | None, dict]] = [
            ("response.created", {"type": "response.created", "response": {**response, "status": "in_progress",
                                                                          "output": [], "usage": None}}),
        ]  # fmt: skip
        for i, item in enumerate(output):
            shell = {**item, "content": []} if item["type"] == "message" else item
            shell = {**shell, "summary": []} if item["type"] == "reasoning" else shell
            events.append(("response.output_item.added", {"type": "response.output_item.added", "output_index": i,
                                                          "item": shell}))  # fmt: skip
            for j, part in enumerate(item.get("summary") or []):
                ids = {"item_id": item["id"], "output_index": i, "summary_index": j}
                events += [
                    ("response.reasoning_summary_part.added", {"type": "response.reasoning_summary_part.added",
                                                               **ids, "part": {**part, "text": ""}}),
                    ("response.reasoning_summary_text.delta", {"type": "response.reasoning_summary_text.delta",
                                                               **ids, "delta": part["text"]}),
                    ("response.reasoning_summary_text.done", {"type": "response.reasoning_summary_text.done",
                                                              **ids, "text": part["text"]}),
                    ("response.reasoning_summary_part.done", {"type": "response.reasoning_summary_part.done",
                                                              **ids, "part": part}),
                ]  # fmt: skip
            for j, part in enumerate(item.get("content") or []):
                ids = {"item_id": item["id"], "output_index": i, "content_index": j}
                events += [
                    ("response.content_part.added", {"type": "response.content_part.added", **ids,
                                                     "part": {**part, "text": ""}}),
                    ("response.output_text.delta", {"type": "response.output_text.delta", **ids,
                                                    "delta": part["text"]}),
                    ("response.content_part.done", {"type": "response.content_part.done", **ids, "part": part}),
                ]  # fmt: skip
            events.append(("response.output_item.done", {"type": "response.output_item.done", "output_index": i,
                                                         "item": item}))  # fmt: skip
        events.append(("response.completed", {"type": "response.completed", "response": response}))
        for seq, (_, data) in enumerate(events):
            data["sequence_number"] = seq
        return web.Response(body=sse(events), content_type="text/event-stream")
