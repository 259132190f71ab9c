"""The OpenAI Agents SDK as a client: an agent with a function tool and reasoning on, over two user
turns — the history sent back (``to_input_list``) or, for the Responses model, chained with
``previous_response_id`` — with ``Runner.run`` and ``Runner.run_streamed``. The Responses model
runs against an Anthropic upstream with thinking, the Chat model against Gemini with
thoughtSignatures."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest
from agents import (
    Agent,
    ModelSettings,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    Runner,
    function_tool,
    set_tracing_disabled,
)
from agents.result import RunResultBase
from framework_harness import CITIES, QUESTIONS, USAGE, assert_upstream_kept_state, model, weather_tool
from gateway_harness import CLIENT_KEY
from openai.types.shared import Reasoning
from strict_upstreams import DONE

set_tracing_disabled(True)

MODEL_CLASSES = {"responses": OpenAIResponsesModel, "chat": OpenAIChatCompletionsModel}
# client model -> the upstream protocol it is paired with
PAIRS = {"responses": "anthropic", "chat": "gemini"}


async def run(agent: Agent, conversation: Any, stream: bool, **kwargs: Any) -> RunResultBase:
    if not stream:
        return await Runner.run(agent, conversation, **kwargs)
    result = Runner.run_streamed(agent, conversation, **kwargs)
    async for _event in result.stream_events():
        pass
    return result


async def two_turns(gateway_url: str, kind: str, stream: bool, chained: bool) -> tuple[list[str], list[str]]:
    """The agent's two answers (each run counted the usage of its two requests), and the cities its
    tool was called with."""
    get_weather, cities = weather_tool()
    client = openai.AsyncOpenAI(base_url=gateway_url + "/v1", api_key=CLIENT_KEY, max_retries=0)
    agent = Agent(
        name="weather",
        instructions="Answer with the weather tool.",
        tools=[function_tool(get_weather)],
        model=MODEL_CLASSES[kind](model=model("openai", PAIRS[kind]), openai_client=client),
        # usage in a Chat stream only when asked (the SDK asks by default of api.openai.com only)
        model_settings=ModelSettings(reasoning=Reasoning(effort="low", summary="auto"), include_usage=True),
    )
    first = await run(agent, QUESTIONS[0], stream)
    if chained:
        second = await run(agent, QUESTIONS[1], stream, previous_response_id=first.last_response_id)
    else:
        second = await run(agent, [*first.to_input_list(), {"role": "user", "content": QUESTIONS[1]}], stream)
    await client.close()
    for result in (first, second):
        usage = result.context_wrapper.usage
        assert (usage.input_tokens, usage.output_tokens) == USAGE
    return [first.final_output, second.final_output], cities


@pytest.mark.parametrize("stream", [False, True], ids=["run", "run_streamed"])
@pytest.mark.parametrize("kind", sorted(PAIRS))
def test_agents_sdk_tool_loop_with_reasoning_over_two_turns(gateway, upstreams, kind, stream):
    answers, cities = asyncio.run(two_turns(gateway.url, kind, stream, chained=False))
    assert answers == [DONE, DONE] and sorted(cities) == sorted(CITIES[PAIRS[kind]])
    assert_upstream_kept_state(upstreams, PAIRS[kind])


@pytest.mark.parametrize("stream", [False, True], ids=["run", "run_streamed"])
def test_agents_sdk_responses_model_chained_with_previous_response_id(gateway, upstreams, stream):
    """Turn 2 sends only the new question and the id of turn 1's last response: the gateway
    replays the stored lineage, thinking signatures included."""
    answers, cities = asyncio.run(two_turns(gateway.url, "responses", stream, chained=True))
    assert answers == [DONE, DONE] and sorted(cities) == sorted(CITIES["anthropic"])
    assert_upstream_kept_state(upstreams, "anthropic")
