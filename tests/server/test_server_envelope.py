"""Gateway envelopes (server/envelope.py): sealing, verification, the installation secret, and
the stream form that adds a call's carrier part."""

from __future__ import annotations

import base64
import os
import stat

import anthropic
import orjson
from gateway_harness import CLIENT_KEY
from mock_upstreams import fixture_reply

from switchyard.core.events import MessageStart, PartStart, PartStop, SignatureDelta, ToolArgsDelta
from switchyard.core.model import Message, ReasoningPart, Request, Response, TextPart, ToolCallPart
from switchyard.server.envelope import PREFIX, SECRET_FILE, Envelopes, load_secret

ENV = Envelopes(b"k" * 32)
ODD = 'Eq+/==\u00e9\u2028 signature \\ "quoted"' * 20


def test_envelope_round_trip_is_byte_for_byte() -> None:
    sealed = ENV.seal("anthropic", ODD)
    assert sealed.startswith(PREFIX) and base64.b64decode(sealed, validate=True)  # a Gemini client decodes it
    opened = ENV.open(sealed)
    assert opened is not None and (opened.family, opened.value, opened.call) == ("anthropic", ODD, None)
    assert ENV.open(ENV.seal("gemini", "s", "call_1")).call == "call_1"  # type: ignore[union-attr]
    # google-genai sends bytes back URL-safe; others may drop the padding
    sealed = next(e for n in range(100) if {"+", "/"} & set(e := ENV.seal("gemini", f"sig{n}")))
    urlsafe = base64.urlsafe_b64encode(base64.b64decode(sealed)).decode().rstrip("=")
    assert urlsafe != sealed and ENV.open(urlsafe) == ENV.open(sealed) is not None


def test_tampered_or_foreign_secret_envelope_does_not_open() -> None:
    sealed = ENV.seal("anthropic", "sig")
    raw = bytearray(base64.b64decode(sealed))
    raw[-2] ^= 1
    assert ENV.open(base64.b64encode(bytes(raw)).decode()) is None
    assert Envelopes(b"x" * 32).open(sealed) is None
    assert ENV.open(PREFIX + "not base64!") is None
    assert ENV.open("EqAnthropicSignature") is None


def test_installation_secret_is_created_once_and_private(tmp_path) -> None:
    first = load_secret(tmp_path)
    assert len(first) == 32 and load_secret(tmp_path) == first
    assert stat.S_IMODE(os.stat(tmp_path / SECRET_FILE).st_mode) == 0o600
    (tmp_path / SECRET_FILE).write_bytes(b"")  # a write cut short
    assert len(load_secret(tmp_path)) == 32


def test_signatures_are_sealed_for_the_clients_carrier_and_opened_for_their_upstream() -> None:
    resp = Response(
        "r1", "m", [ReasoningPart("plan", "SIG", "anthropic"), ToolCallPart("c1", "f", "{}")], protocol="anthropic"
    )
    sealed = ENV.seal_response(resp, "openai_responses")
    part = sealed.content[0]
    assert part.signature_source == "openai_responses" and part.signature != "SIG"  # type: ignore[union-attr]
    assert ENV.seal_response(resp, "openai_chat") is resp  # Chat has no carrier
    req = Request("m", [Message("user", [TextPart("q")]), Message("assistant", list(sealed.content))])
    opened = ENV.open_request(req, "anthropic").messages[1].content[0]
    assert (opened.signature, opened.signature_source) == ("SIG", "anthropic")  # type: ignore[union-attr]
    assert ENV.open_request(req, "gemini").messages[1].content == [sealed.content[1]]  # foreign: dropped


def test_a_gemini_call_signature_rides_on_a_carrier_after_the_call() -> None:
    calls = [ToolCallPart("g1", "f", "{}", "GSIG", "gemini"), ToolCallPart("g2", "f", "{}")]
    sealed = ENV.seal_response(Response("r", "m", calls, protocol="gemini"), "openai_responses")
    assert [p.kind for p in sealed.content] == ["tool_call", "reasoning", "tool_call"]
    assert sealed.content[0].signature is None  # type: ignore[union-attr]
    back = ENV.open_request(Request("m", [Message("assistant", list(sealed.content))]), "gemini")
    assert back.messages[0].content == calls

    seal = ENV.sealer("openai_responses", "gemini")
    assert seal is not None
    events = [
        MessageStart("r", "m"),
        PartStart(0, ToolCallPart("g1", "f", "")),
        ToolArgsDelta(0, "{}"),
        SignatureDelta(0, "GS", "gemini"),
        SignatureDelta(0, "IG", "gemini"),
        PartStop(0),
        PartStart(1, ToolCallPart("g2", "f", "")),
        ToolArgsDelta(1, "{}"),
        PartStop(1),
    ]
    out = [e for event in events for e in seal(event)]
    assert [(type(e).__name__, getattr(e, "index", None)) for e in out] == [
        ("MessageStart", None), ("PartStart", 0), ("ToolArgsDelta", 0), ("PartStop", 0), ("PartStart", 1),
        ("SignatureDelta", 1), ("PartStop", 1), ("PartStart", 2), ("ToolArgsDelta", 2), ("PartStop", 2),
    ]  # fmt: skip
    opened = ENV.open(next(e.signature for e in out if isinstance(e, SignatureDelta)))
    assert opened is not None and (opened.family, opened.value, opened.call) == ("gemini", "GSIG", "g1")


def test_redacted_thinking_travels_sealed_and_comes_back_redacted() -> None:
    """Anthropic's redacted thinking has no form in other protocols: it rides in an envelope."""
    resp = Response("r", "m", [ReasoningPart(redacted="OPAQUE", signature_source="anthropic")], protocol="anthropic")
    carrier = ENV.seal_response(resp, "openai_responses").content[0]
    assert carrier.redacted is None and carrier.signature_source == "openai_responses"  # type: ignore[union-attr]
    back = ENV.open_request(Request("m", [Message("assistant", [carrier])]), "anthropic").messages[0].content
    assert back == [ReasoningPart(redacted="OPAQUE", signature_source="anthropic")]

    seal = ENV.sealer("gemini", "anthropic")
    assert seal is not None
    events = [PartStart(0, ReasoningPart("", None, "anthropic", "OPAQUE")), PartStop(0)]
    out = [e for event in events for e in seal(event)]
    assert out[0] == PartStart(0, ReasoningPart()) and isinstance(out[1], SignatureDelta)
    opened = ENV.open(out[1].signature)
    assert opened is not None and (opened.value, opened.redacted) == ("OPAQUE", True)


def test_count_tokens_never_forwards_an_envelope(gateway, upstreams):
    """Claude Code counting a conversation that went through another provider family: its thinking
    block holds an envelope, which an Anthropic target never receives."""
    upstreams["anthropic"].queue(fixture_reply("anthropic/response_count_tokens.json"))
    foreign = Envelopes(b"another installation's secret").seal("gemini", "GSIG")
    messages = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "", "signature": foreign},
                                          {"type": "text", "text": "Sunny."}]},
        {"role": "user", "content": "Thanks"},
    ]  # fmt: skip
    sdk = anthropic.Anthropic(base_url=gateway.url, api_key=CLIENT_KEY, max_retries=0)
    assert sdk.messages.count_tokens(model="an/claude-count", messages=messages).input_tokens == 14
    sent = upstreams["anthropic"].last.json
    assert PREFIX not in orjson.dumps(sent).decode() and "max_tokens" not in sent
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
