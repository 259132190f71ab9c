"""Gemini ``Part`` objects <-> core content parts.

Parsing (wire -> core), per part:

- ``text`` -> TextPart; on the model side ``thought: true`` makes it a ReasoningPart. A
  ``thoughtSignature`` on a thought part becomes the ReasoningPart's signature; on a normal text
  part it stays in ``TextPart.extensions["thoughtSignature"]`` (restored on the same part by a
  same-protocol build; other protocols cannot replay it anyway).
- a signature with no data (``{"thoughtSignature"}``, or ``{"text": "", "thoughtSignature"}`` on
  the model side) -> ReasoningPart(text="", signature, source "gemini") with the hint
  ``_signature_only`` (and the original empty ``text`` key kept in extensions).
- ``inlineData`` -> ImagePart (``image/*``) or DocumentPart with ``data``; ``fileData`` -> the same
  with ``url`` = ``fileUri``. A ``fileUri`` only Gemini can resolve (a Files API file, a ``gs://``
  object: :func:`gemini_only_uri`) is native-only in requests, like the other protocols' file ids:
  another provider would be handed a URL it cannot fetch.
- ``functionCall`` -> ToolCallPart (``id`` may be "" here: the caller mints one);
  ``thoughtSignature`` -> ``signature`` with ``signature_source`` "gemini".
- ``functionResponse`` -> ToolResultPart (see :func:`parse_function_response`).
- anything else (``executableCode``, ``codeExecutionResult``, unknown data) -> an *opaque* part:
  TextPart(text="", extensions={"_raw_part": <the part>}); only a Gemini build emits it again.

Any other key on a part (``partMetadata``, ``videoMetadata``, ``mediaResolution``, ...) is kept in
the core part's extensions under its wire name.

Building (core -> wire) for other protocols' parts: images/documents with data (or a ``data:``
URL) -> ``inlineData`` (a missing media type is sniffed from the first bytes), other URLs ->
``fileData`` (media type guessed from the file name); plain-text documents -> ``text/plain``
inline data; provider ``file_id`` -> TranslationError (not portable). Image ``detail`` and
document ``filename`` / ``title`` have no Gemini field and are not sent. Empty text parts are
left out (Gemini rejects them).
"""

from __future__ import annotations

import base64
import mimetypes
from typing import Any
from urllib.parse import urlsplit

import orjson

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
from ...core.util import split_data_url
from .wire import NAME, as_object, is_minted, public

DATA_KEYS = frozenset(
    {"text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode", "codeExecutionResult"}
)

# First bytes of common formats, base64-encoded, for inline data that came without a media type.
_MAGIC = (
    ("iVBORw0KGgo", "image/png"),
    ("/9j/", "image/jpeg"),
    ("R0lGOD", "image/gif"),
    ("UklGR", "image/webp"),
    ("JVBERi0", "application/pdf"),
)


# --- wire -> core ---------------------------------------------------------------------------


def parse_part(raw: Any, where: str, model_side: bool, native_only: list[str] | None = None) -> Part:
    """One Gemini part -> one core part (function-call ids left "" when absent).

    ``native_only``: where to record the path of parts only Gemini can carry (requests).
    """
    p = as_object(raw, where)
    sig = p.get("thoughtSignature")
    if sig is not None and not isinstance(sig, str):
        raise RequestError(f"field '{where}.thoughtSignature' must be a string", param=f"{where}.thoughtSignature")
    if "text" in p:
        return _parse_text(p, where, model_side, sig)
    if "functionCall" in p:
        return _parse_function_call(p, where, sig)
    if "functionResponse" in p:
        part = parse_function_response(p["functionResponse"], f"{where}.functionResponse")
        extra = {k: v for k, v in p.items() if k != "functionResponse"}
        if extra:
            part.extensions["_part_extra"] = extra
        return part
    if "inlineData" in p:
        return _parse_blob(p, where)
    if "fileData" in p:
        part = _parse_file(p, where)
        if native_only is not None and part.url is not None and gemini_only_uri(part.url):
            native_only.append(f"{where}.fileData.fileUri")
        return part
    if sig is not None and model_side and not DATA_KEYS.intersection(p):
        ext = {k: v for k, v in p.items() if k != "thoughtSignature"}
        ext["_signature_only"] = True
        return ReasoningPart(signature=sig, signature_source=NAME, extensions=ext)
    return TextPart("", extensions={"_raw_part": p})


def _parse_text(p: dict[str, Any], where: str, model_side: bool, sig: str | None) -> Part:
    text = p["text"]
    if not isinstance(text, str):
        raise RequestError(f"field '{where}.text' must be a string", param=f"{where}.text")
    if model_side and p.get("thought") is True:
        ext = {k: v for k, v in p.items() if k not in ("text", "thought", "thoughtSignature")}
        return ReasoningPart(text, signature=sig, signature_source=NAME if sig else None, extensions=ext)
    if model_side and sig and not text and "thought" not in p:
        ext = {k: v for k, v in p.items() if k != "thoughtSignature"}
        ext["_signature_only"] = True
        return ReasoningPart(signature=sig, signature_source=NAME, extensions=ext)
    return TextPart(text, extensions={k: v for k, v in p.items() if k != "text"})


def _parse_function_call(p: dict[str, Any], where: str, sig: str | None) -> ToolCallPart:
    fc = as_object(p["functionCall"], f"{where}.functionCall")
    name = fc.get("name")
    if not isinstance(name, str) or not name:
        raise RequestError(f"missing required field '{where}.functionCall.name'", param=f"{where}.functionCall.name")
    args = fc.get("args")
    if args is not None and not isinstance(args, dict):
        raise RequestError(f"field '{where}.functionCall.args' must be an object", param=f"{where}.functionCall.args")
    call_id = fc.get("id")
    if call_id is not None and not isinstance(call_id, str):
        raise RequestError(f"field '{where}.functionCall.id' must be a string", param=f"{where}.functionCall.id")
    ext = {k: v for k, v in p.items() if k not in ("functionCall", "thoughtSignature")}
    extra = {k: v for k, v in fc.items() if k not in ("id", "name", "args")}
    if extra:
        ext["_call_extra"] = extra
    if args is None:
        ext["_no_args"] = True
    return ToolCallPart(
        call_id or "",
        name,
        arguments_text(args),
        signature=sig,
        signature_source=NAME if sig else None,
        extensions=ext,
    )


def parse_function_response(raw: Any, where: str) -> ToolResultPart:
    """``functionResponse`` -> ToolResultPart (``tool_call_id`` "" when the wire has no id).

    The ``response`` object becomes text: ``{"result": s}`` / ``{"output": s}`` with a string ``s``
    -> ``s``; ``{"error": x}`` -> ``x`` (as text) with ``is_error``; any other object -> its JSON
    text. The original object is kept in ``extensions["response"]`` for a lossless same-protocol
    build; ``parts`` (inline media) also become core parts.
    """
    fr = as_object(raw, where)
    name = fr.get("name")
    if not isinstance(name, str) or not name:
        raise RequestError(f"missing required field '{where}.name'", param=f"{where}.name")
    call_id = fr.get("id")
    if call_id is not None and not isinstance(call_id, str):
        raise RequestError(f"field '{where}.id' must be a string", param=f"{where}.id")
    response = fr.get("response")
    if response is not None and not isinstance(response, dict):
        raise RequestError(f"field '{where}.response' must be an object", param=f"{where}.response")
    content, is_error = result_content(response)
    extra_parts = fr.get("parts") or []
    if not isinstance(extra_parts, list):
        raise RequestError(f"field '{where}.parts' must be an array", param=f"{where}.parts")
    for i, raw_part in enumerate(extra_parts):
        item = as_object(raw_part, f"{where}.parts[{i}]")
        if "inlineData" in item:
            content.append(_parse_blob(item, f"{where}.parts[{i}]"))
    ext = {k: v for k, v in fr.items() if k not in ("id", "name")}
    return ToolResultPart(call_id or "", content, is_error=is_error, name=name, extensions=ext)


def result_content(response: dict[str, Any] | None) -> tuple[list[Part], bool]:
    """A functionResponse ``response`` object -> (text parts, is_error)."""
    if not response:
        return [], False
    if len(response) == 1:
        ((key, value),) = response.items()
        if key == "error":
            text = value if isinstance(value, str) else orjson.dumps(value).decode()
            return ([TextPart(text)] if text else []), True
        if key in ("result", "output") and isinstance(value, str):
            return ([TextPart(value)] if value else []), False
    return [TextPart(orjson.dumps(response).decode())], False


def _parse_blob(p: dict[str, Any], where: str) -> Part:
    blob = as_object(p["inlineData"], f"{where}.inlineData")
    data = blob.get("data")
    mime = blob.get("mimeType")
    if not isinstance(data, str):
        raise RequestError(f"missing required field '{where}.inlineData.data'", param=f"{where}.inlineData.data")
    if mime is not None and not isinstance(mime, str):
        raise RequestError(
            f"field '{where}.inlineData.mimeType' must be a string", param=f"{where}.inlineData.mimeType"
        )
    ext = {k: v for k, v in p.items() if k != "inlineData"}
    extra = {k: v for k, v in blob.items() if k not in ("data", "mimeType")}
    if extra:
        ext["_blob_extra"] = extra
    if mime and mime.startswith("image/"):
        return ImagePart(data=data, media_type=mime, extensions=ext)
    return DocumentPart(data=data, media_type=mime, extensions=ext)


def gemini_only_uri(uri: str) -> bool:
    """A ``fileUri`` no other provider can fetch: a Gemini Files API file
    (``https://generativelanguage.googleapis.com/v1beta/files/<id>``, or its bare ``files/<id>``
    name) or a Cloud Storage object (``gs://``). Public HTTPS URLs are not: every protocol takes them."""
    if uri.startswith(("gs://", "files/")):
        return True
    parts = urlsplit(uri)
    return parts.hostname == "generativelanguage.googleapis.com" and "/files/" in parts.path


def _parse_file(p: dict[str, Any], where: str) -> Part:
    file = as_object(p["fileData"], f"{where}.fileData")
    uri = file.get("fileUri")
    mime = file.get("mimeType")
    if not isinstance(uri, str):
        raise RequestError(f"missing required field '{where}.fileData.fileUri'", param=f"{where}.fileData.fileUri")
    if mime is not None and not isinstance(mime, str):
        raise RequestError(f"field '{where}.fileData.mimeType' must be a string", param=f"{where}.fileData.mimeType")
    ext = {k: v for k, v in p.items() if k != "fileData"}
    extra = {k: v for k, v in file.items() if k not in ("fileUri", "mimeType")}
    if extra:
        ext["_blob_extra"] = extra
    if mime and mime.startswith("image/"):
        return ImagePart(url=uri, media_type=mime, extensions=ext)
    return DocumentPart(url=uri, media_type=mime, extensions=ext)


# --- core -> wire ---------------------------------------------------------------------------


def build_part(
    part: Part, same: bool, where: str, *, include_thoughts: bool = True, strict_args: bool = True
) -> dict[str, Any] | None:
    """One core part -> one Gemini part; None when the part is not replayable to Gemini.

    ``same``: the part came from a Gemini body, so its extensions apply. ``include_thoughts``:
    emit visible thought text (responses: only when the client asked for it). ``strict_args``:
    invalid tool-call arguments raise (requests) instead of becoming ``{}`` (responses).
    """
    ext = part.extensions if same else {}
    if isinstance(part, TextPart):
        if "_raw_part" in ext:
            return ext["_raw_part"]
        if not part.text and not same:
            return None  # Gemini rejects empty text parts (e.g. OpenAI's content "" beside tool calls)
        return {"text": part.text, **public(ext)}
    if isinstance(part, ReasoningPart):
        return _build_reasoning(part, ext, include_thoughts or same)
    if isinstance(part, ToolCallPart):
        return _build_function_call(part, ext, where, strict_args)
    if isinstance(part, ImagePart | DocumentPart):
        return {**_media(part, where, ext, guess=not same), **public(ext)}
    raise TranslationError(where, NAME, f"a {part.kind} part cannot stand here")


def _build_reasoning(part: ReasoningPart, ext: dict[str, Any], include_text: bool) -> dict[str, Any] | None:
    sig = part.signature if part.signature_source == NAME else None
    if ext.get("_signature_only") or not include_text or not part.text:
        return {**public(ext), "thoughtSignature": sig} if sig else None
    out: dict[str, Any] = {"text": part.text, "thought": True}
    if sig:
        out["thoughtSignature"] = sig
    return {**out, **public(ext)}


def _build_function_call(part: ToolCallPart, ext: dict[str, Any], where: str, strict: bool) -> dict[str, Any]:
    try:
        args = arguments_object(part.arguments)
    except ValueError:
        if strict:
            raise TranslationError(f"{where}.arguments", NAME, "tool-call arguments are not a JSON object") from None
        args = {}
    fc: dict[str, Any] = {"name": part.name}
    if args or not ext.get("_no_args"):
        fc["args"] = args
    if part.id and not is_minted(part.id):
        fc["id"] = part.id
    fc.update(ext.get("_call_extra") or {})
    out: dict[str, Any] = {"functionCall": fc}
    if part.signature and part.signature_source == NAME:
        out["thoughtSignature"] = part.signature
    out.update(public(ext))
    return out


def build_function_response(part: ToolResultPart, name: str, same: bool, where: str) -> dict[str, Any]:
    """A ToolResultPart -> ``{"functionResponse": {...}}`` (``response`` = ``{"result"|"error": text}``)."""
    ext = part.extensions if same else {}
    fr: dict[str, Any] = {"name": name}
    if part.tool_call_id and not is_minted(part.tool_call_id):
        fr["id"] = part.tool_call_id
    if "response" in ext:
        fr.update(public(ext))
    else:
        texts: list[str] = []
        media: list[dict[str, Any]] = []
        for i, item in enumerate(part.content):
            if isinstance(item, TextPart):
                texts.append(item.text)
            elif isinstance(item, ImagePart | DocumentPart):
                media.append(_media(item, f"{where}.content[{i}]", {}, inline_only=True))
            else:
                raise TranslationError(
                    f"{where}.content[{i}]", NAME, f"a {item.kind} part cannot stand in a function response"
                )
        text = "\n".join(texts)
        fr["response"] = {"error": text} if part.is_error else {"result": text}
        if media:
            fr["parts"] = media
    return {"functionResponse": fr, **(ext.get("_part_extra") or {})}


def _media(
    part: ImagePart | DocumentPart, where: str, ext: dict[str, Any], *, guess: bool = True, inline_only: bool = False
) -> dict[str, Any]:
    """inlineData / fileData for an image or document."""
    extra = ext.get("_blob_extra") or {}
    data = part.data
    mime = part.media_type
    url = part.url
    if data is None and url is not None:
        split = split_data_url(url)
        if split is not None:
            mime, data = mime or split[0], split[1]
    if data is None and isinstance(part, DocumentPart) and part.text is not None:
        data, mime = base64.b64encode(part.text.encode()).decode(), mime or "text/plain"
    if data is not None:
        if mime is None and guess:
            mime = _sniff(data)
            if mime is None:
                raise TranslationError(f"{where}.media_type", NAME, "inline data needs a media type")
        blob = {"mimeType": mime, "data": data} if mime else {"data": data}
        return {"inlineData": {**blob, **extra}}
    if isinstance(part, DocumentPart) and part.file_id is not None:
        raise TranslationError(f"{where}.file_id", NAME, "provider file ids are not portable")
    if url is None or inline_only:
        raise TranslationError(where, NAME, "this media part has no inline data")
    file: dict[str, Any] = {"fileUri": url}
    if mime is None and guess:
        mime = mimetypes.guess_type(url)[0]
    if mime:
        file = {"mimeType": mime, **file}
    return {"fileData": {**file, **extra}}


def _sniff(data: str) -> str | None:
    for prefix, mime in _MAGIC:
        if data.startswith(prefix):
            return mime
    return None
