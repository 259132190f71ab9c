"""Stored Responses through the gateway: create (stream and not), retrieve, delete, input_items,
previous_response_id continuation against every upstream protocol, store:false, unsupported
fields, durability across SIGKILL, and concurrent conversations."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import orjson
import pytest
from gateway_harness import CLIENT_KEY, OTHER_CLIENT_KEY, PROVIDER, call, closed_port
from mock_upstreams import Reply, fixture_reply

PROTOCOLS = ("openai_chat", "anthropic", "gemini", "openai_responses")
TOOL_CALL = {
    "openai_chat": "openai_chat/response_tool_call.json",
    "anthropic": "anthropic/response_tool_call.json",
    "gemini": "gemini/response_tool_call.json",
    "openai_responses": "openai_responses/response_tool_call.json",
}
TEXT = {p: f"{p}/response_plain_text.json" for p in PROTOCOLS}
STREAM = {p: f"{p}/stream_plain_text.sse" for p in PROTOCOLS}
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a place",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
}


def reply(name: str) -> Reply:
    """A fixture reply; Responses fixtures get a fresh id (a real upstream never repeats one)."""
    out = fixture_reply(name)
    if name.startswith("openai_responses/") and name.endswith(".json"):
        body = orjson.loads(out.body)
        body["id"] = f"resp_{uuid.uuid4().hex}"
        out.body = orjson.dumps(body)
    return out


def client(gateway, key: str = CLIENT_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_create_retrieve_items_delete(gateway, upstreams, protocol):
    upstreams[protocol].queue(reply(TEXT[protocol]))
    sdk = client(gateway)
    created = sdk.responses.create(model=f"{PROVIDER[protocol]}/some-model", input="Say hello", instructions="Be brief")
    assert created.output_text
    got = sdk.responses.retrieve(created.id)
    assert got.id == created.id and got.output_text == created.output_text and got.status == "completed"
    items = sdk.responses.input_items.list(created.id)
    assert [i.type for i in items.data] == ["message"] and items.data[0].content[0].text == "Say hello"
    sdk.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(created.id)


def test_stored_responses_belong_to_their_caller(gateway, upstreams):
    """Another client key finds none of a caller's stored responses or items: retrieve, input
    items, delete, previous_response_id and item_reference all answer 404, as for an unknown id;
    the owner still has everything."""
    upstreams["anthropic"].queue(reply(TEXT["anthropic"]))
    owner, other = client(gateway), client(gateway, OTHER_CLIENT_KEY)
    created = owner.responses.create(model="an/some-model", input="Say hello")
    item_id = created.output[0].id
    attempts = [
        lambda: other.responses.retrieve(created.id),
        lambda: other.responses.input_items.list(created.id),
        lambda: other.responses.delete(created.id),
        lambda: other.responses.create(model="an/some-model", input="more", previous_response_id=created.id),
        lambda: other.responses.create(
            model="an/some-model",
            input=[{"type": "item_reference", "id": item_id}],  # type: ignore[list-item]
        ),
    ]
    for attempt in attempts:
        with pytest.raises(openai.NotFoundError):
            attempt()
    assert len(upstreams["anthropic"].requests) == 1  # none of the refused requests went upstream
    assert owner.responses.retrieve(created.id).output_text == created.output_text
    upstreams["anthropic"].queue(reply(TEXT["anthropic"]))
    owner.responses.create(model="an/some-model", input=[{"type": "item_reference", "id": item_id}])  # type: ignore[list-item]
    owner.responses.delete(created.id)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_streamed_response_is_stored_when_it_ends(gateway, upstreams, protocol):
    upstreams[protocol].queue(fixture_reply(STREAM[protocol]))
    sdk = client(gateway)
    with sdk.responses.stream(model=f"{PROVIDER[protocol]}/some-model", input="Say hello") as stream:
        final = stream.get_final_response()
    got = sdk.responses.retrieve(final.id)
    assert got.status == "completed" and got.output_text == final.output_text


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_tool_conversation_continued_by_previous_response_id(gateway, upstreams, protocol):
    """Turn 2 sends only the function output: the upstream still gets the whole history, in its own shape."""
    sdk = client(gateway)
    model = f"{PROVIDER[protocol]}/some-model"
    upstreams[protocol].queue(reply(TOOL_CALL[protocol]))
    first = sdk.responses.create(model=model, input="Weather in Paris?", tools=[WEATHER])
    call_item = next(i for i in first.output if i.type == "function_call")
    upstreams[protocol].queue(reply(TEXT[protocol]))
    second = sdk.responses.create(
        model=model,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call_item.call_id, "output": "18C and sunny"}],
        tools=[WEATHER],
    )
    sent = upstreams[protocol].last.json
    text = str(sent)
    assert (
        "Weather in Paris?" in text and "18C and sunny" in text and call_item.call_id in text
    ) or protocol == "gemini"
    if protocol == "openai_chat":
        roles = [m["role"] for m in sent["messages"]]
        assert (
            roles == ["user", "assistant", "tool"] and sent["messages"][1]["tool_calls"][0]["id"] == call_item.call_id
        )
    elif protocol == "anthropic":
        assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
        assert sent["messages"][1]["content"][-1]["type"] == "tool_use"
        assert sent["messages"][2]["content"][0] == {
            "type": "tool_result",
            "tool_use_id": call_item.call_id,
            "content": "18C and sunny",
        }
    elif protocol == "gemini":
        parts = [p for c in sent["contents"] for p in c["parts"]]
        assert any("functionCall" in p for p in parts) and any("functionResponse" in p for p in parts)
        assert "Weather in Paris?" in text and "18C and sunny" in text
    else:
        assert "previous_response_id" not in sent
        assert [i.get("type", "message") for i in sent["input"]][-2:] == ["function_call", "function_call_output"]
    # a third turn continues from the second: the whole lineage again
    upstreams[protocol].queue(reply(TEXT[protocol]))
    sdk.responses.create(model=model, previous_response_id=second.id, input="Thanks!")
    third = str(upstreams[protocol].last.json)
    assert "Weather in Paris?" in third and "18C and sunny" in third and "Thanks!" in third
    items = sdk.responses.input_items.list(second.id, order="asc")
    types = [i.type for i in items.data]
    assert types[0] == "message" and "function_call" in types and types[-1] == "function_call_output"


def test_store_false_cannot_be_continued_and_unknown_ids_are_404(gateway, upstreams):
    sdk = client(gateway)
    upstreams["openai_chat"].queue(fixture_reply(TEXT["openai_chat"]))
    created = sdk.responses.create(model="oc/some-model", input="hi", store=False)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError) as info:
        sdk.responses.create(model="oc/some-model", input="again", previous_response_id=created.id)
    assert "not found" in str(info.value)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.input_items.list("resp_nope")
    with pytest.raises(openai.NotFoundError):
        sdk.responses.delete("resp_nope")


@pytest.mark.parametrize("field", ["background", "conversation"])
def test_unsupported_fields_are_refused_by_name(gateway, upstreams, field):
    value = True if field == "background" else "conv_123"
    resp = call(
        gateway.url + "/v1/responses",
        "POST",
        {"model": "oc/m", "input": "hi", field: value},
        {"authorization": f"Bearer {CLIENT_KEY}"},
    )
    assert resp.status == 400 and resp.json["error"]["param"] == field


def test_concurrent_conversations_do_not_mix(gateway):
    sdk = client(gateway)

    def conversation(n: int) -> tuple[int, list[str]]:
        first = sdk.responses.create(model="mock/mock-1", input=f"first message {n}")
        second = sdk.responses.create(model="mock/mock-1", input=f"second message {n}", previous_response_id=first.id)
        items = sdk.responses.input_items.list(second.id, order="asc", limit=100)
        texts = [c.text for i in items.data if i.type == "message" for c in i.content if hasattr(c, "text")]
        return n, texts

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(conversation, range(40)))
    for n, texts in results:
        assert f"first message {n}" in texts[0] and f"second message {n}" in texts[-1]
        assert all(f"message {n}" in t or "mock" in t.lower() for t in texts)


def _serve(config: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "switchyard.cli", "serve", "--config", str(config), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if call(f"http://127.0.0.1:{port}/health", "GET", timeout=1).status == 200:
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the gateway did not start")


def test_stored_responses_survive_sigkill(tmp_path):
    config = tmp_path / "switchyard.yaml"
    config.write_text("server:\n  data_dir: state\n")
    port = closed_port()
    proc = _serve(config, port)
    try:
        sdk = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0)
        first = sdk.responses.create(model="mock/mock-1", input="remember the word heron")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    proc = _serve(config, port)
    try:
        got = sdk.responses.retrieve(first.id)
        assert got.output_text == first.output_text
        second = sdk.responses.create(model="mock/mock-1", input="what was the word?", previous_response_id=first.id)
        items = sdk.responses.input_items.list(second.id, order="asc")
        assert "remember the word heron" in items.data[0].content[0].text
    finally:
        proc.terminate()
        proc.wait(10)
