"""Gemini media parts in requests: which ``fileData`` URIs another provider can be given."""

from __future__ import annotations

import pytest

from switchyard.core.errors import TranslationError
from switchyard.core.model import ImagePart
from switchyard.protocols import anthropic, openai_chat, openai_responses
from switchyard.protocols.gemini import build_request, parse_request
from switchyard.protocols.gemini.parts import gemini_only_uri

FILES_API = "https://generativelanguage.googleapis.com/v1beta/files/8pk1m2hb0b3a"
PUBLIC = "https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.jpg"
OTHERS = [openai_chat, openai_responses, anthropic]


def body_with(uri: str) -> dict:
    return {
        "contents": [
            {
                "role": "user",
                "parts": [{"text": "What is in this image?"}, {"fileData": {"mimeType": "image/png", "fileUri": uri}}],
            }
        ]
    }


@pytest.mark.parametrize("uri", [FILES_API, "files/8pk1m2hb0b3a", "gs://bucket/cat.png"])
def test_gemini_only_file_uri_is_native_only(uri: str) -> None:
    # A Files API file or a Cloud Storage object needs Gemini's credentials: handed to another
    # provider as an image URL it would fail there (or be fetched from nowhere) instead of here.
    body = body_with(uri)
    req = parse_request(body)
    assert req.messages[0].content[1] == ImagePart(url=uri, media_type="image/png")
    assert req.native_only == ["contents[0].parts[1].fileData.fileUri"]
    assert build_request(req) == body  # Gemini itself takes it back unchanged
    for other in OTHERS:
        with pytest.raises(TranslationError) as info:
            other.build_request(req)
        assert info.value.param == "contents[0].parts[1].fileData.fileUri"


def test_public_file_uri_is_portable() -> None:
    req = parse_request(body_with(PUBLIC))
    assert req.native_only == []
    assert openai_chat.build_request(req)["messages"][0]["content"][1] == {
        "type": "image_url",
        "image_url": {"url": PUBLIC},
    }


def test_file_uri_in_system_instruction_is_native_only() -> None:
    body = {
        "systemInstruction": {"parts": [{"fileData": {"mimeType": "application/pdf", "fileUri": FILES_API}}]},
        "contents": [{"role": "user", "parts": [{"text": "Summarise the document."}]}],
    }
    assert parse_request(body).native_only == ["systemInstruction.parts[0].fileData.fileUri"]


def test_gemini_only_uri() -> None:
    assert gemini_only_uri(FILES_API)
    assert gemini_only_uri("https://generativelanguage.googleapis.com/v1/files/abc")
    assert not gemini_only_uri(PUBLIC)
    assert not gemini_only_uri("https://example.com/files/cat.png")  # another host's /files/ path
    assert not gemini_only_uri("https://www.youtube.com/watch?v=9hE5-98ZeCg")
