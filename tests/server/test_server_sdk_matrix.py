"""Every client protocol against every upstream protocol, streaming and not, through the real
gateway: each official SDK calls it, each upstream answers with a real transcript.

Per cell: plain text with a system prompt and usage; tool calls (parallel where the transcript
has them); a tool-result turn; thinking; an upstream 429 surfacing as the SDK's rate-limit error
with ``retry-after``. On the upstream side every test checks what arrived: the model rewritten,
the provider's own key (never the client's), system prompt, tools and tool results translated.
"""

from __future__ import annotations

from dataclasses import dataclass

import anthropic
import openai
import pytest
from gateway_harness import CLIENT_KEY, PROTOCOLS, PROVIDER, UPSTREAM_KEY
from google.genai import errors as genai_errors
from mock_upstreams import fixture_reply
from sdk_clients import CLOCK, WEATHER, ToolTurn, client
from upstream_views import view

SYSTEM = "You are a terse assistant. Answer in one line."
PROMPT = "Say hello to the gateway"
TURN = ToolTurn("What is the weather in Paris?", "call_weather_0001", "get_weather", {"city": "Paris"}, "sunny, 21 C")


@dataclass(frozen=True)
class Answer:
    fixture: str
    text: str = ""
    calls: tuple[str, ...] = ()
    reasoning: str = ""
    usage: tuple[int, int] | None = None  # (prompt total, output total)


OC, OR, AN, GM = "openai_chat", "openai_responses", "anthropic", "gemini"
GEMINI_CLI_STREAM = "clients/gemini_cli/hello/02_streamGenerateContent_gemini-3.8-flash.response.sse"

# (upstream protocol, scenario, stream) -> the transcript the upstream answers with, and what is in it
ANSWERS: dict[tuple[str, str, bool], Answer] = {
    (OC, "text", False): Answer("openai_chat/response_plain_text.json", "How can I assist you today?", usage=(11, 9)),
    (OC, "text", True): Answer("openai_chat/stream_include_usage.sse", "The best pizza toppings", usage=(22, 712)),
    (OC, "tools", False): Answer("openai_chat/response_parallel_tools.json", calls=("get_weather_for_city",) * 2),
    (OC, "tools", True): Answer(
        "openai_chat/stream_parallel_tool_calls.sse", calls=("GetWeatherArgs", "get_stock_price")
    ),
    (OC, "tool_result", False): Answer("openai_chat/response_tool_result.json", "chartreuse"),
    (OC, "tool_result", True): Answer("openai_chat/stream_plain_text.sse", "unable to provide real-time weather"),
    (OC, "thinking", False): Answer("openai_chat/response_reasoning_tokens.json", "science fiction", usage=(34, 863)),
    (OC, "thinking", True): Answer("openai_chat/stream_plain_text.sse", "unable to provide", usage=(14, 30)),
    (AN, "text", False): Answer("anthropic/response_plain_text.json", "How can I help you today?", usage=(10, 12)),
    (AN, "text", True): Answer("anthropic/stream_plain_text.sse", "Hello there!", usage=(11, 6)),
    (AN, "tools", False): Answer("anthropic/response_parallel_tool_use.json", "test_tool twice", ("test_tool",) * 2),
    (AN, "tools", True): Answer("anthropic/stream_text_then_tool_use.sse", "weather in Paris", ("get_weather",)),
    (AN, "tool_result", False): Answer("anthropic/response_tool_result.json", "when trying to fetch the weather"),
    (AN, "tool_result", True): Answer("anthropic/stream_text_after_tool_result.sse", "68°F"),
    (AN, "thinking", False): Answer("anthropic/response_thinking.json", "Hello", (), "reply with exactly", (44, 46)),
    (AN, "thinking", True): Answer("anthropic/stream_thinking.sse", "Hello", (), "reply with exactly", (44, 46)),
    (OR, "text", False): Answer(
        "openai_responses/response_plain_text.json", "How can I assist you today?", usage=(11, 10)
    ),
    (OR, "text", True): Answer("openai_responses/stream_plain_text.sse", "How can I assist you today?", usage=(11, 10)),
    (OR, "tools", False): Answer(
        "openai_responses/response_parallel_tool_calls.json", calls=("get_weather_for_city",) * 2
    ),
    (OR, "tools", True): Answer("openai_responses/stream_tool_call.sse", calls=("get_weather_at_location",)),
    (OR, "tool_result", False): Answer("openai_responses/response_tool_result.json", "22°C"),
    (OR, "tool_result", True): Answer("openai_responses/stream_plain_text.sse", "assist you today"),
    (OR, "thinking", False): Answer(
        "openai_responses/response_reasoning_summary.json",
        "leak-resistant",
        (),
        "Creating clear instructions",
        (30, 221),
    ),
    (OR, "thinking", True): Answer(
        "openai_responses/stream_reasoning_summary.sse", "New York City offers", (), "Planning a New York", (45, 3506)
    ),
    (GM, "text", False): Answer("gemini/response_plain_text.json", "Paris", usage=(11, 35)),
    (GM, "text", True): Answer("gemini/stream_plain_text.sse", "Paris", usage=(11, 34)),
    (GM, "tools", False): Answer("gemini/response_tool_call.json", calls=("get_weather",)),
    (GM, "tools", True): Answer("gemini/stream_parallel_calls_gemini3.sse", calls=("sum", "sum", "sum")),
    (GM, "tool_result", False): Answer("gemini/response_tool_result.json", "sunny"),
    (GM, "tool_result", True): Answer("gemini/stream_system_instruction.sse", "real-time information"),
    (GM, "thinking", False): Answer(
        "gemini/response_include_thoughts.json", "5117", (), "Summing the primes", (14, 576)
    ),
    (GM, "thinking", True): Answer(GEMINI_CLI_STREAM, "Hello from capture-mock.", (), "Replying", (7802, 50)),
}

RATE_LIMITS = {
    OC: ("openai_chat/error_429_rate_limit.json", 1),
    OR: ("openai_responses/error_429_rate_limit.json", 2),
    AN: ("anthropic/error_429_with_retry_after.json", 20),
    GM: ("gemini/error_429_resource_exhausted.json", 47),
}

cells = pytest.mark.parametrize(
    ("client_protocol", "upstream_protocol", "stream"),
    [(c, u, s) for c in PROTOCOLS for u in PROTOCOLS for s in (False, True)],
    ids=[f"{c}-to-{u}-{'stream' if s else 'json'}" for c in PROTOCOLS for u in PROTOCOLS for s in (False, True)],
)


def serve(upstreams, upstream_protocol: str, scenario: str, stream: bool) -> Answer:
    answer = ANSWERS[(upstream_protocol, scenario, stream)]
    reply = fixture_reply(answer.fixture)
    if answer.fixture == "gemini/response_include_thoughts.json":
        # this constructed transcript's thoughtSignature is not valid base64 (the genai SDK rejects it)
        reply.body = reply.body.replace(
            b"CiQBvj72+constructed-signature-bytes-base64==", b"Y29uc3RydWN0ZWQtc2lnbmF0dXJl"
        )
    upstreams[upstream_protocol].queue(reply)
    return answer


def model_for(upstream_protocol: str, name: str) -> str:
    return f"{PROVIDER[upstream_protocol]}/{name}"


def received(upstreams, upstream_protocol: str, stream: bool, model: str):
    """The one request the upstream got, with the checks every cell shares."""
    up = upstreams[upstream_protocol]
    assert len(up.requests) == 1
    seen = view(upstream_protocol, up.last)
    assert seen.model == model, "the model must be rewritten to the upstream's name"
    assert seen.key == UPSTREAM_KEY[upstream_protocol], "the provider's key, never the client's"
    assert CLIENT_KEY not in str(up.last.headers)
    assert seen.stream == stream
    return seen


@cells
def test_text_with_system_prompt_and_usage(gateway, upstreams, client_protocol, upstream_protocol, stream):
    answer = serve(upstreams, upstream_protocol, "text", stream)
    result = client(client_protocol, gateway.url).ask(
        model_for(upstream_protocol, "text-model"), PROMPT, system=SYSTEM, stream=stream
    )
    assert answer.text in result.text
    assert result.calls == []
    assert result.usage == answer.usage
    seen = received(upstreams, upstream_protocol, stream, "text-model")
    assert SYSTEM in seen.system
    assert PROMPT in seen.user_text
    assert SYSTEM not in seen.user_text


@cells
def test_tool_calls(gateway, upstreams, client_protocol, upstream_protocol, stream):
    answer = serve(upstreams, upstream_protocol, "tools", stream)
    result = client(client_protocol, gateway.url).ask(
        model_for(upstream_protocol, "tool-model"), "Use parallel tools", tools=[WEATHER, CLOCK], stream=stream
    )
    assert [name for name, _ in result.calls] == list(answer.calls)
    assert all(isinstance(args, dict) and args for _, args in result.calls)
    assert len(set(result.call_ids)) == len(result.call_ids)
    assert answer.text in result.text
    seen = received(upstreams, upstream_protocol, stream, "tool-model")
    assert seen.tools == ["get_weather", "get_time"]


@cells
def test_tool_result_turn(gateway, upstreams, client_protocol, upstream_protocol, stream):
    answer = serve(upstreams, upstream_protocol, "tool_result", stream)
    result = client(client_protocol, gateway.url).ask(
        model_for(upstream_protocol, "result-model"),
        "Thanks, summarise it",
        history=TURN,
        tools=[WEATHER],
        stream=stream,
    )
    assert answer.text in result.text
    seen = received(upstreams, upstream_protocol, stream, "result-model")
    assert seen.calls == ["get_weather"]
    assert len(seen.results) == 1 and "sunny, 21 C" in seen.results[0]
    assert "What is the weather in Paris?" in seen.user_text


@cells
def test_thinking(gateway, upstreams, client_protocol, upstream_protocol, stream):
    answer = serve(upstreams, upstream_protocol, "thinking", stream)
    result = client(client_protocol, gateway.url).ask(
        model_for(upstream_protocol, "think-model"), "Think, then answer", thinking=True, stream=stream
    )
    assert answer.text in result.text
    if client_protocol != OC:  # Chat Completions has no field for visible reasoning
        assert answer.reasoning in result.reasoning
    if answer.usage is not None:
        assert result.usage == answer.usage
    received(upstreams, upstream_protocol, stream, "think-model")


@cells
def test_upstream_rate_limit_reaches_the_sdk_with_retry_after(
    gateway, upstreams, client_protocol, upstream_protocol, stream
):
    fixture, seconds = RATE_LIMITS[upstream_protocol]
    upstreams[upstream_protocol].queue(fixture_reply(fixture))
    model = f"rate-limited-{client_protocol}-{'s' if stream else 'j'}"  # its own (key, model) cooldown
    sdk = client(client_protocol, gateway.url)
    if client_protocol == GM:
        with pytest.raises(genai_errors.ClientError) as info:
            sdk.ask(model_for(upstream_protocol, model), PROMPT, stream=stream)
        assert info.value.code == 429 and info.value.status == "RESOURCE_EXHAUSTED"
        headers = info.value.response.headers
    else:
        expected = anthropic.RateLimitError if client_protocol == AN else openai.RateLimitError
        with pytest.raises(expected) as info:
            sdk.ask(model_for(upstream_protocol, model), PROMPT, stream=stream)
        headers = info.value.response.headers
    assert int(headers["retry-after"]) == seconds
    assert len(upstreams[upstream_protocol].requests) == 1  # one key, cooling: no blind retry
