"""Message content parts and tool-output content <-> core parts.

Parts: ``input_text`` / ``output_text`` -> TextPart (``annotations``, ``logprobs`` and any other
field kept in extensions; the wire type is remembered in ``_type`` when it is not the default for
the role: ``output_text`` for assistant messages, ``input_text`` otherwise); ``refusal`` ->
TextPart with ``extensions["refusal"] = True`` (the shared convention for refusals);
``input_image`` -> ImagePart (a base64 data URL becomes ``data`` + ``media_type``; a provider
``file_id`` is native_only, no other protocol can resolve it); ``input_file`` -> DocumentPart
(``file_data`` data URL, ``file_url``, ``file_id``, ``filename``). Unknown part types are kept
verbatim for Responses (``_raw``) and are native_only.

Tool output (``function_call_output.output``) is a string or a list of the same input parts; a
string becomes one TextPart (``_string`` hint on the result). Built for Responses from other
protocols: one text part -> a string, anything else -> a list of input parts.
"""

from __future__ import annotations

from typing import Any

from ...core.errors import RequestError, TranslationError
from ...core.model import DocumentPart, ImagePart, Part, TextPart
from ...core.util import data_url, split_data_url
from .wire import NAME, as_dict, public, rest, string

_TEXT_TYPES = ("input_text", "output_text")


def default_text_type(role: str) -> str:
    return "output_text" if role == "assistant" else "input_text"


def parse_content(raw: Any, role: str, where: str, native: list[str]) -> tuple[list[Part], bool]:
    """Message ``content`` (string or parts) -> (parts, was a string)."""
    if isinstance(raw, str):
        return [TextPart(raw)], True
    if not isinstance(raw, list):
        raise RequestError(f"field '{where}' must be a string or an array", param=where)
    return [parse_part(p, role, f"{where}[{i}]", native) for i, p in enumerate(raw)], False


def parse_part(raw: Any, role: str, where: str, native: list[str]) -> Part:
    p = as_dict(raw, where)
    kind = string(p, "type", where)
    if kind in _TEXT_TYPES:
        text = string(p, "text", where) or ""
        ext = rest(p, ("type", "text"))
        if kind != default_text_type(role):
            ext["_type"] = kind
        return TextPart(text, ext)
    if kind == "refusal":
        return TextPart(string(p, "refusal", where) or "", {"refusal": True, **rest(p, ("type", "refusal"))})
    if kind == "input_image":
        return _parse_image(p, where, native)
    if kind == "input_file":
        return _parse_file(p, where)
    native.append(where)
    return TextPart("", {"_raw": p})


def _parse_image(p: dict[str, Any], where: str, native: list[str]) -> ImagePart:
    url = string(p, "image_url", where, required=False)
    file_id = string(p, "file_id", where, required=False)
    if url is None and file_id is None:
        raise RequestError(f"'{where}' needs 'image_url' or 'file_id'", param=f"{where}.image_url")
    ext = rest(p, ("type", "image_url", "detail"))
    if file_id is not None:
        native.append(f"{where}.file_id")
    detail = p.get("detail")
    if detail is not None and not isinstance(detail, str):
        raise RequestError(f"field '{where}.detail' must be a string", param=f"{where}.detail")
    split = split_data_url(url) if url else None
    if split:
        return ImagePart(data=split[1], media_type=split[0], detail=detail, extensions=ext)
    return ImagePart(url=url, detail=detail, extensions=ext)


def _parse_file(p: dict[str, Any], where: str) -> DocumentPart:
    file_data = string(p, "file_data", where, required=False)
    file_url = string(p, "file_url", where, required=False)
    file_id = string(p, "file_id", where, required=False)
    if file_data is None and file_url is None and file_id is None:
        raise RequestError(f"'{where}' needs 'file_data', 'file_url' or 'file_id'", param=f"{where}.file_data")
    ext = rest(p, ("type", "file_data", "file_url", "file_id", "filename"))
    doc = DocumentPart(url=file_url, file_id=file_id, filename=string(p, "filename", where, required=False))
    if file_data is not None:
        split = split_data_url(file_data)
        if split:
            doc.media_type, doc.data = split
        else:
            doc.data = file_data
            ext["_raw_data"] = True
    doc.extensions = ext
    return doc


def parse_output(raw: Any, where: str, native: list[str]) -> tuple[list[Part], bool]:
    """A tool output (string or list of input parts) -> (parts, was a string)."""
    if isinstance(raw, str):
        return [TextPart(raw)], True
    if not isinstance(raw, list):
        raise RequestError(f"field '{where}' must be a string or an array", param=where)
    return [parse_part(p, "tool", f"{where}[{i}]", native) for i, p in enumerate(raw)], False


# --- core -> wire ---------------------------------------------------------------------------


def build_content(parts: list[Part], role: str, same: bool, where: str, start: int = 0) -> list[dict[str, Any]]:
    """Content parts; error paths index from ``start`` (the parts' position in their message)."""
    return [build_part(p, role, same, f"{where}[{start + i}]") for i, p in enumerate(parts)]


def build_part(part: Part, role: str, same: bool, where: str) -> dict[str, Any]:
    """One content part for a message of ``role`` (or a tool output when role is ``tool``)."""
    ext = part.extensions if same else {}
    if "_raw" in ext:
        return ext["_raw"]
    if isinstance(part, TextPart):
        if role == "assistant" and part.extensions.get("refusal") is True:
            return {"type": "refusal", "refusal": part.text, **{k: v for k, v in public(ext).items() if k != "refusal"}}
        kind = ext.get("_type") or default_text_type(role)
        out: dict[str, Any] = {"type": kind, "text": part.text}
        if kind == "output_text" and not same:
            out["annotations"] = []
        out.update(public(ext))
        return out
    if role == "assistant":
        raise TranslationError(where, NAME, f"assistant messages carry text only, not {part.kind} parts")
    if isinstance(part, ImagePart):
        return _build_image(part, ext, same, where)
    if isinstance(part, DocumentPart):
        return _build_file(part, ext, same, where)
    raise TranslationError(where, NAME, f"a {part.kind} part cannot stand in message content")


def _build_image(part: ImagePart, ext: dict[str, Any], same: bool, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "input_image"}
    if part.data is not None:
        out["image_url"] = data_url(part.media_type, part.data)
    elif part.url is not None:
        out["image_url"] = part.url
    elif "file_id" not in ext:
        raise TranslationError(where, NAME, "the image has neither a URL nor data")
    if part.detail is not None or not same:
        out["detail"] = part.detail or "auto"
    out.update(public(ext))
    return out


def _build_file(part: DocumentPart, ext: dict[str, Any], same: bool, where: str) -> dict[str, Any]:
    if part.text is not None and part.data is None and part.url is None and part.file_id is None:
        text = f"{part.title}\n\n{part.text}" if part.title and not same else part.text
        return {"type": "input_text", "text": text}
    if part.file_id is not None and not same:
        raise TranslationError(f"{where}.file_id", NAME, "provider file ids are not portable between providers")
    out: dict[str, Any] = {"type": "input_file"}
    if part.file_id is not None:
        out["file_id"] = part.file_id
    if part.url is not None:
        out["file_url"] = part.url
    if part.data is not None:
        out["file_data"] = part.data if ext.get("_raw_data") else data_url(part.media_type, part.data)
    if part.filename is not None:
        out["filename"] = part.filename
    elif part.data is not None and not same:
        out["filename"] = "document.pdf" if part.media_type == "application/pdf" else "document"
    out.update(public(ext))
    return out


def build_output(parts: list[Part], same: bool, was_string: bool, where: str, prefix: str = "") -> str | list[Any]:
    """A tool output: a string when it is (or was) one text, else a list of input parts."""
    texts = [p for p in parts if isinstance(p, TextPart) and "_raw" not in (p.extensions if same else {})]
    if (was_string or not same) and len(texts) == len(parts) and len(parts) <= 1:
        return prefix + (texts[0].text if texts else "")
    out = build_content(parts, "tool", same, where)
    if prefix:
        out.insert(0, {"type": "input_text", "text": prefix.rstrip()})
    return out
