"""Golden scenarios: request, response and stream translation per (client, upstream) cell."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import (
    check_expected,
    load_json,
    parse_client_request,
    protocols_of,
    scenario_id,
    scenarios,
    translate_stream,
)

from switchyard.protocols import codec

ALL = scenarios()
NON_STREAM = [p for p in ALL if (p / "upstream_response.json").exists()]
STREAMS = [p for p in ALL if (p / "upstream_stream.sse").exists()]


@pytest.mark.parametrize("path", ALL, ids=scenario_id)
def test_request(path: Path) -> None:
    client, upstream = protocols_of(path)
    body = load_json(path / "client_request.json")
    req = parse_client_request(client, body)
    check_expected(path / "upstream_request.json", codec(upstream).build_request(req))
    assert load_json(path / "client_request.json") == body, "parse_request mutated its input"


@pytest.mark.parametrize("path", NON_STREAM, ids=scenario_id)
def test_response(path: Path) -> None:
    client, upstream = protocols_of(path)
    req = parse_client_request(client, load_json(path / "client_request.json"))
    resp = codec(upstream).parse_response(load_json(path / "upstream_response.json"))
    check_expected(path / "client_response.json", codec(client).format_response(resp, req))


@pytest.mark.parametrize("path", STREAMS, ids=scenario_id)
def test_stream(path: Path) -> None:
    client, upstream = protocols_of(path)
    body = load_json(path / "client_request.json")
    raw = (path / "upstream_stream.sse").read_bytes()
    out = translate_stream(client, upstream, body, raw)
    check_expected(path / "client_stream.sse", out, as_sse=True)


@pytest.mark.parametrize("path", STREAMS, ids=scenario_id)
def test_stream_chunking_does_not_matter(path: Path) -> None:
    client, upstream = protocols_of(path)
    body = load_json(path / "client_request.json")
    raw = (path / "upstream_stream.sse").read_bytes()
    whole = translate_stream(client, upstream, body, raw)
    step = max(1, len(raw) // 400)  # every byte boundary for small streams, a dense sample for big ones
    for cut in range(0, len(raw) + 1, step):
        assert translate_stream(client, upstream, body, raw, [cut]) == whole, f"split at byte {cut}"
    assert translate_stream(client, upstream, body, raw, list(range(0, len(raw), 7))) == whole
