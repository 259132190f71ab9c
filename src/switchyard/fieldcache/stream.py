"""Recording from a stream: fold the core events into a Response, save at the end.

``feed`` is cheap: with no rule for the protocol (or no complete scope) it returns at once;
otherwise it appends deltas to per-part buffers (and evaluates the few ``source: stream`` rules
on the event). ``finish`` builds the Response and records it exactly as
:meth:`FieldCache.record_response` would, so one ``source: response`` rule serves streamed and
non-streamed answers alike. Nothing is saved when the stream failed (StreamError) or ended
without MessageStop.

The fold mirrors the codecs' ``parse_response``: a signature on a tool call or reasoning part
sets its ``signature`` / ``signature_source``; a signature riding on a text part (only Gemini
does that) goes to ``extensions["thoughtSignature"]``, where the Gemini codec's
``parse_response`` keeps it, under ``_signature`` for any other source. Events are never mutated.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..core.events import (
    MessageDelta,
    MessageStart,
    MessageStop,
    PartStart,
    ReasoningDelta,
    SignatureDelta,
    StreamError,
    TextDelta,
    ToolArgsDelta,
)
from ..core.model import Part, ReasoningPart, Response, TextPart, ToolCallPart, Usage
from .keys import Scope
from .rules import extract

if TYPE_CHECKING:
    from .cache import FieldCache

TEXT_SIGNATURE_KEYS = {"gemini": "thoughtSignature"}
"""Where a text part's signature goes, by source (as that protocol's parse_response puts it)."""


class _Acc:
    __slots__ = ("chunks", "part")

    def __init__(self, part: Part) -> None:
        self.part = part
        self.chunks: list[str] = []


class StreamRecorder:
    """Collects one upstream stream for the field cache (made by ``FieldCache.stream_recorder``)."""

    def __init__(self, cache: FieldCache, protocol: str, scope: Scope) -> None:
        self._cache = cache
        self._protocol = protocol
        self._scope = scope
        rules = [r for r in cache.rules.get(protocol, ()) if scope.values(r.scope) is not None]
        self._rules = [r for r in rules if r.extract.source in ("response", "stream")]
        self._event_rules = [r for r in rules if r.extract.source == "stream"]
        self._hits: dict[str, list[tuple[Any, str | None]]] = {r.name: [] for r in self._event_rules}
        self.active = bool(self._rules)
        self._parts: dict[int, _Acc] = {}
        self._id = ""
        self._model = ""
        self._created: int | None = None
        self._stop_reason: str | None = None
        self._stop_sequence: str | None = None
        self._usage: Usage | None = None
        self._failed = False
        self._stopped = False

    def feed(self, event: Any) -> None:
        """Take one core event of the upstream stream (in order)."""
        if not self.active or self._failed:
            return
        if isinstance(event, TextDelta | ReasoningDelta | ToolArgsDelta):
            acc = self._parts.get(event.index)
            if acc is not None:
                acc.chunks.append(event.json if isinstance(event, ToolArgsDelta) else event.text)
        elif isinstance(event, PartStart):
            self._parts[event.index] = _Acc(replace(event.part, extensions=dict(event.part.extensions)))
        elif isinstance(event, SignatureDelta):
            self._signature(event)
        elif isinstance(event, MessageStart):
            self._id, self._model, self._created = event.id, event.model, event.created
            self._usage = event.usage or self._usage
        elif isinstance(event, MessageDelta):
            self._stop_reason = event.stop_reason or self._stop_reason
            self._stop_sequence = event.stop_sequence or self._stop_sequence
            self._usage = event.usage or self._usage
        elif isinstance(event, MessageStop):
            self._stopped = True
        elif isinstance(event, StreamError):
            self._failed = True
            return
        for rule in self._event_rules:
            for value, _ in extract(rule, [event], self._protocol):
                acc = self._parts.get(getattr(event, "index", -1))
                own = acc.part.id if acc is not None and isinstance(acc.part, ToolCallPart) else None
                self._hits[rule.name].append((value, own))

    def _signature(self, event: SignatureDelta) -> None:
        acc = self._parts.get(event.index)
        if acc is None:
            return
        part = acc.part
        if isinstance(part, ToolCallPart | ReasoningPart):
            same = part.signature_source == event.source
            part.signature = (part.signature or "") + event.signature if same else event.signature
            part.signature_source = event.source
        elif isinstance(part, TextPart):
            key = TEXT_SIGNATURE_KEYS.get(event.source, "_signature")
            part.extensions[key] = part.extensions.get(key, "") + event.signature

    def response(self) -> Response:
        """The Response the events so far describe."""
        content: list[Part] = []
        for index in sorted(self._parts):
            acc = self._parts[index]
            part, joined = acc.part, "".join(acc.chunks)
            if isinstance(part, ToolCallPart):
                part = replace(part, arguments=joined or part.arguments)
            elif isinstance(part, TextPart | ReasoningPart):
                part = replace(part, text=part.text + joined)
            content.append(part)
        return Response(
            id=self._id,
            model=self._model,
            content=content,
            stop_reason=self._stop_reason,
            stop_sequence=self._stop_sequence,
            usage=self._usage,
            created=self._created,
            protocol=self._protocol,
        )

    async def finish(self) -> None:
        """Save what the stream gave (nothing after a StreamError or without MessageStop)."""
        if not self.active or self._failed or not self._stopped:
            return
        self.active = False
        await self._cache._record(self._rules, self.response(), self._protocol, self._scope, self._hits)
