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
import logging
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
    # already redacted, or a masked key id (``key=…1a2b``, see providers.mask_key): kept
    return m.group(0) if value.startswith((REDACTED[:-1], "…")) else m.group(1) + REDACTED


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


# ---------------------------------------------------------------------------- what reaches clients and logs

RELAY_MIN_SECRET_LENGTH = 12
"""Known secrets shorter than this are not masked in relayed *content* (a local server's dummy key
such as ``ollama`` must not blank out answers about Ollama); error texts mask them from 6."""


class SecretMask:
    """Masks the gateway's configured upstream credentials in what goes to clients and logs.

    - :meth:`error`: a GatewayError's texts (message, code, param, details) with the configured
      credentials *and* anything key-like (``sk-...``, ``Bearer ...``, ``x-api-key: ...``) masked:
      upstreams repeat the key in their error text ("Incorrect API key provided: sk-...").
    - :meth:`text`: the same for any text (an error frame relayed as is, a log line).
    - :meth:`content`: only the configured credentials, exactly (model output may legitimately
      contain key-shaped strings; it never legitimately contains the gateway's own keys).
    - :meth:`stream`: a :class:`StreamMask` for bytes relayed chunk by chunk.
    """

    __slots__ = ("_any", "_bytes", "_first", "_relay", "secrets")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = tuple(sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True))
        self._relay = tuple(s.encode() for s in self.secrets if len(s) >= RELAY_MIN_SECRET_LENGTH)
        self._first = frozenset(b[0] for b in self._relay)
        self._bytes = frozenset(c for b in self._relay for c in b[:-1])  # what a proper prefix can end with
        self._any = re.compile(b"|".join(map(re.escape, self._relay))) if len(self._relay) > 2 else None
        """Several credentials: one search for a short chunk (for a long body, one ``in`` per key is faster)."""

    def text(self, text: str) -> str:
        return redact_text(text, self.secrets)

    def error(self, err: Any) -> Any:
        """A copy of GatewayError ``err`` with its texts masked (``err`` itself when nothing changes)."""
        message = self.text(err.message)
        code = self.text(err.code) if isinstance(err.code, str) else err.code
        param = self.text(err.param) if isinstance(err.param, str) else err.param
        details = _redact(err.details, self.secrets, False) if err.details is not None else None
        if message == err.message and code == err.code and param == err.param and details == err.details:
            return err
        masked = type(err).__new__(type(err))  # a copy without re-running a subclass's __init__
        masked.__dict__.update(err.__dict__)
        masked.message, masked.code, masked.param, masked.details = message, code, param, details
        masked.args = (message,)
        return masked

    def content(self, data: bytes) -> bytes:
        if self._any is not None and len(data) <= 4096:
            return data if self._any.search(data) is None else self._any.sub(REDACTED.encode(), data)
        for secret in self._relay:
            if secret in data:
                data = data.replace(secret, REDACTED.encode())
        return data

    def error_bytes(self, data: bytes) -> bytes:
        """Relayed bytes that carry an error: everything key-like masked (the bytes are kept as
        they are elsewhere, a split UTF-8 sequence included)."""
        text = data.decode("utf-8", "surrogateescape")
        masked = self.text(text)
        return data if masked == text else masked.encode("utf-8", "surrogateescape")

    def stream(self) -> StreamMask:
        return StreamMask(self)


class StreamMask:
    """:meth:`SecretMask.content` over a byte stream cut anywhere: the end of a chunk that could
    be the start of a credential is held back until the next chunk shows whether it is one (SSE
    chunks end with a newline, which no credential starts with, so in practice nothing waits)."""

    __slots__ = ("_mask", "_pending")

    def __init__(self, mask: SecretMask) -> None:
        self._mask = mask
        self._pending = b""

    def feed(self, chunk: bytes, error: bool = False) -> bytes:
        mask = self._mask
        if not mask._relay and not error:
            return chunk
        data = self._pending + chunk if self._pending else chunk
        data = mask.error_bytes(data) if error else mask.content(data)
        hold = self._held(data)
        self._pending = data[len(data) - hold :] if hold else b""
        return data[: len(data) - hold] if hold else data

    def flush(self) -> bytes:
        out, self._pending = self._pending, b""
        return out

    def _held(self, data: bytes) -> int:
        """How many trailing bytes of ``data`` are a proper prefix of a credential."""
        mask = self._mask
        if not data or data[-1] not in mask._bytes:  # an SSE chunk ends with a newline: nothing held
            return 0
        longest = 0
        for secret in mask._relay:
            start = max(0, len(data) - len(secret) + 1)
            pos = data.find(secret[:1], start)
            while pos != -1:
                if secret.startswith(data[pos:]):
                    longest = max(longest, len(data) - pos)
                    break
                pos = data.find(secret[:1], pos + 1)
        return longest


class LogMask(logging.Filter):
    """A logging filter that masks secrets (configured and key-like) in a record's text and traceback."""

    def __init__(self) -> None:
        super().__init__()
        self.mask = SecretMask()

    def add(self, secrets: Iterable[str]) -> None:
        self.mask = SecretMask({*self.mask.secrets, *secrets})

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it to the handler to report
            return True
        masked = self.mask.text(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask.text(record.exc_text)
        return True


LOG_MASK = LogMask()


def mask_logs(secrets: Iterable[str]) -> None:
    """Mask ``secrets`` (and anything key-like) in every ``switchyard`` logger's records."""
    LOG_MASK.add(secrets)
    names = ["switchyard", *(n for n in logging.root.manager.loggerDict if n.startswith("switchyard."))]
    for name in names:
        logger = logging.getLogger(name)
        if LOG_MASK not in logger.filters:
            logger.addFilter(LOG_MASK)
