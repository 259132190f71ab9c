"""Issue 13 item 7 — a streamed Response acknowledged to the client can be lost.

The gateway runs as its own process with the SQLite state backend. A Responses stream is read on
a raw socket, and the instant its terminal event (``response.completed`` / ``incomplete`` /
``failed``) arrives the gateway is killed with SIGKILL; restarted on the same data_dir, it must
return the response from ``GET /v1/responses/{id}`` with the status the client saw. Streams from
the mock (translated), a Responses upstream (the same-protocol fast path) and an Anthropic
upstream (translated), ending completed, incomplete and failed.
"""

from __future__ import annotations

import orjson
from gateway_harness import call
from gateway_process import GatewayProcess, open_stream
from mock_upstreams import fixture_bytes, sse_reply

from switchyard.core.sse import SSEDecoder

TERMINAL = (b"response.completed", b"response.incomplete", b"response.failed")


def config_text(upstreams) -> str:
    return f"""
server:
  data_dir: state
state:
  backend: sqlite
routing:
  retries: 0
  timeouts: {{first_byte: 5, stall: 5, request: 20}}
providers:
  or:
    type: openai-responses
    base_url: {upstreams["openai_responses"].url}/v1
    api_keys: ["sk-or-durability-0001"]
  an:
    type: anthropic
    base_url: {upstreams["anthropic"].url}
    api_keys: ["sk-ant-durability-0001"]
"""


def anthropic_cut_by_error() -> bytes:
    return fixture_bytes("anthropic/stream_error_overloaded.sse")


def responses_stream_with_id(response_id: str) -> bytes:
    raw = fixture_bytes("openai_responses/stream_plain_text.sse")
    first = orjson.loads(raw.split(b"data: ", 1)[1].split(b"\n", 1)[0])["response"]["id"]
    return raw.replace(first.encode(), response_id.encode())


def events_of(raw: bytes) -> list[dict]:
    body = raw.split(b"\r\n\r\n", 1)[1]
    dec = SSEDecoder()
    out = []
    for frame in dec.feed(body):  # chunked transfer framing lines are not SSE fields: skipped
        try:
            out.append(orjson.loads(frame.data))
        except orjson.JSONDecodeError:
            continue
    return out


CASES = [
    # (name, body, upstream protocol + reply bytes or None, expected status)
    ("mock_completed", {"model": "mock/mock-1", "input": "hello there", "stream": True}, None, "completed"),
    ("mock_incomplete", {"model": "mock/mock-1", "input": "a b c d e f g", "stream": True, "max_output_tokens": 2},
     None, "incomplete"),
    ("fast_path_completed", {"model": "or/gpt-x", "input": "hi", "stream": True},
     ("openai_responses", responses_stream_with_id("resp_durability_fast_path")), "completed"),
    ("anthropic_completed", {"model": "an/claude-x", "input": "hi", "stream": True},
     ("anthropic", fixture_bytes("anthropic/stream_plain_text.sse")), "completed"),
    ("anthropic_failed", {"model": "an/claude-x", "input": "hi", "stream": True},
     ("anthropic", anthropic_cut_by_error()), "failed"),
]  # fmt: skip


def test_kill_9_the_instant_the_terminal_event_is_read_loses_no_stored_response(upstreams, tmp_path):
    config = tmp_path / "switchyard.yaml"
    config.write_text(config_text(upstreams))
    gateway = GatewayProcess(config).start()
    seen: list[tuple[str, str, str]] = []
    try:
        for name, body, upstream, status in CASES:
            if upstream is not None:
                upstreams[upstream[0]].queue(sse_reply([upstream[1]]))
            sock = open_stream(gateway.url, "/v1/responses", orjson.dumps(body), {})
            sock.settimeout(20)
            raw = b""
            while not any(t in raw for t in TERMINAL):
                more = sock.recv(65536)
                assert more, f"{name}: the stream ended without a terminal event: {raw!r}"
                raw += more
            gateway.kill()  # at once: the client has just seen the terminal event
            sock.close()
            created = next(e for e in events_of(raw) if e.get("type") == "response.created")
            seen.append((name, created["response"]["id"], status))
            gateway = GatewayProcess(config, port=gateway.port, log=gateway.log).start()
            for prior, response_id, expected in seen:
                got = call(gateway.url + f"/v1/responses/{response_id}", "GET")
                assert got.status == 200, f"{prior}: {response_id} was lost ({got.status} {got.body!r})"
                assert got.json["status"] == expected, (prior, got.json)
    finally:
        gateway.kill()
