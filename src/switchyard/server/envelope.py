"""Gateway envelopes: provider state handed to a client in another protocol's carrier.

A client of one protocol talking to an upstream of another can keep the upstream's opaque state
only in its own protocol's carrier — a Responses reasoning item's ``encrypted_content``, an
Anthropic thinking block's ``signature``, a Gemini ``thoughtSignature``. Stateless clients (Codex
with ``store: false``) send it back on the next turn, possibly to another replica. The gateway
hands such values out sealed, and opens them when they come back:

- **Sealing** (answers, streamed or not; client protocol != upstream protocol): a reasoning part
  signed by the upstream gets the envelope as its signature, in the client's carrier. A tool
  call's signature (Gemini's ``thoughtSignature`` on a ``functionCall``) rides on the call itself
  for a Gemini client; for a Responses or Anthropic client, whose calls carry nothing, it rides
  on a reasoning part added right after the call, the envelope naming the call's id.
- **Opening** (requests to any upstream): an envelope that verifies and names the upstream's own
  family gives the upstream its value back, byte for byte, on the part it came from (or on the
  call it names). An envelope that does not verify, or that another family issued, is dropped:
  the part (or the call's signature) goes, and nothing of it is forwarded. Anthropic verifies a
  thinking block's text with its signature, so its envelopes also carry the thinking text, given
  back as it was whatever the client did with its copy (a Gemini client gets the text and the
  signature of a streamed thought in separate parts). Anthropic's redacted thinking, which no
  other protocol can show, travels the same way (an envelope with no text, marked redacted).

Wire form: standard base64 (a Gemini client decodes ``thoughtSignature`` as bytes, and may send
it back URL-safe or unpadded: both are accepted) of
``MAGIC (6 bytes: "SYenv" + version 1) | HMAC-SHA256(secret, MAGIC | payload)[:16] | payload``,
where payload is the JSON ``[family, value, call id or null, text or null, redacted]``;
``family`` is the issuing upstream protocol. The secret is per installation (``data_dir/envelope.key``, 32 random bytes,
created on first start; replicas that share state must share it). Every envelope starts with
:data:`PREFIX`, so a body that holds one is found with one substring search.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import orjson

from ..core.events import Event, PartStart, PartStop, ReasoningDelta, SignatureDelta
from ..core.model import Message, Part, ReasoningPart, Request, Response, ToolCallPart

log = logging.getLogger("switchyard.envelope")

MAGIC = b"SYenv\x01"
PREFIX = base64.b64encode(MAGIC).decode()
"""How every envelope starts (MAGIC is 6 bytes, so its base64 form is a fixed prefix)."""
MAC_BYTES = 16
SECRET_FILE = "envelope.key"

TEXT_BOUND = frozenset({"anthropic"})
"""Families whose signature covers the reasoning text (the envelope carries the text too)."""
STATEFUL = frozenset({"openai_responses", "anthropic", "gemini"})
"""Protocols with opaque reasoning state: upstreams of them issue it, clients of them carry it on a
reasoning part (OpenAI Chat does neither; nor does the mock)."""
CALL_CARRIERS = frozenset({"gemini"})
"""Client protocols that carry a signature on a tool call itself."""


@dataclass(frozen=True, slots=True)
class Opened:
    family: str
    value: str
    call: str | None = None
    """The id of the tool call the value belongs to (None: the part that carried it)."""
    text: str | None = None
    """The reasoning text the value signs (:data:`TEXT_BOUND` families)."""
    redacted: bool = False
    """The value is redacted reasoning data (Anthropic ``redacted_thinking``), not a signature."""


def load_secret(data_dir: Path) -> bytes:
    """The installation's secret from ``data_dir/envelope.key``, created on first use (by the
    first of several processes starting at once; the others read it). When the directory cannot
    be written: a secret for this process only (its envelopes do not outlive a restart: they are
    dropped then, as any that do not verify)."""
    path = Path(data_dir) / SECRET_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            _publish(path, os.link)  # fails when another process was first: its secret is used
        secret = path.read_bytes()
        if len(secret) < 32:  # a write cut short
            _publish(path, os.replace)
            secret = path.read_bytes()
        return secret
    except OSError as exc:
        log.warning("cannot keep the envelope secret in %s (%s); using one for this process only", path, exc)
        return secrets.token_bytes(32)


def _publish(path: Path, place: Callable[[Path, Path], None]) -> None:
    """Write a fresh secret to a temporary file, then give it ``path``'s name with ``place``."""
    tmp = path.with_name(f".{SECRET_FILE}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_bytes(32))
    try:
        place(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


class Envelopes:
    """Seals and opens envelopes with one installation secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the envelope secret is too short")
        self._secret = secret

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, MAGIC + payload, hashlib.sha256).digest()[:MAC_BYTES]

    def seal(
        self, family: str, value: str, call: str | None = None, text: str | None = None, redacted: bool = False
    ) -> str:
        payload = orjson.dumps([family, value, call, text, redacted])
        return base64.b64encode(MAGIC + self._mac(payload) + payload).decode()

    def open(self, text: str) -> Opened | None:
        """The sealed value; None for an envelope that does not verify (forged, damaged, or
        sealed under another secret)."""
        # the URL-safe alphabet, or padding left out, as clients re-encode bytes (google-genai does)
        standard = text.replace("-", "+").replace("_", "/")
        try:
            raw = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
        except (binascii.Error, ValueError):
            return None
        mac, payload = raw[len(MAGIC) : len(MAGIC) + MAC_BYTES], raw[len(MAGIC) + MAC_BYTES :]
        if not raw.startswith(MAGIC) or not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            family, value, call, text, redacted = orjson.loads(payload)
        except (orjson.JSONDecodeError, ValueError, TypeError):
            return None
        if not isinstance(family, str) or not isinstance(value, str):
            return None
        if not isinstance(call, str | None) or not isinstance(text, str | None) or not isinstance(redacted, bool):
            return None
        return Opened(family, value, call, text, redacted)

    # ------------------------------------------------------------------ answers

    def seal_response(self, resp: Response, client: str) -> Response:
        """``resp`` (from an upstream of another protocol) with its signatures sealed for ``client``."""
        upstream = resp.protocol
        if client == upstream or client not in STATEFUL or upstream not in STATEFUL:
            return resp
        content: list[Part] = []
        changed = False
        for part in resp.content:
            sealed = self._seal_part(part, upstream, client)
            content.extend(sealed)
            changed |= sealed != [part]
        return replace(resp, content=content) if changed else resp

    def _seal_part(self, part: Part, upstream: str, client: str) -> list[Part]:
        if not isinstance(part, ReasoningPart | ToolCallPart) or part.signature_source != upstream:
            return [part]
        if isinstance(part, ReasoningPart) and part.redacted is not None:
            return [ReasoningPart(signature=self.seal(upstream, part.redacted, redacted=True), signature_source=client)]
        if not part.signature:
            return [part]
        if isinstance(part, ReasoningPart):  # the upstream's wire extras are not the client's
            sealed = self.seal(upstream, part.signature, text=part.text if upstream in TEXT_BOUND else None)
            return [replace(part, signature=sealed, signature_source=client, extensions={})]
        if client in CALL_CARRIERS:
            return [replace(part, signature=self.seal(upstream, part.signature), signature_source=client)]
        carrier = ReasoningPart(signature=self.seal(upstream, part.signature, part.id), signature_source=client)
        return [replace(part, signature=None, signature_source=None), carrier]

    def sealer(self, client: str, upstream: str) -> Callable[[Event], list[Event]] | None:
        """A stream transform sealing ``upstream``'s signatures for ``client`` (None: nothing to do)."""
        if client == upstream or client not in STATEFUL or upstream not in STATEFUL:
            return None
        return StreamSealer(self, client, upstream).feed

    # ------------------------------------------------------------------ requests

    def open_request(self, req: Request, upstream: str) -> Request:
        """``req`` with every envelope opened for ``upstream`` (or dropped); ``req`` itself when it
        holds none. Never mutates ``req``."""
        if not any(_sealed(p) for m in req.messages for p in m.content):
            return req
        return replace(req, messages=[self._open_message(m, upstream) for m in req.messages])

    def _open_message(self, msg: Message, upstream: str) -> Message:
        if not any(_sealed(p) for p in msg.content):
            return msg
        content: list[Part] = []
        for_calls: dict[str, str] = {}
        for part in msg.content:
            if not _sealed(part):
                content.append(part)
                continue
            opened = self.open(part.signature)  # type: ignore[union-attr,arg-type]
            if opened is None or opened.family != upstream:
                log.info("an envelope that %s was dropped", "does not verify" if opened is None else "is foreign")
                if isinstance(part, ToolCallPart):
                    content.append(replace(part, signature=None, signature_source=None))
                continue
            if opened.call is not None:
                for_calls[opened.call] = opened.value
                continue
            if opened.redacted and isinstance(part, ReasoningPart):
                content.append(ReasoningPart(redacted=opened.value, signature_source=upstream))
                continue
            part = replace(part, signature=opened.value, signature_source=upstream)
            if opened.text is not None and isinstance(part, ReasoningPart):
                part = replace(part, text=opened.text)
            content.append(part)
        content = [
            replace(p, signature=for_calls[p.id], signature_source=upstream)
            if isinstance(p, ToolCallPart) and p.id in for_calls
            else p
            for p in content
        ]
        return replace(msg, content=content)


def _sealed(part: Part) -> bool:
    return (
        isinstance(part, ReasoningPart | ToolCallPart)
        and isinstance(part.signature, str)
        and part.signature.startswith(PREFIX)
    )


class StreamSealer:
    """The stream form of :meth:`Envelopes.seal_response`: signatures are held until their part
    stops, then sealed whole; a call's carrier part is added after the call, and the parts after
    it are renumbered."""

    def __init__(self, envelopes: Envelopes, client: str, upstream: str) -> None:
        self._env = envelopes
        self._client = client
        self._upstream = upstream
        self._parts: dict[int, Part] = {}
        self._held: dict[int, list[str]] = {}
        self._texts: dict[int, list[str]] = {}  # reasoning text of TEXT_BOUND families, by part
        self._redacted: set[int] = set()
        self._offset = 0

    def feed(self, event: Event) -> list[Event]:
        index = getattr(event, "index", None)
        if index is None:
            return [event]
        if isinstance(event, PartStart):
            part = event.part
            if isinstance(part, ReasoningPart | ToolCallPart):
                self._parts[index] = part
                if part.signature and part.signature_source == self._upstream:
                    self._held[index] = [part.signature]
                    part = replace(part, signature=None, signature_source=None)
                if (
                    isinstance(part, ReasoningPart)
                    and part.redacted is not None
                    and part.signature_source == self._upstream
                ):
                    self._held[index], self._redacted = [part.redacted], self._redacted | {index}
                    part = ReasoningPart()
                elif isinstance(part, ReasoningPart) and self._upstream in TEXT_BOUND:
                    self._texts[index] = [part.text]
            return [PartStart(index + self._offset, part)]
        if isinstance(event, ReasoningDelta) and index in self._texts:
            self._texts[index].append(event.text)
        if isinstance(event, SignatureDelta) and event.source == self._upstream and index in self._parts:
            self._held.setdefault(index, []).append(event.signature)
            return []
        if isinstance(event, PartStop):
            return self._stop(index)
        return [replace(event, index=index + self._offset) if self._offset else event]  # type: ignore[call-arg]

    def _stop(self, index: int) -> list[Event]:
        part, held, text = self._parts.pop(index, None), self._held.pop(index, None), self._texts.pop(index, None)
        at = index + self._offset
        if part is None or not held:
            return [PartStop(at)]
        value = "".join(held)
        if isinstance(part, ReasoningPart) or self._client in CALL_CARRIERS:
            joined = "".join(text) if text is not None else None
            sealed = self._env.seal(self._upstream, value, text=joined, redacted=index in self._redacted)
            self._redacted.discard(index)
            return [SignatureDelta(at, sealed, self._client), PartStop(at)]
        assert isinstance(part, ToolCallPart)
        self._offset += 1
        sealed = self._env.seal(self._upstream, value, part.id)
        return [PartStop(at), PartStart(at + 1, ReasoningPart()), SignatureDelta(at + 1, sealed, self._client),
                PartStop(at + 1)]  # fmt: skip
