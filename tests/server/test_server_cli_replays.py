"""The real requests of Claude Code, Codex and the Gemini CLI (bodies and headers, from
``fixtures/clients/``) replayed through the gateway to upstreams of *other* protocols: the
upstream request must be right, and the CLI must get a stream it can use (checked frame by frame
against what NOTES.md says each CLI needs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from gateway_harness import CLIENT_KEY, PROVIDER, UPSTREAM_KEY, call
from mock_upstreams import FIXTURES
from upstream_views import view

from switchyard.core import SSEDecoder

CLIENTS = FIXTURES / "clients"
SKIP_HEADERS = {"host", "content-length", "connection", "accept-encoding"}
AUTH_HEADERS = {"x-api-key": CLIENT_KEY, "authorization": f"Bearer {CLIENT_KEY}", "x-goog-api-key": CLIENT_KEY}


def capture(path: str) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """(body, headers to send, the captured request line) of one recorded request."""
    base = CLIENTS / path
    body = orjson.loads(Path(f"{base}.body.json").read_bytes())
    meta = orjson.loads(Path(f"{base}.headers.json").read_bytes())
    headers = {}
    for name, value in meta["headers"]:
        lower = name.lower()
        if lower in SKIP_HEADERS:
            continue
        headers[lower] = AUTH_HEADERS.get(lower, value)
    return body, headers, meta


def sse(raw: bytes) -> list[tuple[str | None, Any]]:
    dec = SSEDecoder()
    out = []
    for frame in dec.feed(raw) + dec.flush():
        if frame.comment is None and frame.data:
            out.append((frame.event, orjson.loads(frame.data)))
    return out


# ---------------------------------------------------------------------------- Claude Code

CLAUDE_CODE = [
    "claude_code/hello/02_v1_messages",
    "claude_code/hello_sonnet_4_5/02_v1_messages",
    "claude_code/tool_call/02_v1_messages",
    "claude_code/tool_call/03_v1_messages",
]


def check_anthropic_stream(raw: bytes) -> str:
    """The checks Claude Code's needs imply; returns the streamed text."""
    frames = sse(raw)
    assert frames, "empty stream"
    for event, data in frames:
        assert event == data["type"], "every frame needs an event: line matching its type"
    names = [event for event, _ in frames]
    assert names[0] == "message_start" and names[-1] == "message_stop"
    assert "error" not in names
    open_blocks: set[int] = set()
    text = ""
    for event, data in frames:
        if event == "content_block_start":
            assert not open_blocks, "a block starts before the previous one stopped"
            open_blocks.add(data["index"])
        elif event == "content_block_delta":
            assert data["index"] in open_blocks
            text += data["delta"].get("text", "")
        elif event == "content_block_stop":
            open_blocks.remove(data["index"])
    assert not open_blocks, "every content_block_start needs its content_block_stop"
    assert "message_delta" in names
    return text


@pytest.mark.parametrize("upstream", ["openai_chat", "openai_responses", "gemini"])
@pytest.mark.parametrize("request_file", CLAUDE_CODE, ids=[p.split("/", 1)[1] for p in CLAUDE_CODE])
def test_claude_code_to_another_protocol(gateway, upstreams, request_file, upstream):
    body, headers, meta = capture(request_file)
    assert meta["query"] == [["beta", "true"]]
    body["model"] = f"{PROVIDER[upstream]}/cc-model"
    resp = call(gateway.url + "/v1/messages?beta=true", "POST", body, headers)
    assert resp.status == 200, resp.body[:500]
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert check_anthropic_stream(resp.body)

    seen = view(upstream, upstreams[upstream].last)
    assert seen.model == "cc-model" and seen.stream is True
    assert seen.key == UPSTREAM_KEY[upstream]
    assert "anthropic-beta" not in upstreams[upstream].last.headers
    assert "You are a Claude agent" in seen.system
    assert seen.tools == [t["name"] for t in body["tools"]]
    prompt = body["messages"][0]["content"][-1]["text"]
    assert prompt in seen.user_text
    if request_file.endswith("tool_call/03_v1_messages"):
        assert seen.calls == ["Bash"]
        assert len(seen.results) == 1 and seen.results[0]


def test_claude_code_to_anthropic_is_forwarded_with_its_beta_header(gateway, upstreams):
    body, headers, _ = capture("claude_code/hello/02_v1_messages")
    original_model = body["model"]
    resp = call(gateway.url + "/v1/messages?beta=true", "POST", body, headers)  # claude-* -> an/claude-wildcard
    assert resp.status == 200
    assert resp.headers["x-switchyard-upstream"] == "an/claude-wildcard"
    rec = upstreams["anthropic"].last
    assert rec.path == "/v1/messages" and rec.query == ""
    assert rec.headers["anthropic-beta"] == headers["anthropic-beta"]
    assert rec.headers["anthropic-version"] == "2023-06-01"
    assert rec.headers["x-extra-header"] == "from-config"
    assert rec.headers["x-api-key"] == UPSTREAM_KEY["anthropic"]
    assert rec.json == {**body, "model": "claude-wildcard"} and original_model == "claude-opus-4-8"


# ---------------------------------------------------------------------------- Codex

CODEX = [
    "codex/hello/01_v1_responses",
    "codex/hello_gpt_5_5/01_v1_responses",
    "codex/tool_call/02_v1_responses",
    "codex/tool_call_unknown_model/01_v1_responses",
    "codex/tool_call_unknown_model/02_v1_responses",
]


def check_responses_stream(raw: bytes) -> None:
    """What Codex needs: typed frames with rising sequence numbers, output_item.done for every
    item, and response.completed at the end."""
    frames = sse(raw)
    types = [data["type"] for _, data in frames]
    assert types[0] == "response.created" and types[-1] == "response.completed"
    assert "error" not in types and "response.failed" not in types
    numbers = [data["sequence_number"] for _, data in frames]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    added = [d["item"]["id"] for _, d in frames if d["type"] == "response.output_item.added"]
    done = [d["item"]["id"] for _, d in frames if d["type"] == "response.output_item.done"]
    assert added and added == done
    completed = frames[-1][1]["response"]
    assert completed["status"] == "completed" and completed["usage"] is not None


@pytest.mark.parametrize("upstream", ["openai_chat", "anthropic", "gemini"])
@pytest.mark.parametrize("request_file", CODEX, ids=[p.split("/", 1)[1] for p in CODEX])
def test_codex_to_another_protocol(gateway, upstreams, request_file, upstream):
    body, headers, _ = capture(request_file)
    body["model"] = f"{PROVIDER[upstream]}/codex-model"
    resp = call(gateway.url + "/v1/responses", "POST", body, headers)
    assert resp.status == 200, resp.body[:500]
    check_responses_stream(resp.body)

    seen = view(upstream, upstreams[upstream].last)
    assert seen.model == "codex-model" and seen.stream is True
    assert seen.key == UPSTREAM_KEY[upstream]
    prompt = next(i for i in reversed(body["input"]) if i.get("type") == "message" and i.get("role") == "user")[
        "content"
    ][-1]["text"]
    assert prompt in seen.user_text
    tools = [t["name"] for t in body.get("tools", []) if t.get("type") == "function"]
    assert set(tools) <= set(seen.tools)
    runnable = ("function", "custom", "namespace")  # what other protocols can carry
    hosted = [t["type"] for t in body.get("tools", []) if t.get("type") not in runnable]
    if hosted:
        assert resp.headers["x-switchyard-dropped-tools"] == ",".join(dict.fromkeys(hosted))
    else:
        assert "x-switchyard-dropped-tools" not in resp.headers


# ---------------------------------------------------------------------------- Gemini CLI

GEMINI_CLI = [
    "gemini_cli/hello/02_streamGenerateContent_gemini-3.8-flash",
    "gemini_cli/hello_gemini_2_5_pro/01_streamGenerateContent_gemini-2.5-pro",
    "gemini_cli/tool_call/02_streamGenerateContent_gemini-3.8-flash",
    "gemini_cli/tool_call/03_streamGenerateContent_gemini-3.8-flash",
]


def check_gemini_stream(raw: bytes) -> None:
    """What the Gemini CLI needs: data-only frames of GenerateContentResponse, finishReason last."""
    frames = sse(raw)
    assert frames and all(event is None for event, _ in frames)
    assert all("candidates" in data and "error" not in data for _, data in frames)
    assert frames[-1][1]["candidates"][0].get("finishReason")
    assert b"\r\n\r\n" in raw


@pytest.mark.parametrize("upstream", ["openai_chat", "openai_responses", "anthropic"])
@pytest.mark.parametrize("request_file", GEMINI_CLI, ids=[p.split("/", 1)[1] for p in GEMINI_CLI])
def test_gemini_cli_to_another_protocol(gateway, upstreams, request_file, upstream):
    body, headers, meta = capture(request_file)
    assert meta["query"] == [["alt", "sse"]]
    path = f"/v1beta/models/{PROVIDER[upstream]}/gcli-model:streamGenerateContent?alt=sse"
    resp = call(gateway.url + path, "POST", body, headers)
    assert resp.status == 200, resp.body[:500]
    check_gemini_stream(resp.body)

    seen = view(upstream, upstreams[upstream].last)
    assert seen.model == "gcli-model" and seen.stream is True
    assert seen.key == UPSTREAM_KEY[upstream]
    assert body["systemInstruction"]["parts"][0]["text"][:200] in seen.system
    declared = [d["name"] for t in body["tools"] for d in t["functionDeclarations"]]
    assert seen.tools == declared
    first_user = body["contents"][0]["parts"][-1]["text"]
    assert first_user[:100] in seen.user_text
    if request_file.endswith("tool_call/03_streamGenerateContent_gemini-3.8-flash"):
        assert seen.calls == ["list_directory"] and len(seen.results) == 1


def test_gemini_cli_router_classifier_to_another_protocol(gateway, upstreams):
    body, headers, _ = capture("gemini_cli/hello/01_generateContent_gemini-3.5-flash-lite")
    resp = call(gateway.url + "/v1beta/models/an/router:generateContent", "POST", body, headers)
    assert resp.status == 200, resp.body[:500]
    answer = resp.json
    assert answer["candidates"][0]["content"]["parts"][0]["text"]
    assert answer["candidates"][0]["finishReason"]
