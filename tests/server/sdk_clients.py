"""The four official SDKs as gateway clients, behind one small interface.

``client(protocol, base_url).ask(...)`` sends one request the way that SDK's users do (its
stream helpers accumulate streams) and returns a :class:`Result` with what the SDK parsed:
text, visible reasoning, tool calls, usage as (prompt total, output total) and stop reason.
A tool-result turn is given protocol-neutrally (:class:`ToolTurn`) and written in each SDK's
own history shape; with ``prompt=None`` the request ends with the tool result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import anthropic
import openai
from gateway_harness import CLIENT_KEY
from google import genai
from google.genai import types as gtypes


@dataclass
class ToolSpec:
    name: str
    description: str
    schema: dict[str, Any]


@dataclass
class ToolTurn:
    """An earlier turn: the user asked, the model called a tool, the tool answered."""

    prompt: str
    call_id: str
    name: str
    args: dict[str, Any]
    result: str


@dataclass
class Result:
    text: str = ""
    reasoning: str = ""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    call_ids: list[str] = field(default_factory=list)
    usage: tuple[int, int] | None = None
    stop: str | None = None
    raw: Any = None


WEATHER = ToolSpec(
    "get_weather",
    "Current weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
CLOCK = ToolSpec(
    "get_time",
    "Current time in a time zone",
    {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]},
)


@dataclass
class Question:
    """One request, protocol-neutrally: what :meth:`SDKClient.ask` was given."""

    model: str
    prompt: str | None
    system: str | None = None
    tools: list[ToolSpec] | None = None
    history: ToolTurn | None = None
    thinking: bool = False


class SDKClient:
    """One SDK as a gateway client; a subclass writes a :class:`Question` the SDK's way (``send``)."""

    protocol: str

    def ask(
        self,
        model: str,
        prompt: str | None,
        *,
        stream: bool = False,
        system: str | None = None,
        tools: list[ToolSpec] | None = None,
        history: ToolTurn | None = None,
        thinking: bool = False,
    ) -> Result:
        return self.send(Question(model, prompt, system, tools, history, thinking), stream)

    def send(self, q: Question, stream: bool) -> Result:
        raise NotImplementedError


class OpenAIClient(SDKClient):
    def __init__(self, base_url: str, api_key: str = CLIENT_KEY) -> None:
        self.sdk = openai.OpenAI(base_url=base_url + "/v1", api_key=api_key, max_retries=0, timeout=30)


class ChatClient(OpenAIClient):
    protocol = "openai_chat"

    def send(self, q: Question, stream: bool) -> Result:
        messages: list[dict[str, Any]] = [{"role": "system", "content": q.system}] if q.system else []
        if q.history:
            messages += [
                {"role": "user", "content": q.history.prompt},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": q.history.call_id,
                            "type": "function",
                            "function": {"name": q.history.name, "arguments": json.dumps(q.history.args)},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": q.history.call_id, "content": q.history.result},
            ]
        if q.prompt is not None:
            messages.append({"role": "user", "content": q.prompt})
        kwargs: dict[str, Any] = {"model": q.model, "messages": messages}
        if q.tools:
            kwargs["tools"] = [
                {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.schema}}
                for t in q.tools
            ]
        if q.thinking:
            kwargs["reasoning_effort"] = "low"
        if stream:
            with self.sdk.chat.completions.stream(**kwargs, stream_options={"include_usage": True}) as s:
                done = s.get_final_completion()
        else:
            done = self.sdk.chat.completions.create(**kwargs)
        message = done.choices[0].message
        calls = message.tool_calls or []
        return Result(
            text=message.content or "",
            calls=[(c.function.name, json.loads(c.function.arguments or "{}")) for c in calls],
            call_ids=[c.id for c in calls],
            usage=(done.usage.prompt_tokens, done.usage.completion_tokens) if done.usage else None,
            stop=done.choices[0].finish_reason,
            raw=done,
        )


class ResponsesClient(OpenAIClient):
    protocol = "openai_responses"

    def send(self, q: Question, stream: bool) -> Result:
        items: list[dict[str, Any]] = []
        if q.history:
            items += [
                {"type": "message", "role": "user", "content": q.history.prompt},
                {
                    "type": "function_call",
                    "call_id": q.history.call_id,
                    "name": q.history.name,
                    "arguments": json.dumps(q.history.args),
                },
                {"type": "function_call_output", "call_id": q.history.call_id, "output": q.history.result},
            ]
        if q.prompt is not None:
            items.append({"type": "message", "role": "user", "content": q.prompt})
        kwargs: dict[str, Any] = {"model": q.model, "input": items, "store": False}
        if q.system:
            kwargs["instructions"] = q.system
        if q.tools:
            kwargs["tools"] = [
                {
                    "type": "function",
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.schema,
                    "strict": False,
                }
                for t in q.tools
            ]
        if q.thinking:
            kwargs["reasoning"] = {"effort": "low", "summary": "auto"}
        if stream:
            with self.sdk.responses.stream(**kwargs) as s:
                done = s.get_final_response()
        else:
            done = self.sdk.responses.create(**kwargs)
        result = Result(text=done.output_text, raw=done, stop=done.status)
        for item in done.output:
            if item.type == "reasoning":
                result.reasoning += "".join(s.text for s in item.summary)
            elif item.type == "function_call":
                result.calls.append((item.name, json.loads(item.arguments or "{}")))
                result.call_ids.append(item.call_id)
        if done.usage:
            result.usage = (done.usage.input_tokens, done.usage.output_tokens)
        return result


class AnthropicClient(SDKClient):
    protocol = "anthropic"

    def __init__(self, base_url: str, api_key: str = CLIENT_KEY) -> None:
        self.sdk = anthropic.Anthropic(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)

    def send(self, q: Question, stream: bool) -> Result:
        messages: list[dict[str, Any]] = []
        if q.history:
            messages += [
                {"role": "user", "content": q.history.prompt},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "tool_use", "id": q.history.call_id, "name": q.history.name, "input": q.history.args}
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": q.history.call_id, "content": q.history.result},
                        *([{"type": "text", "text": q.prompt}] if q.prompt is not None else []),
                    ],
                },
            ]
        else:
            messages.append({"role": "user", "content": q.prompt})
        kwargs: dict[str, Any] = {"model": q.model, "max_tokens": 1024, "messages": messages}
        if q.system:
            kwargs["system"] = q.system
        if q.tools:
            kwargs["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.schema} for t in q.tools
            ]
        if q.thinking:
            kwargs["max_tokens"] = 4096
            kwargs["thinking"] = {"type": "enabled", "budget_tokens": 1024}
        if stream:
            with self.sdk.messages.stream(**kwargs) as s:
                done = s.get_final_message()
        else:
            done = self.sdk.messages.create(**kwargs)
        result = Result(raw=done, stop=done.stop_reason)
        for block in done.content:
            if block.type == "text":
                result.text += block.text
            elif block.type == "thinking":
                result.reasoning += block.thinking
            elif block.type == "tool_use":
                result.calls.append((block.name, dict(block.input)))
                result.call_ids.append(block.id)
        u = done.usage
        result.usage = (
            u.input_tokens + (u.cache_creation_input_tokens or 0) + (u.cache_read_input_tokens or 0),
            u.output_tokens,
        )
        return result


class GeminiClient(SDKClient):
    protocol = "gemini"

    def __init__(self, base_url: str, api_key: str = CLIENT_KEY) -> None:
        self.sdk = genai.Client(
            api_key=api_key,
            http_options=gtypes.HttpOptions(
                base_url=base_url,
                api_version="v1beta",  # as the Gemini CLI sends (this SDK version defaults to v1)
                timeout=30_000,
                retry_options=gtypes.HttpRetryOptions(attempts=1),
            ),
        )

    def send(self, q: Question, stream: bool) -> Result:
        contents: list[gtypes.Content] = []
        if q.history:
            contents += [
                gtypes.Content(role="user", parts=[gtypes.Part(text=q.history.prompt)]),
                gtypes.Content(
                    role="model",
                    parts=[
                        gtypes.Part(
                            function_call=gtypes.FunctionCall(
                                id=q.history.call_id, name=q.history.name, args=q.history.args
                            )
                        )
                    ],
                ),
                gtypes.Content(
                    role="user",
                    parts=[
                        gtypes.Part(
                            function_response=gtypes.FunctionResponse(
                                id=q.history.call_id, name=q.history.name, response={"result": q.history.result}
                            )
                        )
                    ],
                ),
            ]
        if q.prompt is not None:
            contents.append(gtypes.Content(role="user", parts=[gtypes.Part(text=q.prompt)]))
        config = gtypes.GenerateContentConfig(system_instruction=q.system)
        if q.tools:
            config.tools = [
                gtypes.Tool(
                    function_declarations=[
                        gtypes.FunctionDeclaration(
                            name=t.name, description=t.description, parameters_json_schema=t.schema
                        )
                        for t in q.tools
                    ]
                )
            ]
        if q.thinking:
            config.thinking_config = gtypes.ThinkingConfig(include_thoughts=True)
        if stream:
            chunks = list(self.sdk.models.generate_content_stream(model=q.model, contents=contents, config=config))
        else:
            chunks = [self.sdk.models.generate_content(model=q.model, contents=contents, config=config)]
        result = Result(raw=chunks)
        for chunk in chunks:
            for cand in chunk.candidates or []:
                if cand.finish_reason:
                    result.stop = str(cand.finish_reason.value)
                for part in (cand.content.parts if cand.content else None) or []:
                    if part.function_call:
                        result.calls.append((part.function_call.name, dict(part.function_call.args or {})))
                        result.call_ids.append(part.function_call.id or "")
                    elif part.text and part.thought:
                        result.reasoning += part.text
                    elif part.text:
                        result.text += part.text
        usage = chunks[-1].usage_metadata if chunks else None
        if usage is not None:
            result.usage = (
                usage.prompt_token_count or 0,
                (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0),
            )
        return result


CLIENTS = {c.protocol: c for c in (ChatClient, ResponsesClient, AnthropicClient, GeminiClient)}


def client(protocol: str, base_url: str, api_key: str = CLIENT_KEY) -> Any:
    return CLIENTS[protocol](base_url, api_key)
