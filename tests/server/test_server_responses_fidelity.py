"""Responses fidelity through the gateway with the openai SDK (issue 13): ``item_reference`` input
items resolved from the store for every upstream protocol (item 3), and translated Responses
objects echoing the request as OpenAI does (item 6)."""

from __future__ import annotations

import time
from typing import Any

import openai
import pytest
from gateway_harness import PROVIDER
from test_server_responses_store import PROTOCOLS, STREAM, TEXT, TOOL_CALL, WEATHER, client, reply


def references(response: Any) -> list[dict[str, str]]:
    """The output items of ``response`` as the Vercel AI SDK sends them back when ``store`` is on."""
    return [{"type": "item_reference", "id": item.id} for item in response.output]


# ---------------------------------------------------------------- 3: item_reference


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_item_reference_conversation_reaches_every_upstream(gateway, upstreams, protocol, stream):
    """Turn 2 names turn 1's answer by reference: the upstream gets the stored answer in its place."""
    sdk = client(gateway)
    model = f"{PROVIDER[protocol]}/some-model"
    upstreams[protocol].queue(reply(STREAM[protocol] if stream else TEXT[protocol]))
    if stream:
        with sdk.responses.stream(model=model, input="Say hello") as s:
            first = s.get_final_response()
    else:
        first = sdk.responses.create(model=model, input="Say hello")
    assert first.output_text
    upstreams[protocol].queue(reply(TEXT[protocol]))
    second = sdk.responses.create(
        model=model,
        input=[{"role": "user", "content": "Say hello"}, *references(first), {"role": "user", "content": "Again"}],
    )
    assert second.output_text
    sent = upstreams[protocol].last.body.decode()
    assert first.output_text in sent and "item_reference" not in sent
    assert sent.index("Say hello") < sent.index(first.output_text) < sent.index("Again")
    stored = sdk.responses.input_items.list(second.id, order="asc")
    assert [i.role for i in stored.data] == ["user", "assistant", "user"]  # the reference stored resolved


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_item_reference_to_a_function_call_continues_the_tool_loop(gateway, upstreams, protocol):
    """Step 2 of a tools loop sends the call back as ``{"type": "item_reference", "id": "fc_..."}``."""
    sdk = client(gateway)
    model = f"{PROVIDER[protocol]}/some-model"
    upstreams[protocol].queue(reply(TOOL_CALL[protocol]))
    first = sdk.responses.create(model=model, input="Weather in Paris?", tools=[WEATHER])
    call = next(i for i in first.output if i.type == "function_call")
    upstreams[protocol].queue(reply(TEXT[protocol]))
    sdk.responses.create(
        model=model,
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            *references(first),
            {"type": "function_call_output", "call_id": call.call_id, "output": "18C and sunny"},
        ],
        tools=[WEATHER],
    )
    sent = upstreams[protocol].last.json
    text = str(sent)
    assert "item_reference" not in text and "18C and sunny" in text
    if protocol == "openai_chat":
        assert sent["messages"][1]["tool_calls"][0]["id"] == call.call_id
    elif protocol == "anthropic":
        assert sent["messages"][1]["content"][-1]["id"] == call.call_id
        assert sent["messages"][2]["content"][0]["tool_use_id"] == call.call_id
    elif protocol == "gemini":
        parts = [p for c in sent["contents"] for p in c["parts"]]
        assert [p["functionCall"]["name"] for p in parts if "functionCall" in p] == [call.name]
    else:
        assert [i.get("type") for i in sent["input"]][-2:] == ["function_call", "function_call_output"]
        assert sent["input"][-2]["call_id"] == call.call_id


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_unknown_item_reference_is_a_404_naming_the_item(gateway, upstreams, protocol):
    sdk = client(gateway)
    with pytest.raises(openai.NotFoundError) as err:
        sdk.responses.create(
            model=f"{PROVIDER[protocol]}/some-model",
            input=[{"role": "user", "content": "hi"}, {"type": "item_reference", "id": "msg_never_issued"}],
        )
    assert "msg_never_issued" in err.value.message
    assert err.value.body["param"] == "input[1]"
    assert upstreams[protocol].requests == []


# ---------------------------------------------------------------- 6: the request echoed


ECHO: dict[str, Any] = {
    "instructions": "Be brief",
    "tools": [WEATHER],
    "tool_choice": "required",
    "parallel_tool_calls": False,
    "temperature": 0.5,
    "top_p": 0.9,
    "max_output_tokens": 3000,
    "reasoning": {"effort": "low"},
    "text": {"format": {"type": "text"}, "verbosity": "low"},
    "truncation": "auto",
    "metadata": {"ticket": "T-7"},
    "user": "user-7",
    "store": True,
}


def assert_echoes(response: dict[str, Any], previous: str, model: str, since: float) -> None:
    """``response`` repeats what the request said, as OpenAI's Responses objects do."""
    assert response["previous_response_id"] == previous
    assert response["model"] == model or response["model"]  # the served model, as OpenAI reports it
    for key in ("instructions", "tool_choice", "parallel_tool_calls", "temperature", "top_p", "max_output_tokens",
                "truncation", "metadata", "user", "store"):  # fmt: skip
        assert response[key] == ECHO[key], key
    assert [t["name"] for t in response["tools"]] == ["get_weather"]
    assert response["reasoning"]["effort"] == "low"
    assert response["text"]["format"] == {"type": "text"} and response["text"]["verbosity"] == "low"
    if model.startswith(PROVIDER["openai_chat"] + "/"):  # the upstream's own time (the fixture's)
        assert response["created_at"] > 1_700_000_000
    else:  # Anthropic and Gemini answers carry no time: the gateway's clock
        assert since - 1 <= response["created_at"] <= time.time() + 1


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("protocol", ["openai_chat", "anthropic", "gemini"])
def test_translated_response_echoes_the_request(gateway, upstreams, protocol, stream):
    """Non-stream body, every stream event that carries the response, and GET: previous_response_id,
    the settings, and created_at the real time (an Anthropic upstream gives none)."""
    sdk = client(gateway)
    model = f"{PROVIDER[protocol]}/some-model"
    upstreams[protocol].queue(reply(TEXT[protocol]))
    first = sdk.responses.create(model=model, input="Say hello")
    upstreams[protocol].queue(reply(STREAM[protocol] if stream else TEXT[protocol]))
    since = time.time()
    kwargs = {"model": model, "input": "Again", "previous_response_id": first.id, **ECHO}
    if stream:
        carried = []
        with sdk.responses.stream(**kwargs) as s:
            for event in s:
                if getattr(event, "response", None) is not None:
                    carried.append((event.type, event.response.model_dump()))
        assert [kind for kind, _ in carried] == ["response.created", "response.in_progress", "response.completed"]
        for _, response in carried:
            assert_echoes(response, first.id, model, since)
        rid = carried[-1][1]["id"]
    else:
        created = sdk.responses.create(**kwargs).model_dump()
        assert_echoes(created, first.id, model, since)
        rid = created["id"]
    assert_echoes(sdk.responses.retrieve(rid).model_dump(), first.id, model, since)
