"""Recursive redaction of secrets in anything a trace or a log might hold.

What is removed:

- values of mapping keys named like secrets (``authorization``, ``x-api-key``, ``api_key``,
  ``cookie``, ``token``, ``secret``, ``password``, ... in any case, ``-`` or ``_``); token
  *counts* such as ``max_tokens`` or ``input_tokens`` are not secrets and are kept;
- under a ``headers`` key (or in :func:`redact_headers`), every header whose name contains
  key, token, secret, auth, cookie, password, session or signature;
- inside any string: provider keys (``sk-...``, ``sk-ant-...``, ``AIza...``, ``gsk_...``,
  ``xai-...``, ``hf_...``, GitHub and AWS key ids, JWTs), ``Bearer``/``Basic`` credentials,
  ``key=...``-style query parameters and ``"api_key": "..."``-style fragments;
- every exact occurrence of a known secret passed in ``secrets`` (the configured API keys).

The result is a new structure; the input is never modified. Bytes become text.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 6
"""Known secrets shorter than this are ignored: replacing a 3-letter string would shred text."""

_SECRET_KEY = re.compile(
    r"(?:^|_)(?:authorization|proxy_authorization|cookie|set_cookie|api_?key|x_api_key|x_goog_api_key|"
    r"access_key|secret_key|private_key|client_secret|secret|password|passwd|token|access_token|"
    r"refresh_token|id_token|auth_token|session_token|credentials?)$"
)
_SECRET_HEADER = re.compile(r"key|token|secret|auth|cookie|passw|session|signature|credential")

_VALUE_PATTERNS = [
    r"(?<![A-Za-z0-9])sk-ant-[A-Za-z0-9_\-]{8,}",
    r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_\-]{12,}",
    r"(?<![A-Za-z0-9])AIza[0-9A-Za-z_\-]{20,}",
    r"(?<![A-Za-z0-9])gsk_[A-Za-z0-9]{20,}",
    r"(?<![A-Za-z0-9])xai-[A-Za-z0-9]{20,}",
    r"(?<![A-Za-z0-9])hf_[A-Za-z0-9]{20,}",
    r"(?<![A-Za-z0-9])gh[pousr]_[A-Za-z0-9]{20,}",
    r"(?<![A-Za-z0-9])github_pat_[A-Za-z0-9_]{20,}",
    r"(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Z0-9])",
    r"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]+",
]
_VALUES = re.compile("|".join(f"(?:{p})" for p in _VALUE_PATTERNS))
_AUTH_SCHEME = re.compile(r"\b(?:([Bb]earer|BEARER)(\s+)[A-Za-z0-9._~+/=\-]{8,}|(Basic)(\s+)[A-Za-z0-9+/=]{8,})")
# "name": "value" and name=value for names that only ever label secrets (JSON or YAML inside
# text, env dumps, query strings); bare ``key`` and ``sig`` only as query parameters (key=...),
# so prose like "the key: ..." is left alone.
_LABELLED = re.compile(
    r"""(?<![A-Za-z0-9_\-])((?:x-goog-api-key|x-api-key|api[_-]?key|apikey|access[_-]?token|refresh[_-]?token|"""
    r"""id[_-]?token|auth[_-]?token|token|client[_-]?secret|secret|password|passwd)["']?\s*[:=]\s*["']?"""
    r"""|(?:key|sig)=)([^\s"'&,;}\]]+)""",
    re.IGNORECASE,
)


def secret_key(name: str) -> bool:
    """Whether a mapping key names a secret (``X-Api-Key``, ``client_secret``; not ``max_tokens``)."""
    return bool(_SECRET_KEY.search(name.lower().replace("-", "_")))


def secret_header(name: str) -> bool:
    """Whether a header is secret-bearing (a wider net than :func:`secret_key`)."""
    return bool(_SECRET_HEADER.search(name.lower()))


@lru_cache(maxsize=64)
def _known(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    usable = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, usable))) if usable else None


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with known secrets and key-like substrings replaced by ``[REDACTED]``."""
    known = _known(tuple(secrets))
    if known is not None:
        text = known.sub(REDACTED, text)
    text = _VALUES.sub(REDACTED, text)
    text = _AUTH_SCHEME.sub(_keep_scheme, text)
    return _LABELLED.sub(_keep_label, text)


def _keep_scheme(m: re.Match[str]) -> str:
    scheme, space = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    return f"{scheme}{space}{REDACTED}"


def _keep_label(m: re.Match[str]) -> str:
    value = m.group(2)
    return m.group(0) if value.startswith(REDACTED[:-1]) else m.group(1) + REDACTED


def redact(value: Any, secrets: Iterable[str] = ()) -> Any:
    """A redacted copy of ``value`` (dicts, lists, tuples, strings, bytes, dataclasses, scalars)."""
    return _redact(value, tuple(secrets), False)


def redact_headers(
    headers: Mapping[Any, Any] | Iterable[tuple[Any, Any]], secrets: Iterable[str] = ()
) -> dict[str, Any]:
    """Headers (a mapping or ASGI-style pairs, str or bytes) as a dict with secrets redacted."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, Any] = {}
    for name, value in pairs:
        key = _text(name)
        out[key] = _redact(value, tuple(secrets), True, key)
    return out


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _redact(value: Any, secrets: tuple[str, ...], in_headers: bool, name: str | None = None) -> Any:
    if name is not None and (secret_key(name) or (in_headers and secret_header(name))):
        return REDACTED if value is not None else None
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, bytes | bytearray | memoryview):
        return redact_text(_text(value), secrets)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            key = redact_text(_text(k), secrets) if isinstance(k, str | bytes) else k
            child_headers = in_headers or (isinstance(k, str | bytes) and _text(k).lower() == "headers")
            out[key] = _redact(v, secrets, child_headers, _text(k) if isinstance(k, str | bytes) else None)
        return out
    if isinstance(value, list | tuple):
        if in_headers and all(_is_pair(item) for item in value) and value:
            return [[_text(k), _redact(v, secrets, True, _text(k))] for k, v in value]
        return [_redact(item, secrets, in_headers) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _redact(dataclasses.asdict(value), secrets, in_headers)
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact_text(str(value), secrets)


def _is_pair(item: Any) -> bool:
    return isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[0], str | bytes)
