"""Provider state that real clients lose, end to end through the gateway with the official SDKs,
against STRICT upstreams (:mod:`strict_upstreams`) that answer 400 unless they get their own state
back as issued (issue 13, items 1, 4, 5).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest
from gateway_harness import CLIENT_KEY, Gateway, config_from_yaml
from mock_upstreams import UpstreamHost
from strict_upstreams import DONE, StrictAnthropic

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
WEATHER_RESPONSES = {"type": "function", **WEATHER["function"]}
PREAMBLE = "Let me look that up."


class Upstreams:
    def __init__(self) -> None:
        self.host = UpstreamHost()
        self.preamble = StrictAnthropic(calls=2, preamble=PREAMBLE)
        for upstream in (self.preamble,):
            upstream.start(self.host)

    def yaml(self) -> str:
        return f"""
server: {{auth_keys: ["{CLIENT_KEY}"]}}
providers:
  an-preamble: {{type: anthropic, base_url: "{self.preamble.url}", api_keys: [sk-ant-preamble-0001]}}
"""


@pytest.fixture(scope="module")
def strict(tmp_path_factory) -> Iterator[tuple[Gateway, Upstreams]]:
    ups = Upstreams()
    gateway = Gateway(config_from_yaml(ups.yaml(), base_dir=tmp_path_factory.mktemp("state"))).start()
    yield gateway, ups
    gateway.stop()
    ups.host.close()


def sdk(gateway: Gateway, **headers: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=CLIENT_KEY, max_retries=0, default_headers=headers)


def chat(client: openai.OpenAI, stream: bool, **kwargs: Any) -> Any:
    if stream:
        with client.chat.completions.stream(**kwargs) as s:
            return s.get_final_completion().choices[0].message
    return client.chat.completions.create(**kwargs).choices[0].message


def respond(client: openai.OpenAI, stream: bool, **kwargs: Any) -> Any:
    if stream:
        with client.responses.stream(**kwargs) as s:
            return s.get_final_response()
    return client.responses.create(**kwargs)


# ---------------------------------------------------------------- 4: thinking leads a merged turn


@pytest.mark.parametrize("stream", [False, True])
def test_chat_client_sending_text_and_tool_call_as_separate_messages_keeps_thinking_first(strict, stream):
    """Claude answered thinking, a line of text, then a tool call; the client (pydantic-ai, the
    Agents SDK's Chat model) sends the text and the call back as two assistant messages. The
    merged Anthropic turn starts with the signed thinking, and thinking stays on."""
    gateway, ups = strict
    ups.preamble.reset()
    client = sdk(gateway, **{"x-session-id": f"separate-chat-{stream}"})
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in two cities, one at a time"}]
    for _turn in range(3):
        answer = chat(
            client, stream, model="an-preamble/claude", messages=messages, tools=[WEATHER], reasoning_effort="low"
        )
        if not answer.tool_calls:
            break
        assert answer.content == PREAMBLE
        messages.append({"role": "assistant", "content": answer.content})
        messages.append({"role": "assistant", "tool_calls": [tc.model_dump() for tc in answer.tool_calls]})
        messages += [{"role": "tool", "tool_call_id": tc.id, "content": "sunny"} for tc in answer.tool_calls]
    assert answer.content == DONE and ups.preamble.problems == []
    last = ups.preamble.bodies[-1]
    assert last["thinking"]["type"] == "enabled"
    turns = [m["content"] for m in last["messages"] if m["role"] == "assistant"]
    assert [[b["type"] for b in blocks] for blocks in turns] == [["thinking", "text", "tool_use"]] * 2


@pytest.mark.parametrize("stream", [False, True])
def test_responses_client_sending_reasoning_message_and_call_items_keeps_thinking_first(strict, stream):
    """The Agents SDK sends a Responses answer back as its items: reasoning, message, function_call."""
    gateway, ups = strict
    ups.preamble.reset()
    client = sdk(gateway, **{"x-session-id": f"separate-responses-{stream}"})
    items: list[Any] = [{"role": "user", "content": "Weather in two cities, one at a time"}]
    for _turn in range(3):
        answer = respond(
            client, stream, model="an-preamble/claude", input=items, tools=[WEATHER_RESPONSES],
            reasoning={"effort": "low"}, store=False,
        )  # fmt: skip
        calls = [item for item in answer.output if item.type == "function_call"]
        if not calls:
            break
        assert [item.type for item in answer.output] == ["reasoning", "message", "function_call"]
        items += [item.model_dump(exclude_none=True) for item in answer.output]
        items += [{"type": "function_call_output", "call_id": c.call_id, "output": "sunny"} for c in calls]
    assert answer.output_text == DONE and ups.preamble.problems == []
    turns = [m["content"] for m in ups.preamble.bodies[-1]["messages"] if m["role"] == "assistant"]
    assert [[b["type"] for b in blocks] for blocks in turns] == [["thinking", "text", "tool_use"]] * 2
