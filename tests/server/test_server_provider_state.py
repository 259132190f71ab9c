"""Provider state that real clients lose, end to end through the gateway with the official SDKs,
against STRICT upstreams (:mod:`strict_upstreams`) that answer 400 unless they get their own state
back as issued (issue 13, items 1, 4, 5).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import orjson
import pytest
from gateway_harness import CLIENT_KEY, Gateway, config_from_yaml
from google import genai
from google.genai import types as gtypes
from mock_upstreams import UpstreamHost
from strict_upstreams import DONE, StrictAnthropic, StrictGemini, StrictResponses, StrictUpstream
from test_server_fieldcache import WEATHER_OPENAI as WEATHER

WEATHER_RESPONSES = {"type": "function", **WEATHER["function"]}
PREAMBLE = "Let me look that up."


POOL_TYPES = {"anthropic": "anthropic", "gemini": "gemini", "openai_responses": "openai-responses"}


def pool_keys(protocol: str) -> list[str]:
    return [f"sk-pool-{protocol}-key-{n:04d}" for n in (1, 2)]


class Upstreams:
    def __init__(self) -> None:
        self.host = UpstreamHost()
        self.preamble = StrictAnthropic(calls=2, preamble=PREAMBLE)
        self.claude = StrictAnthropic(calls=2)
        self.pools: dict[str, StrictUpstream] = {
            "anthropic": StrictAnthropic(calls=2),
            "gemini": StrictGemini(calls=2),
            "openai_responses": StrictResponses(calls=2),
        }
        for upstream in (self.preamble, self.claude, *self.pools.values()):
            upstream.start(self.host)

    def yaml(self) -> str:
        pools = "".join(
            f"""  pool-{protocol}: {{type: {POOL_TYPES[protocol]}, base_url: "{up.url}", api_keys: {pool_keys(protocol)}}}
"""
            for protocol, up in self.pools.items()
        )
        return f"""
server: {{auth_keys: ["{CLIENT_KEY}"]}}
routing: {{retries: 2, cooldown: {{base: 0.01, max: 0.05}}}}
providers:
  an-preamble: {{type: anthropic, base_url: "{self.preamble.url}", api_keys: [sk-ant-preamble-0001]}}
  an-claude: {{type: anthropic, base_url: "{self.claude.url}", api_keys: [sk-ant-claude-0001]}}
{pools}"""


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


# ---------------------------------------------------------------- 1: provider state across a key pool


def tool_loop(client: openai.OpenAI, model: str, stream: bool, between=None) -> list[Any]:
    """An OpenAI Chat client's tool loop with reasoning on (no session header); ``between(turn)``
    runs before each turn after the first."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in two cities, one at a time"}]
    answers = []
    for turn in range(3):
        if turn and between is not None:
            between(turn)
        answer = chat(client, stream, model=model, messages=messages, tools=[WEATHER], reasoning_effort="medium")
        answers.append(answer)
        if not answer.tool_calls:
            break
        messages.append({"role": "assistant", "content": answer.content, "tool_calls": [
            tc.model_dump() for tc in answer.tool_calls]})  # fmt: skip
        messages += [{"role": "tool", "tool_call_id": tc.id, "content": "sunny"} for tc in answer.tool_calls]
    return answers


POOLS = sorted(POOL_TYPES)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("protocol", POOLS)
def test_key_pool_tool_loop_stays_on_the_key_that_issued_its_state(strict, protocol, stream):
    """Balanced rotation would send turn 2 to the other key; the tool loop stays on its key."""
    gateway, ups = strict
    upstream = ups.pools[protocol]
    upstream.reset()
    answers = tool_loop(sdk(gateway), f"pool-{protocol}/model-affinity-{stream}", stream)
    assert answers[-1].content == DONE and upstream.problems == []
    assert len(upstream.keys) == 3 and len(set(upstream.keys)) == 1


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("protocol", POOLS)
def test_key_pool_tool_loop_moves_to_another_key_with_its_state(strict, protocol, stream):
    """The key that issued the state is rate limited at turn 2: the loop goes on on the provider's
    other key with the state re-injected (the strict upstream accepts it), reasoning still on."""
    gateway, ups = strict
    upstream = ups.pools[protocol]
    upstream.reset()

    def refuse_first_key(turn: int) -> None:
        if turn == 1:
            upstream.refuse.add(upstream.keys[0])

    answers = tool_loop(sdk(gateway), f"pool-{protocol}/model-failover-{stream}", stream, refuse_first_key)
    assert answers[-1].content == DONE and upstream.problems == []
    first, *rest = upstream.keys
    assert len(rest) == 2 and set(rest) == {k for k in pool_keys(protocol) if k != first}
    for body in upstream.bodies:
        if protocol == "anthropic":
            assert body["thinking"]["type"] == "enabled"
        elif protocol == "gemini":
            assert body["generationConfig"]["thinkingConfig"]
        else:
            assert body["reasoning"]["effort"] == "medium"


# ---------------------------------------------------------------- 5: a client that drops the call ids


def gemini_sdk(gateway: Gateway) -> genai.Client:
    options = gtypes.HttpOptions(
        base_url=gateway.url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
    )
    return genai.Client(api_key=CLIENT_KEY, http_options=options)


def gemini_config() -> gtypes.GenerateContentConfig:
    """The weather tool, thinking on with visible thoughts."""
    weather = gtypes.FunctionDeclaration(
        name="get_weather", description="Weather for a city", parameters_json_schema=WEATHER["function"]["parameters"]
    )
    return gtypes.GenerateContentConfig(
        tools=[gtypes.Tool(function_declarations=[weather])],
        thinking_config=gtypes.ThinkingConfig(thinking_budget=2048, include_thoughts=True),
    )


def gemini_turn(client: genai.Client, model: str, contents: list[Any], stream: bool) -> list[Any]:
    """The parts of one answer (a stream's chunks joined)."""
    config = gemini_config()
    if stream:
        chunks = list(client.models.generate_content_stream(model=model, contents=contents, config=config))
    else:
        chunks = [client.models.generate_content(model=model, contents=contents, config=config)]
    return [p for c in chunks for p in (c.candidates[0].content.parts or [])]


@pytest.mark.parametrize("stream", [False, True])
def test_id_less_gemini_client_tool_loop_to_anthropic_keeps_thinking(strict, stream):
    """LangChain's ChatGoogleGenerativeAI sends functionCall / functionResponse back without the id
    the gateway gave it: the call is recognised by name and arguments within the session, so the
    signed thinking goes back and thinking stays on."""
    gateway, ups = strict
    ups.claude.reset()
    client = gemini_sdk(gateway)
    contents = [gtypes.Content(role="user", parts=[gtypes.Part(text="Weather in two cities, one at a time")])]
    for _turn in range(3):
        parts = gemini_turn(client, "an-claude/claude", contents, stream)
        calls = [p.function_call for p in parts if p.function_call]
        if not calls:
            break
        assert all(c.id for c in calls)  # the gateway gave ids ...
        # ... and the client sends the calls and their answers back without them (and without thoughts)
        calls_back = [
            gtypes.Part(function_call=gtypes.FunctionCall(name=c.name, args=dict(c.args or {}))) for c in calls
        ]
        contents.append(gtypes.Content(role="model", parts=calls_back))
        contents.append(gtypes.Content(role="user", parts=[
            gtypes.Part(function_response=gtypes.FunctionResponse(name=c.name, response={"result": "sunny"}))
            for c in calls]))  # fmt: skip
    text = "".join(p.text or "" for p in parts if not p.thought)
    assert text == DONE and ups.claude.problems == [] and len(ups.claude.bodies) == 3
    for body in ups.claude.bodies[1:]:
        assert body["thinking"]["type"] == "enabled"
        for msg in (m for m in body["messages"] if m["role"] == "assistant"):
            assert msg["content"][0]["type"] == "thinking"


# ---------------------------------------------------------------- 2: state in another protocol's carrier


@pytest.fixture(scope="module")
def replicas(tmp_path_factory) -> Iterator[tuple[list[Gateway], Upstreams]]:
    """Two gateway replicas that share only their data_dir (the envelope secret): each keeps its
    responses and field cache in memory, so what one handed out the other can only get back from
    the client."""
    ups = Upstreams()
    data = tmp_path_factory.mktemp("replicas")
    yaml = ups.yaml() + "state: {backend: memory}\n"
    gateways = [Gateway(config_from_yaml(yaml, base_dir=data)).start() for _ in range(2)]
    yield gateways, ups
    for gateway in gateways:
        gateway.stop()
    ups.host.close()


def codex_turns(gateways: list[Gateway], model: str, stream: bool) -> list[Any]:
    """A Codex-style stateless tool loop (``store: false``, encrypted reasoning included), each turn
    on the other replica; the client sends every output item back as it got it."""
    items: list[Any] = [{"role": "user", "content": "Weather in two cities, one at a time"}]
    answers = []
    for turn in range(3):
        client = sdk(gateways[turn % 2])
        answer = respond(
            client, stream, model=model, input=items, tools=[WEATHER_RESPONSES], reasoning={"effort": "medium"},
            store=False, include=["reasoning.encrypted_content"],
        )  # fmt: skip
        answers.append(answer)
        calls = [item for item in answer.output if item.type == "function_call"]
        if not calls:
            break
        items += [item.model_dump(exclude_none=True) for item in answer.output]
        items += [{"type": "function_call_output", "call_id": c.call_id, "output": "sunny"} for c in calls]
    return answers


@pytest.mark.parametrize("stream", [False, True])
def test_codex_stateless_round_trip_gives_anthropic_its_thinking_back(replicas, stream):
    gateways, ups = replicas
    ups.claude.reset()
    answers = codex_turns(gateways, "an-claude/claude", stream)
    assert answers[-1].output_text == DONE and ups.claude.problems == [] and len(ups.claude.bodies) == 3
    reasoning = [i for i in answers[0].output if i.type == "reasoning"]
    assert reasoning[0].encrypted_content and "EqAnthropicSig1" not in reasoning[0].encrypted_content  # sealed
    for turn, body in enumerate(ups.claude.bodies[1:], start=2):
        assert body["thinking"]["type"] == "enabled"
        thinking = [m["content"][0] for m in body["messages"] if m["role"] == "assistant"]
        assert [t["signature"] for t in thinking] == [f"EqAnthropicSig{n}" + "A" * 60 for n in range(1, turn)]


@pytest.mark.parametrize("stream", [False, True])
def test_codex_stateless_round_trip_gives_gemini_its_thought_signatures_back(replicas, stream):
    gateways, ups = replicas
    gemini = ups.pools["gemini"]
    gemini.reset()
    answers = codex_turns(gateways, "pool-gemini/gemini", stream)
    assert answers[-1].output_text == DONE and gemini.problems == [] and len(gemini.bodies) == 3
    for body in gemini.bodies[1:]:
        signed = [p for c in body["contents"] for p in c["parts"] if p.get("thoughtSignature")]
        assert signed and all(p["thoughtSignature"] == gemini.issued[p["functionCall"]["id"]] for p in signed)


def test_forged_or_foreign_envelope_is_dropped_never_forwarded(replicas):
    """A reasoning item whose envelope was tampered with, or one that Anthropic issued sent to Gemini
    or to a Responses upstream (same protocol as the client: no fast path then), never reaches an
    upstream."""
    gateways, ups = replicas
    ups.claude.reset()
    first = codex_turns(gateways, "an-claude/claude", False)[0]
    sealed = next(i for i in first.output if i.type == "reasoning").model_dump(exclude_none=True)
    call = next(i for i in first.output if i.type == "function_call").model_dump(exclude_none=True)
    forged = {**sealed, "encrypted_content": sealed["encrypted_content"][:-6] + "AAAAAA"}
    for reasoning, model, upstream in ((forged, "an-claude/claude", ups.claude),
                                       (sealed, "pool-gemini/gemini", ups.pools["gemini"]),
                                       (sealed, "pool-openai_responses/gpt", ups.pools["openai_responses"])):  # fmt: skip
        upstream.reset()
        items = [{"role": "user", "content": "Weather?"}, reasoning, call,
                 {"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"}]  # fmt: skip
        with contextlib.suppress(openai.BadRequestError):  # the strict Anthropic upstream refuses the loop
            sdk(gateways[1]).responses.create(model=model, input=items, tools=[WEATHER_RESPONSES], store=False)
        sent = orjson.dumps(upstream.bodies[-1]).decode()
        assert "EqAnthropicSig" not in sent and sealed["encrypted_content"][:40] not in sent


@pytest.mark.parametrize("stream", [False, True])
def test_gemini_client_stateless_round_trip_gives_anthropic_its_thinking_back(replicas, stream):
    """A Gemini client keeps the model's parts as it got them (the google-genai chat history does),
    each turn on the other replica: Anthropic's signature comes back from the thoughtSignature it
    was sealed in, with the exact thinking text it signs."""
    gateways, ups = replicas
    ups.claude.reset()
    contents = [gtypes.Content(role="user", parts=[gtypes.Part(text="Weather in two cities, one at a time")])]
    for turn in range(3):
        parts = gemini_turn(gemini_sdk(gateways[turn % 2]), "an-claude/claude", contents, stream)
        calls = [p.function_call for p in parts if p.function_call]
        if not calls:
            break
        contents.append(gtypes.Content(role="model", parts=parts))
        contents.append(gtypes.Content(role="user", parts=[gtypes.Part(function_response=gtypes.FunctionResponse(
            id=c.id, name=c.name, response={"result": "sunny"})) for c in calls]))  # fmt: skip
    assert "".join(p.text or "" for p in parts) == DONE and ups.claude.problems == []
    for body in ups.claude.bodies[1:]:
        assert body["thinking"]["type"] == "enabled"


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_client_stateless_round_trip_gives_gemini_its_call_signatures_back(replicas, stream):
    """Claude Code against Gemini, each turn on the other replica: a call's thoughtSignature reaches
    the client on a thinking block after its tool_use, and goes back onto the call."""
    gateways, ups = replicas
    gemini = ups.pools["gemini"]
    gemini.reset()
    tool = {
        "name": "get_weather",
        "description": "Weather for a city",
        "input_schema": WEATHER["function"]["parameters"],
    }
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in two cities, one at a time"}]
    for turn in range(3):
        client = anthropic.Anthropic(base_url=gateways[turn % 2].url, api_key=CLIENT_KEY, max_retries=0)
        kwargs = {"model": "pool-gemini/gemini", "max_tokens": 500, "messages": messages, "tools": [tool]}
        if stream:
            with client.messages.stream(**kwargs) as s:
                answer = s.get_final_message()
        else:
            answer = client.messages.create(**kwargs)
        uses = [b for b in answer.content if b.type == "tool_use"]
        if not uses:
            break
        assert [b.type for b in answer.content] == ["tool_use", "thinking", "tool_use"]
        messages.append({"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in answer.content]})
        messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": u.id, "content": "sunny"} for u in uses]})  # fmt: skip
    assert answer.content[-1].text == DONE and gemini.problems == [] and len(gemini.bodies) == 3
    for body in gemini.bodies[1:]:
        signed = [p for c in body["contents"] for p in c["parts"] if p.get("thoughtSignature")]
        assert len(signed) == sum(c["role"] == "model" for c in body["contents"])  # one signed call a step
        assert all(p["thoughtSignature"] == gemini.issued[p["functionCall"]["id"]] for p in signed)
