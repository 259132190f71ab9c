"""pydantic-ai as a client: an agent with a function tool and thinking on, over two user turns (the
second carries ``all_messages()`` of the first), each a tool loop, with ``Agent.run`` on plain
requests or on streamed ones (an ``event_stream_handler`` makes pydantic-ai stream every step).
Its OpenAI Chat model runs against Gemini, its OpenAI Responses model against Anthropic, its
Anthropic model against an OpenAI Responses upstream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable
from typing import Any

import anthropic
import openai
import pytest
from framework_harness import CITIES, QUESTIONS, USAGE, assert_upstream_kept_state, model, weather_tool
from gateway_harness import CLIENT_KEY
from pydantic_ai import Agent
from pydantic_ai.models import Model
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel, OpenAIResponsesModelSettings
from pydantic_ai.providers.anthropic import AnthropicProvider
from pydantic_ai.providers.openai import OpenAIProvider
from pydantic_ai.settings import ModelSettings
from strict_upstreams import DONE

# client model -> the upstream protocol it is paired with
PAIRS = {"openai-chat": "gemini", "openai-responses": "anthropic", "anthropic": "openai_responses"}


def client_model(kind: str, gateway_url: str) -> Model:
    name = model("anthropic" if kind == "anthropic" else "openai", PAIRS[kind])
    if kind == "anthropic":
        client = anthropic.AsyncAnthropic(base_url=gateway_url, api_key=CLIENT_KEY, max_retries=0)
        return AnthropicModel(name, provider=AnthropicProvider(anthropic_client=client))
    provider = OpenAIProvider(
        openai_client=openai.AsyncOpenAI(base_url=gateway_url + "/v1", api_key=CLIENT_KEY, max_retries=0)
    )
    return (OpenAIChatModel if kind == "openai-chat" else OpenAIResponsesModel)(name, provider=provider)


async def drain(_ctx: Any, events: AsyncIterable[Any]) -> None:
    async for _event in events:
        pass


async def two_turns(gateway_url: str, kind: str, stream: bool, chained: bool = False) -> tuple[list[str], list[str]]:
    """The agent's two answers (each run counted the usage of its two requests), and the cities its
    tool was called with; ``chained``: the Responses model sends only what is new with the id of the
    previous response."""
    get_weather, cities = weather_tool()
    settings = OpenAIResponsesModelSettings(thinking="low", openai_previous_response_id="auto") if chained else None
    agent = Agent(
        client_model(kind, gateway_url),
        tools=[get_weather],
        instructions="Answer with the weather tool.",
        model_settings=settings or ModelSettings(thinking="low"),
    )
    handler = drain if stream else None
    first = await agent.run(QUESTIONS[0], event_stream_handler=handler)
    second = await agent.run(QUESTIONS[1], message_history=first.all_messages(), event_stream_handler=handler)
    for result in (first, second):
        assert (result.usage.input_tokens, result.usage.output_tokens) == USAGE
    return [first.output, second.output], cities


@pytest.mark.parametrize("stream", [False, True], ids=["run", "streamed"])
@pytest.mark.parametrize("kind", sorted(PAIRS))
def test_pydantic_ai_tool_loop_with_thinking_over_two_turns(gateway, upstreams, kind, stream):
    answers, cities = asyncio.run(two_turns(gateway.url, kind, stream))
    assert answers == [DONE, DONE] and sorted(cities) == sorted(CITIES[PAIRS[kind]])
    assert_upstream_kept_state(upstreams, PAIRS[kind])


@pytest.mark.parametrize("stream", [False, True], ids=["run", "streamed"])
def test_pydantic_ai_responses_model_chained_with_previous_response_id(gateway, upstreams, stream):
    """``openai_previous_response_id="auto"``: every request after the first sends the new messages
    and the id of the last response; the gateway replays the stored lineage, signatures included."""
    answers, cities = asyncio.run(two_turns(gateway.url, "openai-responses", stream, chained=True))
    assert answers == [DONE, DONE] and sorted(cities) == sorted(CITIES["anthropic"])
    assert_upstream_kept_state(upstreams, "anthropic")
