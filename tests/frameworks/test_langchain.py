"""LangChain's chat models as clients: ``bind_tools`` with reasoning on, and the tool loop LangChain
applications write (run each ``tool_calls`` entry, send a ``ToolMessage`` back), over two user turns,
with ``invoke`` or ``stream`` (the chunks added up into one message, as LangChain does).
``ChatOpenAI`` runs against Anthropic (and, on the Responses API, against Gemini), ``ChatAnthropic``
against Gemini, ``ChatGoogleGenerativeAI`` (which sends calls back without the ids the gateway gave
them) against Anthropic."""

from __future__ import annotations

import functools
import operator

import pytest
from framework_harness import CITIES, QUESTIONS, assert_upstream_kept_state, model, weather_tool
from gateway_harness import CLIENT_KEY
from langchain_anthropic import ChatAnthropic
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_google_genai import ChatGoogleGenerativeAI
from langchain_openai import ChatOpenAI
from strict_upstreams import DONE

# chat model -> the upstream protocol it is paired with
PAIRS = {
    "ChatOpenAI": "anthropic",
    "ChatOpenAI-responses": "gemini",
    "ChatAnthropic": "gemini",
    "ChatGoogleGenerativeAI": "anthropic",
}


def chat_model(kind: str, gateway_url: str) -> BaseChatModel:
    if kind == "ChatOpenAI":
        return ChatOpenAI(
            model=model("openai", PAIRS[kind]), base_url=gateway_url + "/v1", api_key=CLIENT_KEY,
            reasoning_effort="low", max_retries=0,
        )  # fmt: skip
    if kind == "ChatOpenAI-responses":
        return ChatOpenAI(
            model=model("openai", PAIRS[kind]), base_url=gateway_url + "/v1", api_key=CLIENT_KEY,
            use_responses_api=True, reasoning={"effort": "low", "summary": "auto"}, max_retries=0,
        )  # fmt: skip
    if kind == "ChatAnthropic":
        return ChatAnthropic(
            model=model("anthropic", PAIRS[kind]), base_url=gateway_url, api_key=CLIENT_KEY, max_tokens=2048,
            thinking={"type": "enabled", "budget_tokens": 1024}, max_retries=0,
        )  # fmt: skip
    return ChatGoogleGenerativeAI(
        model=model("gemini", PAIRS[kind]), base_url=gateway_url, google_api_key=CLIENT_KEY,
        thinking_budget=1024, include_thoughts=True, max_retries=0,
    )  # fmt: skip


def ask(llm: BaseChatModel, messages: list[BaseMessage], stream: bool) -> AIMessage:
    if stream:
        return functools.reduce(operator.add, llm.stream(messages))
    return llm.invoke(messages)


def two_turns(gateway_url: str, kind: str, stream: bool) -> tuple[list[str], list[str]]:
    """The text of the two final answers, and the cities the tool was called with."""
    get_weather, cities = weather_tool()
    llm = chat_model(kind, gateway_url).bind_tools([get_weather])
    messages: list[BaseMessage] = []
    answers = []
    for question in QUESTIONS:
        messages.append(HumanMessage(question))
        for _step in range(3):
            answer = ask(llm, messages, stream)
            messages.append(answer)
            if not answer.tool_calls:
                break
            messages += [ToolMessage(get_weather(**c["args"]), tool_call_id=c["id"]) for c in answer.tool_calls]
        answers.append(answer.text)
    return answers, cities


@pytest.mark.parametrize("stream", [False, True], ids=["invoke", "stream"])
@pytest.mark.parametrize("kind", sorted(PAIRS))
def test_langchain_tool_loop_with_reasoning_over_two_turns(gateway, upstreams, kind, stream):
    answers, cities = two_turns(gateway.url, kind, stream)
    assert answers == [DONE, DONE] and sorted(cities) == sorted(CITIES[PAIRS[kind]])
    assert_upstream_kept_state(upstreams, PAIRS[kind])
