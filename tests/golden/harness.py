"""Replays golden scenarios through the codecs only (no network).

A scenario is a folder ``tests/golden/<client>__<upstream>/<name>/`` holding:

- ``client_request.json``   what the client sent (client protocol)
- ``upstream_request.json`` the body the gateway must send upstream (upstream protocol)
- ``upstream_response.json`` + ``client_response.json``: a non-stream exchange, and/or
- ``upstream_stream.sse`` + ``client_stream.sse``: a streamed exchange

Streams are compared frame by frame (event name and parsed JSON data), so a golden file does not
depend on whitespace. Set ``SWITCHYARD_REGEN_GOLDEN=1`` to (re)write the expected files from the
current codecs — then read the diff before committing it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from switchyard.core import SSEDecoder
from switchyard.protocols import codec

GOLDEN = Path(__file__).parent
REGEN = os.environ.get("SWITCHYARD_REGEN_GOLDEN") == "1"


def scenarios() -> list[Path]:
    return sorted(p.parent for p in GOLDEN.glob("*__*/*/client_request.json"))


def scenario_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def protocols_of(path: Path) -> tuple[str, str]:
    client, upstream = path.parent.name.split("__")
    return client, upstream


def load_json(path: Path) -> Any:
    return orjson.loads(path.read_bytes())


def dump_json(path: Path, value: Any) -> None:
    path.write_bytes(orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n")


def sse_frames(raw: bytes) -> list[tuple[str | None, Any]]:
    """Parsed frames of an SSE byte stream: (event name, JSON data or raw text); comments skipped."""
    dec = SSEDecoder()
    out = []
    for frame in dec.feed(raw) + dec.flush():
        if frame.comment is not None:
            continue
        try:
            data = orjson.loads(frame.data)
        except orjson.JSONDecodeError:
            data = frame.data
        out.append((frame.event, data))
    return out


GEMINI_URL_MODEL = "gemini-2.5-flash"


def parse_client_request(client: str, body: dict) -> Any:
    """The client's body -> Request; a Gemini client names its model in the URL, as the gateway sees it."""
    if client == "gemini":
        return codec(client).parse_request(body, GEMINI_URL_MODEL)
    return codec(client).parse_request(body)


def translate_stream(
    client: str, upstream: str, request_body: dict, raw: bytes, cuts: list[int] | None = None
) -> bytes:
    """Upstream SSE bytes (fed in the given chunking) -> client SSE bytes, through core events."""
    req = parse_client_request(client, request_body)
    req.stream = True
    sse = SSEDecoder()
    decoder = codec(upstream).StreamDecoder()
    encoder = codec(client).StreamEncoder(req)
    out = bytearray()
    start = 0
    for cut in [*sorted(cuts or []), len(raw)]:
        for frame in sse.feed(raw[start:cut]):
            for event in decoder.feed(frame):
                out += encoder.feed(event)
        start = cut
    for frame in sse.flush():
        for event in decoder.feed(frame):
            out += encoder.feed(event)
    for event in decoder.finish():
        out += encoder.feed(event)
    out += encoder.finish()
    return bytes(out)


def check_expected(path: Path, actual: Any, as_sse: bool = False) -> None:
    if REGEN or not path.exists():
        if as_sse:
            path.write_bytes(actual)
        else:
            dump_json(path, actual)
        if not REGEN:
            raise AssertionError(f"{path} did not exist; written from the current output — review it")
        return
    if as_sse:
        assert sse_frames(actual) == sse_frames(path.read_bytes())
    else:
        assert actual == load_json(path)
