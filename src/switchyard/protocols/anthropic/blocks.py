"""Anthropic content blocks <-> core parts (shared by requests and responses).

Parsing (``parse_block``):

- ``text`` -> TextPart; ``cache_control``, ``citations`` and any other key stay in its extensions.
- ``image`` (source ``base64`` / ``url``) -> ImagePart; ``document`` (source ``base64`` PDF, ``url``,
  plain ``text``) -> DocumentPart (``title`` -> title; ``context``, ``citations``,
  ``cache_control`` in extensions). A ``file`` source (an Anthropic Files API id) -> DocumentPart
  with ``file_id`` (``_image`` set for images): native-only, no other provider knows the id.
- ``tool_use`` -> ToolCallPart (``input`` object -> JSON text arguments; ``caller`` ... kept).
- ``tool_result`` -> ToolResultPart (content string / blocks / absent remembered in ``_content``,
  ``is_error``, ``cache_control``).
- ``thinking`` -> ReasoningPart(signature_source="anthropic"); an empty signature is no signature
  (``_signature`` remembers the wire form); ``redacted_thinking`` -> ReasoningPart(redacted=data,
  signature_source="anthropic").
- Anything else (server-tool blocks, ``search_result``, ``container_upload``, a document with a
  ``content`` source, unknown future blocks) -> an opaque empty TextPart holding the block in
  ``_raw_part`` (the gateway-wide marker for opaque parts: adapters keep it, only an Anthropic
  build emits it again). In requests such a block is native-only (:func:`parse_block` records
  its path), so a build for another protocol raises TranslationError instead of dropping it.

Building (``build_block``) with ``native`` True applies the part's extensions (the part came from
an Anthropic body); parts from other protocols are built from the core fields only.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from ...core.errors import RequestError, TranslationError
from ...core.model import (
    DocumentPart,
    ImagePart,
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    arguments_object,
    arguments_text,
)
from ...core.util import require
from .wire import NAME, public

RAW = "_raw_part"
"""Extension key of an opaque part: the original wire block."""
_ID_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")


def opaque(block: dict[str, Any]) -> TextPart:
    return TextPart("", {RAW: block})


def parse_block(raw: Any, where: str, native_only: list[str] | None = None) -> Part:
    """One wire content block -> a core part (RequestError naming the field when malformed).

    ``native_only``: where to record the path of blocks only Anthropic can carry (requests).
    """
    if not isinstance(raw, dict):
        raise RequestError(f"'{where}' must be an object", param=where)
    kind = require(raw, "type", str, f"{where}.")
    if kind == "text":
        return TextPart(require(raw, "text", str, f"{where}."), _rest(raw, "type", "text"))
    if kind == "thinking":
        return _parse_thinking(raw, where)
    if kind == "redacted_thinking":
        return ReasoningPart("", None, NAME, require(raw, "data", str, f"{where}."), _rest(raw, "type", "data"))
    if kind == "tool_use":
        arguments = raw.get("input")
        if arguments is not None and not isinstance(arguments, dict):
            raise RequestError(f"field '{where}.input' must be an object", param=f"{where}.input")
        return ToolCallPart(
            require(raw, "id", str, f"{where}."),
            require(raw, "name", str, f"{where}."),
            arguments_text(arguments),
            extensions=_rest(raw, "type", "id", "name", "input"),
        )
    if kind == "tool_result":
        return _parse_tool_result(raw, where, native_only)
    if kind in ("image", "document"):
        part = _parse_media(raw, kind, where)
        if native_only is not None and (part.extensions.get(RAW) or getattr(part, "file_id", None)):
            native_only.append(where)
        return part
    if native_only is not None:
        native_only.append(where)
    return opaque(raw)


def _parse_thinking(raw: dict[str, Any], where: str) -> ReasoningPart:
    thinking = raw.get("thinking", "")
    if not isinstance(thinking, str):
        raise RequestError(f"field '{where}.thinking' must be a string", param=f"{where}.thinking")
    signature = raw.get("signature")
    if signature is not None and not isinstance(signature, str):
        raise RequestError(f"field '{where}.signature' must be a string", param=f"{where}.signature")
    ext = _rest(raw, "type", "thinking", "signature")
    if "thinking" not in raw:
        ext["_no_text"] = True
    if signature:
        return ReasoningPart(thinking, signature, NAME, extensions=ext)
    if "signature" in raw:
        ext["_signature"] = signature  # "" or null: shown back as sent, never a signature
    return ReasoningPart(thinking, extensions=ext)


def _parse_tool_result(raw: dict[str, Any], where: str, native_only: list[str] | None) -> ToolResultPart:
    content = raw.get("content")
    if content is None:
        parts: list[Part] = []
        form = "absent" if "content" not in raw else "null"
    elif isinstance(content, str):
        parts, form = [TextPart(content)], "string"
    elif isinstance(content, list):
        parts = [parse_block(b, f"{where}.content[{i}]", native_only) for i, b in enumerate(content)]
        form = "list"
    else:
        raise RequestError(f"field '{where}.content' must be a string or an array", param=f"{where}.content")
    is_error = raw.get("is_error")
    if is_error is not None and not isinstance(is_error, bool):
        raise RequestError(f"field '{where}.is_error' must be a boolean", param=f"{where}.is_error")
    ext = _rest(raw, "type", "tool_use_id", "content", "is_error")
    ext["_content"] = form
    if is_error is not None:
        ext["_is_error"] = True  # the flag was on the wire (also when false)
    return ToolResultPart(require(raw, "tool_use_id", str, f"{where}."), parts, bool(is_error), extensions=ext)


def _parse_media(raw: dict[str, Any], kind: str, where: str) -> Part:
    source = require(raw, "source", dict, f"{where}.")
    stype = require(source, "type", str, f"{where}.source.")
    ext = _rest(raw, "type", "source", "title")
    extra_source = _rest(source, "type", "data", "media_type", "url", "file_id")
    if extra_source:
        ext["_source"] = extra_source
    if kind == "image":
        if stype == "base64":
            return ImagePart(
                data=require(source, "data", str, f"{where}.source."),
                media_type=require(source, "media_type", str, f"{where}.source."),
                extensions=ext,
            )
        if stype == "url":
            return ImagePart(url=require(source, "url", str, f"{where}.source."), extensions=ext)
        if stype == "file":
            file_id = require(source, "file_id", str, f"{where}.source.")
            return DocumentPart(file_id=file_id, extensions={**ext, "_image": True})
        return opaque(raw)
    doc = DocumentPart(title=raw.get("title") if isinstance(raw.get("title"), str) else None, extensions=ext)
    if "title" in raw and doc.title is None:
        ext["_title"] = raw["title"]
    if stype == "base64":
        doc.data = require(source, "data", str, f"{where}.source.")
        doc.media_type = require(source, "media_type", str, f"{where}.source.")
    elif stype == "url":
        doc.url, doc.media_type = require(source, "url", str, f"{where}.source."), "application/pdf"
    elif stype == "text":
        doc.text = require(source, "data", str, f"{where}.source.")
        doc.media_type = source.get("media_type") if isinstance(source.get("media_type"), str) else None
    elif stype == "file":
        doc.file_id = require(source, "file_id", str, f"{where}.source.")
    else:
        return opaque(raw)
    return doc


def _rest(raw: dict[str, Any], *known: str) -> dict[str, Any]:
    return {k: v for k, v in raw.items() if k not in known}


# ------------------------------------------------------------------------------------ building


def safe_id(call_id: str) -> str:
    """A tool-use id Anthropic accepts (``^[a-zA-Z0-9_-]+$``); applied alike to calls and results
    from other protocols, so they still match."""
    return _ID_UNSAFE.sub("_", call_id) or "toolu_"


def tool_input(arguments: str) -> dict[str, Any]:
    """Tool-call arguments (JSON text) -> the ``input`` object. Text that is not a JSON object
    (a truncated call replayed from another provider's history) is kept visible to the model
    as ``{"raw_arguments": text}`` instead of failing the whole conversation."""
    try:
        return arguments_object(arguments)
    except ValueError:
        return {"raw_arguments": arguments}


def build_block(part: Part, native: bool, where: str) -> dict[str, Any]:
    """A core part -> a wire block (TranslationError for what Anthropic cannot carry)."""
    ext = part.extensions if native else {}
    if isinstance(part, TextPart):
        if RAW in ext:
            return ext[RAW]
        return {"type": "text", "text": part.text, **public(ext)}
    if isinstance(part, ReasoningPart):
        return build_reasoning(part, ext)
    if isinstance(part, ToolCallPart):
        call_id = part.id if native else safe_id(part.id)
        return {
            "type": "tool_use",
            "id": call_id,
            "name": part.name,
            "input": tool_input(part.arguments),
            **public(ext),
        }
    if isinstance(part, ImagePart):
        return _build_image(part, ext, where)
    if isinstance(part, DocumentPart):
        return _build_document(part, native, ext, where)
    raise TranslationError(where, NAME, f"{part.kind} content here")


def build_reasoning(part: ReasoningPart, ext: dict[str, Any]) -> dict[str, Any]:
    if part.redacted is not None:
        return {"type": "redacted_thinking", "data": part.redacted, **public(ext)}
    block: dict[str, Any] = {"type": "thinking"}
    if part.text or not ext.get("_no_text"):
        block["thinking"] = part.text
    if part.signature is not None and part.signature_source == NAME:
        block["signature"] = part.signature
    elif "_signature" in ext:
        block["signature"] = ext["_signature"]
    return {**block, **public(ext)}


def _build_image(part: ImagePart, ext: dict[str, Any], where: str) -> dict[str, Any]:
    if part.url is not None:
        source: dict[str, Any] = {"type": "url", "url": part.url}
    elif part.data is not None:
        source = {"type": "base64", "media_type": part.media_type or "image/png", "data": part.data}
    else:
        raise TranslationError(where, NAME, "an image without data or URL")
    source.update(ext.get("_source") or {})
    return {"type": "image", "source": source, **public(ext)}


def _build_document(part: DocumentPart, native: bool, ext: dict[str, Any], where: str) -> dict[str, Any]:
    if part.file_id is not None:
        if not native:
            raise TranslationError(where, NAME, "a file id of another provider (send the file inline)")
        source: dict[str, Any] = {"type": "file", "file_id": part.file_id}
        if ext.get("_image"):
            return {"type": "image", "source": {**source, **(ext.get("_source") or {})}, **public(ext)}
    elif part.data is not None:
        media = part.media_type or "application/pdf"
        if media.startswith("image/"):
            return _build_image(ImagePart(data=part.data, media_type=media), ext, where)
        if media.startswith("text/") and not native:
            source = {"type": "text", "media_type": "text/plain", "data": _decode_text(part.data, where)}
        elif media == "application/pdf" or native:
            source = {"type": "base64", "media_type": media, "data": part.data}
        else:
            raise TranslationError(where, NAME, f"a {media} file (Anthropic takes PDF, plain text and images)")
    elif part.text is not None:
        source = {"type": "text", "media_type": part.media_type or "text/plain", "data": part.text}
        if native and part.media_type is None:
            del source["media_type"]
    elif part.url is not None:
        source = {"type": "url", "url": part.url}
    else:
        raise TranslationError(where, NAME, "an empty document")
    source.update(ext.get("_source") or {})
    block: dict[str, Any] = {"type": "document", "source": source}
    title = part.title if native else part.title or part.filename
    if title is not None:
        block["title"] = title
    elif "_title" in ext:
        block["title"] = ext["_title"]
    return {**block, **public(ext)}


def _decode_text(data: str, where: str) -> str:
    try:
        return base64.b64decode(data, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise TranslationError(where, NAME, "an inline text file that is not UTF-8 base64") from None
