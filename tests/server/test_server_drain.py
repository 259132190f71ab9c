"""Issue 13 item 8 — shutdown has a deadline (``server.drain_timeout``).

A gateway process with ``drain_timeout: 2`` serves long streams (a slow Gemini upstream: one
frame every 0.2 s for 12 s) to a client of every protocol, a short stream that ends within the
deadline, and a non-streaming request whose upstream answers only after 10 s. On SIGTERM:

- new connections are refused at once;
- the short stream ends normally;
- at the deadline every long stream ends with its protocol's in-band error event, and the
  non-streaming request gets a 503 in its client's shape;
- the process exits soon after, with the usage rows of every request flushed (the cut ones
  marked with their error).
"""

from __future__ import annotations

import http.client
import signal
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass, field

import orjson
from gateway_process import GatewayProcess
from mock_upstreams import Reply, sse_reply
from test_server_faults import gemini_frames

from switchyard.core.sse import SSEDecoder

DRAIN = 2.0
PROMPT = [{"role": "user", "content": "hi"}]
LONG = {
    "openai_chat": ("/v1/chat/completions", {"model": "gm/slow", "stream": True, "messages": PROMPT}),
    "openai_responses": ("/v1/responses", {"model": "gm/slow", "stream": True, "input": "hi"}),
    "anthropic": ("/v1/messages", {"model": "gm/slow", "stream": True, "max_tokens": 99, "messages": PROMPT}),
    "gemini": (
        "/v1beta/models/gm/slow:streamGenerateContent?alt=sse",
        {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
    ),
}


@dataclass
class Exchange:
    name: str
    path: str
    body: dict
    status: int = 0
    data: bytes = b""
    ended_at: float = 0.0
    started: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def run(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            conn.request("POST", self.path, body=orjson.dumps(self.body), headers={"content-type": "application/json"})
            resp = conn.getresponse()
            self.status = resp.status
            self.started.set()
            while chunk := resp.read1(65536):
                self.data += chunk
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            self.ended_at = time.monotonic()
            self.started.set()
            conn.close()

    def events(self) -> list[tuple[str | None, dict]]:
        dec = SSEDecoder()
        out = []
        for frame in dec.feed(self.data) + dec.flush():
            if frame.data and frame.data != "[DONE]":
                out.append((frame.event, orjson.loads(frame.data)))
        return out


def ended_with_error_event(protocol: str, events: list[tuple[str | None, dict]]) -> bool:
    name, data = events[-1]
    if protocol == "openai_responses":
        return data.get("type") == "response.failed"
    if protocol == "anthropic":
        return name == "error" and data["type"] == "error"
    return "error" in data


def test_sigterm_drains_in_flight_requests_until_the_deadline_then_cuts_them(upstreams, tmp_path):
    config = tmp_path / "switchyard.yaml"
    config.write_text(
        f"""
server:
  data_dir: state
  drain_timeout: {DRAIN}
routing:
  retries: 0
  heartbeat: 0
  timeouts: {{first_byte: 30, stall: 30, request: 60}}
providers:
  gm:
    type: gemini
    base_url: {upstreams["gemini"].url}
    api_keys: ["gm-drain-key-0001"]
"""
    )
    gateway = GatewayProcess(config).start()
    slow = gemini_frames(60)  # 12 s at 0.2 s a frame
    upstream = upstreams["gemini"]
    exchanges: list[Exchange] = []
    try:
        for protocol, (path, body) in LONG.items():
            upstream.queue(sse_reply(slow, chunk_size=len(slow[0]), delay=0.2))
            exchanges.append(Exchange(protocol, path, body))
        upstream.queue(sse_reply(gemini_frames(4), chunk_size=len(slow[0]), delay=0.2))  # about 1 s
        exchanges.append(Exchange("short", *LONG["openai_chat"]))
        upstream.queue(Reply(body=b"{}", wait_before_headers=10))
        exchanges.append(
            Exchange("non_stream", "/v1/messages", {"model": "gm/slow", "max_tokens": 99, "messages": PROMPT})
        )
        threads = []
        for n, ex in enumerate(exchanges):  # one at a time: the upstream answers in arrival order
            thread = threading.Thread(target=ex.run, args=(gateway.url,), daemon=True)
            thread.start()
            threads.append(thread)
            deadline = time.monotonic() + 10
            while len(upstream.requests) <= n:
                assert time.monotonic() < deadline, f"{ex.name} never reached the upstream"
                time.sleep(0.01)
        for ex in exchanges[:-1]:
            assert ex.started.wait(10) and ex.status == 200, (ex.name, ex.status, ex.error)

        gateway.signal(signal.SIGTERM)
        sigterm = time.monotonic()
        refused = None
        while time.monotonic() - sigterm < 1.0:
            try:
                socket.create_connection(("127.0.0.1", gateway.port), timeout=0.2).close()
            except OSError:
                refused = time.monotonic() - sigterm
                break
            time.sleep(0.02)
        assert refused is not None, "new connections were still accepted 1 s after SIGTERM"

        for thread in threads:
            thread.join(DRAIN + 10)
        exit_code = gateway.wait(10)
        exited = time.monotonic() - sigterm
    finally:
        gateway.kill()

    assert exit_code in (0, -signal.SIGTERM), gateway.log.read_text()
    assert exited < DRAIN + 4, exited
    by_name = {ex.name: ex for ex in exchanges}
    short = by_name["short"]
    assert short.error is None and short.data.rstrip().endswith(b"data: [DONE]"), short.data[-300:]
    assert short.ended_at - sigterm < DRAIN
    for protocol in LONG:
        ex = by_name[protocol]
        assert ex.error is None, (protocol, ex.error)
        events = ex.events()
        assert len(events) > 3, (protocol, ex.data)  # content went out before the cut
        assert ended_with_error_event(protocol, events), (protocol, events[-2:])
        assert "shutting down" in ex.data.decode(), protocol
        assert DRAIN - 0.5 < ex.ended_at - sigterm < DRAIN + 2, (protocol, ex.ended_at - sigterm)
    cut = by_name["non_stream"]
    assert cut.status in (502, 503), (cut.status, cut.data)  # the protocol's status for "unavailable"
    body = orjson.loads(cut.data)
    assert body["type"] == "error" and "shutting down" in body["error"]["message"]

    with sqlite3.connect(tmp_path / "state" / "usage.db") as db:
        rows = db.execute("SELECT status, stream, error FROM requests ORDER BY id").fetchall()
    assert len(rows) == len(exchanges), rows
    assert sorted(r[2] or "" for r in rows) == sorted(["unavailable"] * 5 + [""]), rows
