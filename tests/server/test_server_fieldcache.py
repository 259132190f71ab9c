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
import pytest
from gateway_harness import CLIENT_KEY, Gateway, config_from_yaml
from mock_upstreams import UpstreamHost
from strict_upstreams import StrictAnthropic, StrictGemini

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


@pytest.fixture(scope="module")
def strict(tmp_path_factory) -> Iterator[tuple[Gateway, StrictAnthropic, StrictGemini]]:
    an, gm = StrictAnthropic(), StrictGemini()
    upstream_host = UpstreamHost()
    urls = [upstream.start(upstream_host) for upstream in (an, gm)]
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
