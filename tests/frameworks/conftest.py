"""The agent frameworks our users run, as clients of the gateway (issue 13): each runs a tool loop
with reasoning on, over two user turns, through the gateway to a STRICT upstream of another
protocol (:mod:`strict_upstreams`), which answers 400 unless it gets its own reasoning state back
as issued. One gateway for the directory; each test starts from fresh upstream records."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "server"))  # gateway_harness, strict upstreams

# nothing leaves the machine: the Agents SDK exports traces to OpenAI unless told not to, LangChain to LangSmith
os.environ["OPENAI_AGENTS_DISABLE_TRACING"] = "1"
os.environ["LANGSMITH_TRACING"] = os.environ["LANGCHAIN_TRACING_V2"] = "false"

from framework_harness import Upstreams
from gateway_harness import Gateway, config_from_yaml
from strict_upstreams import StrictUpstream


@pytest.fixture(scope="session")
def framework_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, Upstreams]]:
    ups = Upstreams()
    gateway = Gateway(config_from_yaml(ups.yaml(), base_dir=tmp_path_factory.mktemp("frameworks"))).start()
    yield gateway, ups
    gateway.stop()
    ups.host.close()


@pytest.fixture
def gateway(framework_gateway: tuple[Gateway, Upstreams]) -> Gateway:
    return framework_gateway[0]


@pytest.fixture
def upstreams(framework_gateway: tuple[Gateway, Upstreams]) -> dict[str, StrictUpstream]:
    """The strict upstreams by protocol, their records cleared."""
    ups = framework_gateway[1].by_protocol
    for upstream in ups.values():
        upstream.reset()
    return ups
