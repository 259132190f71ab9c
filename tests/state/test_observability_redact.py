"""Recursive redaction: secret-named keys, headers, key-like substrings, known secrets."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import orjson
from hypothesis import given
from hypothesis import strategies as st

from switchyard.observability.redact import REDACTED, redact, redact_headers, redact_text, secret_key

OPENAI_KEY = "sk-proj-Abc123def456GHI789jkl012MNO345pqr"
ANTHROPIC_KEY = "sk-ant-api03-ZyXwVu987654321_abcdefghijklmnop-QRSTUV"
GEMINI_KEY = "AIzaSyD-1234567890abcdefghijklmnopqrstu"
LOCAL_KEY = "local-vllm-secret-7f3a9c"  # no recognisable shape: only known-secret removal catches it


def test_secret_named_keys_at_any_depth():
    body = {
        "Authorization": "Bearer whatever",
        "outer": [
            {"X-Api-Key": "a", "x_goog_api_key": "b", "api_key": "c", "apiKey": "d"},
            {
                "cookie": "e",
                "Set-Cookie": "f",
                "token": "g",
                "access_token": "h",
                "client_secret": "i",
                "password": "j",
            },
        ],
        "credentials": {"user": "u"},
    }
    out = redact(body)
    assert out["Authorization"] == REDACTED
    assert set(out["outer"][0].values()) == {REDACTED}
    assert set(out["outer"][1].values()) == {REDACTED}
    assert out["credentials"] == REDACTED


def test_token_counts_and_ordinary_fields_are_kept():
    body = {
        "max_tokens": 1024,
        "usage": {"input_tokens": 5, "output_tokens": 7, "cache_read_input_tokens": 2},
        "prompt_cache_key": "conversation-17",
        "key": "metadata-key",
        "thinking": {"type": "thinking", "signature": "EqQBCkYIARgC"},
    }
    assert redact(body) == body
    assert not secret_key("max_tokens") and not secret_key("prompt_tokens_details")
    assert secret_key("X-Goog-Api-Key") and secret_key("refresh_token") and secret_key("OPENAI_API_KEY")


def test_headers_mapping_and_asgi_pairs():
    headers = {
        "Authorization": f"Bearer {OPENAI_KEY}",
        "x-api-key": ANTHROPIC_KEY,
        "X-Goog-Api-Key": GEMINI_KEY,
        "anthropic-version": "2023-06-01",
        "x-session-token": "s3",
        "content-type": "application/json",
    }
    out = redact_headers(headers)
    assert out["anthropic-version"] == "2023-06-01" and out["content-type"] == "application/json"
    assert out["Authorization"] == out["x-api-key"] == out["X-Goog-Api-Key"] == out["x-session-token"] == REDACTED

    pairs = [(b"authorization", f"Bearer {OPENAI_KEY}".encode()), (b"x-request-id", b"abc")]
    assert redact_headers(pairs) == {"authorization": REDACTED, "x-request-id": "abc"}
    nested = redact({"request": {"headers": pairs, "body": {"model": "m"}}})
    assert nested["request"]["headers"] == [["authorization", REDACTED], ["x-request-id", "abc"]]
    assert nested["request"]["body"] == {"model": "m"}


def test_key_like_substrings_in_strings():
    cases = {
        f"Incorrect API key provided: {OPENAI_KEY}.": "Incorrect API key provided: [REDACTED].",
        f"invalid x-api-key {ANTHROPIC_KEY}": "invalid x-api-key [REDACTED]",
        f"GET /v1beta/models/g:generateContent?key={GEMINI_KEY}&alt=sse": (
            "GET /v1beta/models/g:generateContent?key=[REDACTED]&alt=sse"
        ),
        "https://h/x?alt=sse&key=opaque-value-1": "https://h/x?alt=sse&key=[REDACTED]",
        "Authorization: Bearer eyJhbGciOiJI.eyJzdWIiOiIx.sig-nature": "Authorization: Bearer [REDACTED]",
        "auth: Bearer abcdefghijkl": "auth: Bearer [REDACTED]",
        'upstream said {"api_key": "abc123", "max_tokens": 100}': 'upstream said {"api_key": "[REDACTED]", "max_tokens": 100}',
        "password=hunter22&user=bob": "password=[REDACTED]&user=bob",
        "Basic dXNlcjpwYXNzd29yZA==": "Basic [REDACTED]",
        "gsk_abcdefghijklmnopqrstuvwx and hf_abcdefghijklmnopqrstuvwx": "[REDACTED] and [REDACTED]",
    }
    for text, expected in cases.items():
        assert redact_text(text) == expected, text


def test_prose_is_not_mangled():
    text = "The key: use a basic approach; the token limit is high; max_tokens: 4096; risk-management-policy."
    assert redact_text(text) == text


def test_known_secrets_are_removed_everywhere():
    value = {
        "text": f"configured key {LOCAL_KEY} leaked",
        LOCAL_KEY: "as a dict key",
        "raw": f"x{LOCAL_KEY}y".encode(),
        "list": (LOCAL_KEY, 3, None, True, 1.5),
    }
    out = redact(value, secrets=[LOCAL_KEY, "abc"])  # secrets shorter than 6 characters are ignored
    dumped = orjson.dumps(out).decode()
    assert LOCAL_KEY not in dumped
    assert out["text"] == "configured key [REDACTED] leaked"
    assert out["raw"] == "x[REDACTED]y"
    assert out["list"] == [REDACTED, 3, None, True, 1.5]
    assert "abc" in redact_text("abcdef", ["abc"])


def test_input_is_not_modified():
    value = {"headers": {"authorization": "Bearer abcdefghijkl"}, "items": [{"text": OPENAI_KEY}]}
    before = copy.deepcopy(value)
    redact(value, [OPENAI_KEY])
    assert value == before


def test_dataclasses_and_other_objects():
    @dataclass
    class Req:
        api_key: str
        note: str

    assert redact(Req(api_key="x", note=f"see {OPENAI_KEY}")) == {"api_key": REDACTED, "note": "see [REDACTED]"}
    assert redact(object()).startswith("<object object")


_SECRET_ALPHABET = st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters="[]")


@given(
    before=st.text(max_size=40),
    after=st.text(max_size=40),
    secret=st.text(alphabet=_SECRET_ALPHABET, min_size=6, max_size=40),
    repeat=st.integers(min_value=1, max_value=3),
)
def test_a_known_secret_never_survives(before, after, secret, repeat):
    text = before + (secret + after) * repeat
    assert secret not in redact_text(text, [secret])
    assert secret not in orjson.dumps(redact({"nested": [{"v": text, "b": text.encode()}]}, [secret])).decode()


def test_masked_key_ids_survive_and_log_records_are_masked():
    import logging

    from switchyard.observability.redact import LogMask

    assert redact_text("oc/gpt key=…0001 503 overloaded") == "oc/gpt key=…0001 503 overloaded"
    mask = LogMask()
    mask.add([LOCAL_KEY])
    record = logging.LogRecord(
        "switchyard.server",
        logging.WARNING,
        __file__,
        1,
        "upstream said %s",
        (f"bad key {LOCAL_KEY} / {OPENAI_KEY}",),
        None,
    )
    assert mask.filter(record)
    assert LOCAL_KEY not in record.getMessage() and OPENAI_KEY not in record.getMessage()
