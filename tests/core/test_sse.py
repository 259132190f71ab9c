"""The incremental SSE decoder: line endings, fields, limits, and chunking independence."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchyard.core.sse import SSEDecoder, SSEFrame, SSEFrameTooLarge, encode_comment, encode_frame


def decode_all(data: bytes, cuts: list[int] | None = None, max_frame_bytes: int | None = None) -> list[SSEFrame]:
    dec = SSEDecoder(max_frame_bytes) if max_frame_bytes else SSEDecoder()
    frames: list[SSEFrame] = []
    start = 0
    for cut in sorted(cuts or []):
        frames += dec.feed(data[start:cut])
        start = cut
    frames += dec.feed(data[start:])
    return frames + dec.flush()


def test_lf_crlf_and_cr_line_endings_give_the_same_frames():
    for eol in (b"\n", b"\r\n", b"\r"):
        raw = b"event: a" + eol + b"data: 1" + eol + eol + b"data: 2" + eol + eol
        assert decode_all(raw) == [SSEFrame(data="1", event="a"), SSEFrame(data="2")]


def test_crlf_split_across_chunks_is_one_line_ending():
    raw = b"data: x\r\n\r\ndata: y\r\n\r\n"
    for cut in range(len(raw) + 1):
        assert decode_all(raw, [cut]) == [SSEFrame(data="x"), SSEFrame(data="y")]


def test_unicode_line_separator_does_not_end_a_line():
    raw = "data: a\u2028b\u2029c\x85d\n\n".encode()
    assert decode_all(raw) == [SSEFrame(data="a\u2028b\u2029c\x85d")]


def test_multi_line_data_is_joined_with_lf():
    assert decode_all(b"data: a\ndata:b\ndata:  c\n\n") == [SSEFrame(data="a\nb\n c")]


def test_comments_id_and_retry():
    frames = decode_all(b": keepalive\nid: 7\nretry: 3000\ndata: x\n\n")
    assert frames == [SSEFrame(comment="keepalive"), SSEFrame(data="x", id="7", retry=3000)]


def test_last_frame_without_blank_line_is_flushed():
    assert decode_all(b"data: 1\n\ndata: 2") == [SSEFrame(data="1"), SSEFrame(data="2")]


def test_field_without_colon_and_unknown_fields():
    assert decode_all(b"data\nfoo: bar\n\n") == [SSEFrame(data="")]


def test_multibyte_utf8_split_across_chunks():
    raw = "data: héllo ✓\n\n".encode()
    for cut in range(len(raw) + 1):
        assert decode_all(raw, [cut]) == [SSEFrame(data="héllo ✓")]


def test_frame_over_the_limit_raises_a_clear_error():
    with pytest.raises(SSEFrameTooLarge, match="maximum size of 64 bytes"):
        decode_all(b"data: " + b"x" * 100 + b"\n\n", max_frame_bytes=64)
    with pytest.raises(SSEFrameTooLarge):  # an unterminated line grows past the limit too
        decode_all(b"data: " + b"x" * 100, [10, 50], max_frame_bytes=64)


def test_large_frames_under_the_limit_pass():
    big = "x" * 300_000  # Gemini thought signatures can exceed 128 KiB on one line
    assert decode_all(f"data: {big}\r\n\r\n".encode(), [70_000, 140_000]) == [SSEFrame(data=big)]


def test_encode_round_trip():
    raw = encode_frame('{"a":1}', "message_start") + encode_comment() + encode_frame("l1\nl2", crlf=True)
    assert decode_all(raw) == [
        SSEFrame(data='{"a":1}', event="message_start"),
        SSEFrame(comment="keepalive"),
        SSEFrame(data="l1\nl2"),
    ]


STREAM = (
    b'event: message_start\r\ndata: {"type": "message_start"}\r\n\r\n'
    b": ping\n\nid: 1\ndata: a\ndata: b\n\n"
    b'data: {"x": "\xe2\x9c\x93"}\r\rdata: last'
)


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_any_chunking_gives_the_same_frames(cuts):
    assert decode_all(STREAM, cuts) == decode_all(STREAM)


@given(
    st.lists(
        st.sampled_from([b"\n", b"\r", b"\r\n", b"data: x", b"event: e", b":c", b"id: 3", b"retry: 5", "é".encode()]),
        max_size=30,
    ),
    st.lists(st.integers(min_value=0, max_value=400), max_size=10),
)
def test_any_chunking_of_arbitrary_streams(pieces, cuts):
    raw = b"".join(pieces)
    cuts = [c for c in cuts if c <= len(raw)]
    assert decode_all(raw, cuts) == decode_all(raw)
