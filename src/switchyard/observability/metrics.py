"""Prometheus metrics (``GET /metrics``), on a registry of the gateway's own.

Labels hold protocol, provider, model and status names and masked key ids only — never a secret.
Key states are read from the key pools when ``/metrics`` is scraped (a collector), not kept in
step on every request. The labelled series of a (protocol, provider, model, status) are looked up
once and kept (prometheus_client's ``labels()`` costs tens of microseconds per request).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ..core.model import Usage
from ..keys import KeyPool

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _KeyStates(Collector):
    def __init__(self, pools: Callable[[], Mapping[str, KeyPool]]) -> None:
        self._pools = pools

    def collect(self) -> Iterable[GaugeMetricFamily]:
        state = GaugeMetricFamily(
            "switchyard_key_state", "1 for the state each key is in", labels=["provider", "key", "state"]
        )
        in_flight = GaugeMetricFamily(
            "switchyard_key_in_flight", "requests in flight per key", labels=["provider", "key"]
        )
        for provider, pool in self._pools().items():
            for snap in pool.snapshot():
                state.add_metric([provider, snap["key"], snap["status"]], 1)
                in_flight.add_metric([provider, snap["key"]], snap["in_flight"])
        yield state
        yield in_flight


TOKEN_KINDS = ("input", "cache_read", "cache_write", "output", "reasoning")


class _Series(NamedTuple):
    """The labelled children one kind of request updates."""

    requests: Any
    tokens: tuple[Any, ...]  # in TOKEN_KINDS order
    cost: Any
    latency: Any
    ttfb: Any
    overhead: Any


class Metrics:
    """The gateway's metric families; one instance per server."""

    def __init__(self, pools: Callable[[], Mapping[str, KeyPool]] = dict) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ["client_protocol", "provider", "model", "status"]
        self.requests = Counter("switchyard_requests", "client requests answered", labels, registry=self.registry)
        self.tokens = Counter(
            "switchyard_tokens",
            "tokens by kind (disjoint buckets; reasoning is part of output)",
            ["provider", "model", "kind"],
            registry=self.registry,
        )
        self.cost = Counter(
            "switchyard_cost_usd", "cost in USD of priced requests", ["provider", "model"], registry=self.registry
        )
        self.latency = Histogram(
            "switchyard_request_seconds",
            "time from request to last byte",
            ["client_protocol", "provider"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.ttfb = Histogram(
            "switchyard_ttfb_seconds",
            "time from request to the first byte sent to the client",
            ["client_protocol", "provider"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.overhead = Histogram(
            "switchyard_overhead_seconds",
            "gateway time not spent waiting on upstreams",
            ["client_protocol"],
            buckets=OVERHEAD_BUCKETS,
            registry=self.registry,
        )
        self.upstream_errors = Counter(
            "switchyard_upstream_errors",
            "failed upstream attempts by error class",
            ["provider", "error"],
            registry=self.registry,
        )
        self.registry.register(_KeyStates(pools))
        self._series: dict[tuple[str, str, str, int], _Series] = {}

    def _for(self, client_protocol: str, provider: str, model: str, status: int) -> _Series:
        key = (client_protocol, provider, model, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _Series(
                self.requests.labels(client_protocol, provider, model, str(status)),
                tuple(self.tokens.labels(provider, model, kind) for kind in TOKEN_KINDS),
                self.cost.labels(provider, model),
                self.latency.labels(client_protocol, provider),
                self.ttfb.labels(client_protocol, provider),
                self.overhead.labels(client_protocol),
            )
        return series

    def observe(
        self,
        *,
        client_protocol: str,
        provider: str,
        model: str,
        status: int,
        usage: Usage | None,
        cost: float | None,
        latency_s: float,
        ttfb_s: float | None,
        overhead_s: float,
        failed_attempts: Iterable[tuple[str, str]] = (),
    ) -> None:
        series = self._for(client_protocol, provider, model, status)
        series.requests.inc()
        if usage is not None:
            values = (
                usage.input_tokens,
                usage.cache_read_tokens,
                usage.cache_write_tokens,
                usage.output_tokens,
                usage.reasoning_tokens,
            )
            for counter, value in zip(series.tokens, values, strict=True):
                if value:
                    counter.inc(value)
        if cost:
            series.cost.inc(cost)
        series.latency.observe(latency_s)
        if ttfb_s is not None:
            series.ttfb.observe(ttfb_s)
        series.overhead.observe(overhead_s)
        for attempt_provider, error in failed_attempts:
            self.upstream_errors.labels(attempt_provider, error).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
