"""What the framework tests share: the strict upstreams behind one gateway, the weather tool every
framework runs, and the checks of what the upstream received."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway_harness import CLIENT_KEY
from mock_upstreams import UpstreamHost
from strict_upstreams import StrictAnthropic, StrictGemini, StrictResponses, StrictUpstream

QUESTIONS = ("Weather in two cities, one at a time", "And tomorrow?")
"""The two user turns of every conversation; each is a tool loop."""

FAMILIES = {"openai": "gpt-5", "anthropic": "claude-sonnet-4-5", "gemini": "gemini-2.5-pro"}
PROVIDERS = {"anthropic": "an/claude-strict", "gemini": "gm/gemini-strict", "openai_responses": "or/gpt-strict"}


def model(family: str, protocol: str) -> str:
    """The gateway's name for the strict upstream of ``protocol`` as a client of ``family`` asks for
    it: an alias named as that family's reasoning models are, since the clients decide by the name
    whether a model can reason (and without a ``provider/`` prefix, which some put in the URL path)."""
    return f"{FAMILIES[family]}-via-{protocol.replace('_', '-')}"


CITIES = {
    "anthropic": ["City1", "City3"],
    "gemini": ["Paris1", "Rome1", "Paris3", "Rome3"],  # two parallel calls a turn
    "openai_responses": ["Oslo1", "Oslo3"],
}
"""The cities the strict upstream of each protocol asks the weather of, over the two turns (its
requests 1 and 3 open a turn)."""

USAGE = (40, 20)
"""Input and output tokens of a turn: two requests, each counted 20 and 10 by the strict upstreams."""


def weather_tool() -> tuple[Callable[[str], str], list[str]]:
    """The function tool every framework runs, and the list of the cities it was called with."""
    cities: list[str] = []

    def get_weather(city: str) -> str:
        """Weather for a city."""
        cities.append(city)
        return f"sunny in {city}"

    return get_weather, cities


class Upstreams:
    """One strict upstream per protocol, each answering every user message with a tool call after
    readable reasoning."""

    def __init__(self) -> None:
        self.host = UpstreamHost()
        self.by_protocol: dict[str, StrictUpstream] = {
            "anthropic": StrictAnthropic(calls=None, preamble="Let me look that up."),
            "gemini": StrictGemini(calls=None, thoughts=True),
            "openai_responses": StrictResponses(calls=None, thoughts=True),
        }
        for upstream in self.by_protocol.values():
            upstream.pause = 0.2
            upstream.start(self.host)

    def yaml(self) -> str:
        up = self.by_protocol
        aliases = "".join(f"  {model(f, p)}: [{target}]\n" for f in FAMILIES for p, target in PROVIDERS.items())
        return f"""
server: {{auth_keys: ["{CLIENT_KEY}"]}}
routing: {{retries: 0, heartbeat: 0.05}}
providers:
  an: {{type: anthropic, base_url: "{up["anthropic"].url}", api_keys: [sk-ant-frameworks-0001]}}
  gm: {{type: gemini, base_url: "{up["gemini"].url}", api_keys: [gm-frameworks-0001]}}
  or: {{type: openai-responses, base_url: "{up["openai_responses"].url}/v1", api_keys: [sk-or-frameworks-0001]}}
models:
{aliases}"""


def reasoning_requested(protocol: str, body: dict[str, Any]) -> bool:
    """Whether an upstream request asks for reasoning in its protocol's terms."""
    if protocol == "anthropic":
        return body.get("thinking", {}).get("type") == "enabled"
    if protocol == "gemini":
        return bool(body.get("generationConfig", {}).get("thinkingConfig"))
    return bool(body.get("reasoning"))


def state_sent_back(protocol: str, body: dict[str, Any]) -> list[str]:
    """The reasoning state an upstream request carries back: thinking signatures, thoughtSignatures,
    or reasoning items' encrypted_content."""
    if protocol == "anthropic":
        blocks = [b for m in body["messages"] if isinstance(m["content"], list) for b in m["content"]]
        return [b["signature"] for b in blocks if b.get("type") == "thinking"]
    if protocol == "gemini":
        return [p["thoughtSignature"] for c in body["contents"] for p in c["parts"] if "thoughtSignature" in p]
    items = body["input"] if isinstance(body["input"], list) else []
    return [i.get("encrypted_content") for i in items if i.get("type") == "reasoning"]


def assert_upstream_kept_state(upstreams: dict[str, StrictUpstream], protocol: str, turns: int = 2) -> None:
    """The upstream of ``protocol`` refused nothing, was asked to reason on every request, and got
    the state of each of the ``turns`` tool calls back, byte for byte, by the last request; the
    upstreams of the other protocols were not called."""
    upstream = upstreams[protocol]
    assert upstream.problems == []
    assert len(upstream.bodies) == 2 * turns  # per user turn: the tool call, then the answer
    assert all(reasoning_requested(protocol, body) for body in upstream.bodies)
    issued = set(upstream.issued.values())
    returned = state_sent_back(protocol, upstream.bodies[-1])
    assert len(returned) == turns and set(returned) <= issued
    assert all(not other.bodies for name, other in upstreams.items() if name != protocol)
