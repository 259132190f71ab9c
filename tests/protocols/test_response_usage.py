"""``response_usage`` (the relayed fast path's accounting) agrees with a full ``parse_response``."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from switchyard.protocols import PROTOCOLS, codec

HERE = Path(__file__).parent
CASES = [
    (p, f)
    for p in PROTOCOLS
    for f in sorted((HERE / p / "fixtures").glob("response_*.json"))
    if f.stem != "response_count_tokens"  # not a message
]


@pytest.mark.parametrize(("protocol", "path"), CASES, ids=[f"{p}/{f.stem}" for p, f in CASES])
def test_response_usage_matches_the_full_parse(protocol: str, path: Path) -> None:
    body = orjson.loads(path.read_bytes())
    mod = codec(protocol)
    assert mod.response_usage(body) == mod.parse_response(body).usage


def test_every_protocol_has_usage_fixtures() -> None:
    assert {p for p, _ in CASES} == set(PROTOCOLS)


def test_a_body_without_usage_has_none() -> None:
    for protocol in PROTOCOLS:
        assert codec(protocol).response_usage({}) is None
