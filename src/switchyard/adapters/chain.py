"""The adapter chain: a provider's ordered stages, the field cache among them.

Requests go through the stages in order; responses and stream events in reverse order (the
stage nearest the upstream sees its output first). The field cache is the stage named
``field_cache``: on requests it injects cached values (``FieldCache.inject``), on responses it
records them, on streams it feeds a recorder and saves at the end. Because of it
:meth:`AdapterChain.apply_request` and :meth:`apply_response` are coroutines; the other stages
are plain functions, and a stream's ``feed`` stays synchronous (only ``finish`` awaits).

Specs (per provider in config, else :data:`DEFAULT_CHAINS` of the provider protocol): a list of
names or mappings ``{"name": ..., <params>}``; ``enabled: false`` leaves a stage out. A chain
without a ``field_cache`` stage gets one at the end (turn it off with
``{"name": "field_cache", "enabled": false}``); it does nothing when the chain has no cache.
``unsupported`` (the provider's ``unsupported_params``) adds a last stage, ``unsupported_params``:
the ``drop_params`` adapter with those names, after everything else, so nothing a stage or the
field cache put in goes to an upstream that does not take it.

Trace: ``trace(stage, before, after)`` with the neutral JSON (:func:`~switchyard.fieldcache.to_json`)
of the object before and after each stage, for every stage of a request or response; for stream
events only when a stage changed something (``before``/``after`` are lists of events then).
Without a trace callable nothing is serialised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..core.events import Event
from ..core.model import Request, Response
from ..fieldcache import FieldCache, Scope, StreamRecorder, to_json
from .base import ADAPTERS, Adapter, AdapterError, EventTransform, Params

Trace = Callable[[str, Any, Any], None]
T = TypeVar("T", Request, Response)
FIELD_CACHE = "field_cache"
UNSUPPORTED = "unsupported_params"

DEFAULT_CHAINS: dict[str, list[Any]] = {
    "openai_chat": [FIELD_CACHE],
    "openai_responses": [FIELD_CACHE],
    "anthropic": ["drop_empty_text", FIELD_CACHE],
    "gemini": [FIELD_CACHE],
}
"""Default specs by provider protocol. Available on request for any provider:
``developer_to_system`` (servers without the developer role), ``max_tokens_clamp``,
``drop_params``, ``rename_field``, ``model_override``, ``reasoning_content_normalize``
(``<think>`` tags from OpenAI-compatible servers)."""


@dataclass(frozen=True, slots=True)
class Stage:
    """One configured stage: an adapter (None for the field cache) and its parameters."""

    label: str
    adapter: Adapter | None
    params: Params = field(default_factory=dict)


class AdapterChain:
    def __init__(self, stages: Sequence[Stage], *, protocol: str, field_cache: FieldCache | None = None) -> None:
        self.stages = tuple(stages)
        self.protocol = protocol
        self.field_cache = field_cache

    @classmethod
    def from_config(
        cls,
        specs: Sequence[Any] | None,
        *,
        protocol: str,
        field_cache: FieldCache | None = None,
        unsupported: Sequence[str] = (),
    ) -> AdapterChain:
        """Build a chain from specs (None: the protocol's default), with a last ``drop_params``
        stage for the ``unsupported`` parameters. Raises AdapterError naming the stage and what is
        wrong."""
        if specs is None:
            specs = DEFAULT_CHAINS.get(protocol, [FIELD_CACHE])
        if isinstance(specs, str | bytes) or not isinstance(specs, Sequence):
            raise AdapterError("an adapter chain is a list of stages")
        stages: list[Stage] = []
        seen: dict[str, int] = {}
        has_cache = False
        for i, spec in enumerate(specs):
            raw = {"name": spec} if isinstance(spec, str) else spec
            if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
                raise AdapterError(f"stage {i + 1}: a stage is a name or a mapping with 'name'")
            name = raw["name"]
            params = {k: v for k, v in raw.items() if k not in ("name", "enabled")}
            enabled = raw.get("enabled", True)
            if not isinstance(enabled, bool):
                raise AdapterError(f"stage {i + 1} ({name}): 'enabled' must be true or false")
            if name == FIELD_CACHE:
                if params:
                    raise AdapterError(f"stage {i + 1} ({name}): rules are configured under field_cache, not here")
                if has_cache:
                    raise AdapterError(f"stage {i + 1} ({name}): the field cache can run once per chain")
                has_cache = True
                if enabled:
                    stages.append(Stage(FIELD_CACHE, None))
                continue
            adapter = ADAPTERS.get(name)
            if adapter is None:
                known = ", ".join(sorted([*ADAPTERS, FIELD_CACHE]))
                raise AdapterError(f"stage {i + 1}: unknown adapter {name!r} (known: {known})")
            try:
                checked = adapter.params(params)
            except AdapterError as exc:
                raise AdapterError(f"stage {i + 1} ({name}): {exc}") from None
            if not enabled:
                continue
            seen[name] = seen.get(name, 0) + 1
            label = name if seen[name] == 1 else f"{name}#{seen[name]}"
            stages.append(Stage(label, adapter, checked))
        if not has_cache:
            stages.append(Stage(FIELD_CACHE, None))
        if unsupported:
            drop = ADAPTERS["drop_params"]
            try:
                stages.append(Stage(UNSUPPORTED, drop, drop.params({"params": list(unsupported)})))
            except AdapterError as exc:
                raise AdapterError(f"{UNSUPPORTED}: {exc}") from None
        return cls(stages, protocol=protocol, field_cache=field_cache)

    @property
    def names(self) -> list[str]:
        return [s.label for s in self.stages]

    @property
    def rewrites(self) -> bool:
        """Whether a stage other than the field cache (and the provider's ``unsupported_params``,
        which apply to built requests) may change requests: the same-protocol fast path (body
        forwarded as it is) is only correct when this is False."""
        return any(
            s.adapter is not None and s.adapter.request is not None and s.label != UNSUPPORTED for s in self.stages
        )

    def _cache_on(self, scope: Scope | None) -> bool:
        return self.field_cache is not None and scope is not None and self.field_cache.applies(self.protocol)

    async def apply_request(self, req: Request, trace: Trace | None = None, scope: Scope | None = None) -> Request:
        """``req`` through every stage in order (never mutated). ``scope`` is the field cache's."""
        return await self._through(req, self.stages, "request", trace, scope)

    async def apply_response(self, resp: Response, trace: Trace | None = None, scope: Scope | None = None) -> Response:
        """``resp`` through every stage in reverse order; the field cache stage records it."""
        return await self._through(resp, reversed(self.stages), "response", trace, scope)

    async def _through(
        self, value: T, stages: Iterable[Stage], hook: str, trace: Trace | None, scope: Scope | None
    ) -> T:
        """``value`` through ``stages``: each adapter's ``hook`` (``request`` or ``response``) where it
        has one; at the field cache stage, when the cache applies, a request gets the cached values
        injected and a response is recorded. Each stage is reported to ``trace``."""
        before = to_json(value) if trace else None
        for stage in stages:
            out = value
            if stage.adapter is None:
                if self._cache_on(scope):
                    if hook == "request":
                        out = await self.field_cache.inject(value, self.protocol, scope)  # type: ignore[union-attr,arg-type]
                    else:
                        await self.field_cache.record_response(value, self.protocol, scope)  # type: ignore[union-attr,arg-type]
            elif (fn := getattr(stage.adapter, hook)) is not None:
                out = fn(value, stage.params, self.protocol)
            if trace:
                after = to_json(out) if out is not value else before
                trace(stage.label, before, after)
                before = after
            value = out
        return value

    def stream(self, trace: Trace | None = None, scope: Scope | None = None) -> ChainStream:
        """A per-stream runner: ``feed(event) -> events`` for each upstream event, then
        ``await finish() -> events``."""
        steps: list[tuple[str, EventTransform | StreamRecorder]] = []
        for stage in reversed(self.stages):
            if stage.adapter is None:
                if self._cache_on(scope):
                    steps.append((stage.label, self.field_cache.stream_recorder(self.protocol, scope)))  # type: ignore[union-attr,arg-type]
            elif stage.adapter.event is not None:
                steps.append((stage.label, stage.adapter.event(stage.params, self.protocol)))
        return ChainStream(steps, trace)


class ChainStream:
    """Stream events through the chain's event stages (made by :meth:`AdapterChain.stream`)."""

    def __init__(self, steps: list[tuple[str, EventTransform | StreamRecorder]], trace: Trace | None) -> None:
        self._steps = steps
        self._trace = trace

    def feed(self, event: Event) -> list[Event]:
        return self._run(0, [event])

    def _run(self, start: int, events: list[Event]) -> list[Event]:
        for label, step in self._steps[start:]:
            if not events:
                break
            if isinstance(step, StreamRecorder):
                for e in events:
                    step.feed(e)
                continue
            out: list[Event] = []
            for e in events:
                out.extend(step.feed(e))
            if self._trace and (len(out) != len(events) or any(a is not b for a, b in zip(out, events, strict=False))):
                self._trace(label, [to_json(e) for e in events], [to_json(e) for e in out])
            events = out
        return events

    async def finish(self) -> list[Event]:
        """Flush every stage in order (what one flushes runs through the later ones) and let the
        field cache save what it collected."""
        tail: list[Event] = []
        for i, (label, step) in enumerate(self._steps):
            if isinstance(step, StreamRecorder):
                await step.finish()
                continue
            flushed = step.finish()
            if flushed:
                if self._trace:
                    self._trace(label, [], [to_json(e) for e in flushed])
                tail += self._run(i + 1, flushed)
        return tail
