"""The Vercel AI SDK (Node: ``ai`` with ``@ai-sdk/openai`` — ``.chat()`` and the default Responses
model —, ``@ai-sdk/anthropic``, ``@ai-sdk/google``) as a client: ``js/tool_loop.mjs`` runs two
user turns, each a multi-step tool loop with reasoning on, with ``generateText`` or ``streamText``.
Its providers validate every response and every streamed chunk with zod, so a field of the wrong
shape fails the run. The node modules are the committed lockfile's, installed with ``npm ci`` by the
first test that needs them (again only when the lockfile changed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import orjson
import pytest
from framework_harness import CITIES, USAGE, assert_upstream_kept_state, model
from gateway_harness import CLIENT_KEY
from strict_upstreams import DONE, StrictUpstream

JS = Path(__file__).parent / "js"

# client -> (the model family its provider speaks for, the protocol of the upstream it is paired with: another one)
CLIENTS = {"openai-chat": ("openai", "anthropic"), "openai-responses": ("openai", "gemini"),
           "anthropic": ("anthropic", "openai_responses"), "google": ("gemini", "anthropic")}  # fmt: skip


def node_with_the_ai_sdk() -> str:
    """``node``, once the lockfile's packages are installed in ``js/node_modules``."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("Node.js and npm are not installed: the Vercel AI SDK tests need Node.js 18 or later")
    lock, stamp = JS / "package-lock.json", JS / "node_modules" / ".installed-lock.json"
    if not stamp.exists() or stamp.read_bytes() != lock.read_bytes():
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=JS, capture_output=True, text=True, timeout=600, check=False
        )
        if done.returncode != 0:
            pytest.fail(f"npm ci in {JS} failed:\n{done.stderr[-2000:]}")
        shutil.copyfile(lock, stamp)
    return node


def run_node(gateway_url: str, client: str, model: str, stream: bool) -> dict:
    node = node_with_the_ai_sdk()
    args = {"url": gateway_url, "key": CLIENT_KEY, "client": client, "model": model, "stream": stream}
    done = subprocess.run(
        [node, str(JS / "tool_loop.mjs"), orjson.dumps(args).decode()],
        capture_output=True, text=True, timeout=120, cwd=JS, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("{"), done.stdout
    return orjson.loads(done.stdout)


def converse(gateway_url: str, upstreams: dict[str, StrictUpstream], client: str, protocol: str, stream: bool) -> None:
    """The two turns of ``client`` against the strict upstream of ``protocol``, checked."""
    result = run_node(gateway_url, client, model(CLIENTS[client][0], protocol), stream)
    assert "error" not in result, result
    assert result["warnings"] == []  # e.g. a setting the provider could not send, reasoning it could not keep
    turns = result["turns"]
    assert [t["text"] for t in turns] == [DONE, DONE]
    assert all(t["steps"] == ["tool-calls", "stop"] for t in turns)
    assert all((t["usage"]["inputTokens"], t["usage"]["outputTokens"]) == USAGE for t in turns)
    assert sorted(city for t in turns for city in t["tool_calls"]) == sorted(CITIES[protocol])
    assert all(t["reasoning"] and t["reasoning"][0] for t in turns) or client == "openai-chat"  # .chat() shows none
    if client == "openai-responses":  # store on: from step 2 the SDK sends earlier items back by reference
        assert any("item_reference" in types for types in result["sent"])
    assert_upstream_kept_state(upstreams, protocol)


STREAM = pytest.mark.parametrize("stream", [False, True], ids=["generateText", "streamText"])


@STREAM
@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_vercel_ai_sdk_tool_loop_with_reasoning_over_two_turns(gateway, upstreams, client, stream):
    converse(gateway.url, upstreams, client, CLIENTS[client][1], stream)


@STREAM
def test_vercel_anthropic_provider_keeps_unsigned_thinking_of_a_gemini_upstream(gateway, upstreams, stream):
    """Gemini's thought text reaches an Anthropic client as a thinking block with an empty signature.
    Streamed, the block ended without a ``signature_delta`` (the plain answer has ``"signature": ""``):
    the AI SDK, which keeps only thinking that has a signature, warned "unsupported reasoning
    metadata" at every step and left the reasoning out of the history it sent back."""
    converse(gateway.url, upstreams, "anthropic", "gemini", stream)
