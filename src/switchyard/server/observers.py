"""What happens after a response: one usage row, the metrics, and the stream observer hook.

:class:`UsageRecorder` is an exchange observer (``App.observers``): for every finished generate or
count_tokens exchange it prices the usage (the provider-reported cost when the upstream sent one,
else the pricing table for the *served* model; unknown -> None), queues one row on the usage log
(written in batches off the hot path) and updates the Prometheus metrics. It is called exactly
once per exchange, after the stream ended — also when the client went away (the row is then
marked ``client_gone`` with the usage seen so far).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson

from ..accounting.pricing import Pricing
from ..core.model import Usage
from ..observability.metrics import Metrics
from ..observability.usage_log import UsageLog, UsageRecord
from ..routing import Target
from .context import Exchange

log = logging.getLogger("switchyard.server")


def reported_cost(usage: Usage | None) -> float | None:
    """A cost the upstream put in its usage (OpenRouter and others send ``usage.cost``)."""
    raw = usage.extensions.get("_raw") if usage is not None else None
    value = raw.get("cost") if isinstance(raw, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


UNRESOLVED = "unresolved"
"""The metrics' model label for a name that resolves to nothing (or to no model the upstream has)."""
OTHER = "other"
"""The model label once a provider has used up its learned names (see :meth:`UsageRecorder.model_label`)."""
MAX_LEARNED_MODELS = 64
"""Per provider: model names outside the config that get their own label after an upstream served them."""


class UsageRecorder:
    def __init__(
        self,
        usage_log: UsageLog | None,
        metrics: Metrics | None,
        pricing: Pricing,
        configured: Callable[[Target], bool] = lambda _: False,
    ) -> None:
        self.usage_log = usage_log
        self.metrics = metrics
        self.pricing = pricing
        self.configured = configured
        self.learned: dict[str, set[str]] = {}

    def model_label(self, ctx: Exchange, status: int) -> str:
        """The ``model`` label of the metrics: bounded, whatever clients send. The resolved target's
        model when the config names it; a ``<provider>/<name>`` outside the config only once the
        upstream served it (at most :data:`MAX_LEARNED_MODELS` such names per provider, then
        ``other``); ``unresolved`` for names that resolve to nothing."""
        target = ctx.target
        if target is None:
            return UNRESOLVED
        if self.configured(target):
            return target.model
        learned = self.learned.setdefault(target.provider, set())
        if target.model in learned:
            return target.model
        if status >= 400 or ctx.error is not None:
            return UNRESOLVED
        if len(learned) >= MAX_LEARNED_MODELS:
            return OTHER
        learned.add(target.model)
        return target.model

    def __call__(self, ctx: Exchange) -> None:
        try:
            self._record(ctx)
        except Exception:  # accounting must never break a response
            log.exception("request %s: could not record usage", ctx.id)

    def _record(self, ctx: Exchange) -> None:
        now = time.perf_counter()
        usage = ctx.final_usage()
        provider = ctx.target.provider if ctx.target else None
        served = ctx.target.model if ctx.target else None
        cost = reported_cost(usage)
        if cost is None and usage is not None and served is not None:
            cost = self.pricing.cost(usage, served, provider=provider)
        ctx.cost = cost
        status = ctx.status or (ctx.error.status if ctx.error else 200)
        latency = now - ctx.started
        ttfb = (ctx.first_byte_at - ctx.started) if ctx.first_byte_at is not None else None
        error: str | None = None
        if ctx.client_gone:
            error = "client_gone"
        elif ctx.error is not None:
            error = ctx.error.kind
        key_id = ctx.attempts[-1].key_id if ctx.attempts else None
        client = ctx.client_key
        if self.usage_log is not None:
            rec = UsageRecord(
                request_id=ctx.id,
                ts=time.time() - latency,
                client_protocol=ctx.protocol,
                provider=provider,
                model_requested=ctx.model,
                model_served=served,
                key_id=key_id,
                status=status,
                attempts=len(ctx.attempts) or 1,
                cost=cost,
                ttfb_ms=ttfb * 1000 if ttfb is not None else None,
                latency_ms=latency * 1000,
                overhead_ms=ctx.overhead_ms(),
                stream=ctx.stream,
                error=error,
                client_key_id=client.id if client else None,
                client_key_name=client.name if client else None,
                team=client.team if client else None,
                attempt_log=orjson.dumps([dataclasses.asdict(a) for a in ctx.attempts]).decode()
                if ctx.attempts
                else None,
                cache_origin=ctx.cache_origin,
            ).set_usage(usage)
            self.usage_log.record(rec)
        if self.metrics is not None:
            failed: list[Any] = [(a.target.split("/", 1)[0], a.error) for a in ctx.attempts if a.error]
            self.metrics.observe(
                client_protocol=ctx.protocol,
                provider=provider or "none",
                model=self.model_label(ctx, status),
                status=status,
                usage=usage,
                cost=cost,
                latency_s=latency,
                ttfb_s=ttfb,
                overhead_s=ctx.overhead_ms() / 1000,
                failed_attempts=failed,
            )
