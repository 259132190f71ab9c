"""Image forms a cell cannot carry: the build raises a typed error naming the field.

Each client body is the cell's ``image`` scenario request with its URL image replaced by the
client protocol's provider-file reference (a Responses ``file_id``, an Anthropic Files API
``file`` source, a Gemini Files API ``fileUri``). Only that provider can resolve the reference, so
every other upstream refuses it with a TranslationError (a 400 in the client's error shape) instead
of sending a URL or id the upstream cannot fetch. The same-protocol cell keeps the reference.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from harness import GOLDEN, load_json, parse_client_request

from switchyard.core.errors import ErrorKind, TranslationError
from switchyard.protocols import codec

PROTOCOLS = ("openai_chat", "openai_responses", "anthropic", "gemini")


def responses_file_id(body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    body["input"][0]["content"][1] = {"type": "input_image", "file_id": "file-6F2ksmvXxt4VdoqmHRw6kL", "detail": "high"}
    return body, "input[0].content[1].file_id"


def anthropic_file_source(body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    body["messages"][0]["content"][1] = {
        "type": "image",
        "source": {"type": "file", "file_id": "file_011CNha8iCJcU1wXNR6q4V8w"},
    }
    return body, "messages[0].content[1]"


def gemini_files_api_uri(body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    body["contents"][0]["parts"][1] = {
        "fileData": {
            "mimeType": "image/jpeg",
            "fileUri": "https://generativelanguage.googleapis.com/v1beta/files/8pk1m2hb0b3a",
        }
    }
    return body, "contents[0].parts[1].fileData.fileUri"


EDITS = {
    "openai_responses": responses_file_id,
    "anthropic": anthropic_file_source,
    "gemini": gemini_files_api_uri,
}
CASES = [(client, upstream) for client in EDITS for upstream in PROTOCOLS if upstream != client]


def file_reference_body(client: str) -> tuple[dict[str, Any], str]:
    body = copy.deepcopy(load_json(GOLDEN / f"{client}__{client}" / "image" / "client_request.json"))
    return EDITS[client](body)


@pytest.mark.parametrize(("client", "upstream"), CASES, ids=[f"{c}__{u}" for c, u in CASES])
def test_provider_file_image_is_refused(client: str, upstream: str) -> None:
    body, field = file_reference_body(client)
    req = parse_client_request(client, body)
    with pytest.raises(TranslationError) as info:
        codec(upstream).build_request(req)
    assert info.value.param == field
    assert info.value.kind == ErrorKind.INVALID_REQUEST and info.value.status == 400


@pytest.mark.parametrize("client", sorted(EDITS))
def test_provider_file_image_passes_to_its_own_protocol(client: str) -> None:
    body, _ = file_reference_body(client)
    req = parse_client_request(client, body)
    assert codec(client).build_request(req) == body
