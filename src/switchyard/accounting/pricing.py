"""Prices and cost: the project's own table (``data/pricing.yaml``) plus config overrides.

Cost rules: a cost the upstream reported wins; otherwise the *served* model's price from the
table is applied to the disjoint usage buckets of :class:`~switchyard.core.model.Usage`
(input, cache read, cache write, output; reasoning is part of output and not added again).
An unknown model or missing usage gives None, never 0: 0 only comes from a price of 0.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any

import yaml

from ..core.model import Usage

FIELDS = ("input", "output", "cache_read", "cache_write")
_LOOKUP_CACHE_MAX = 4096

# Suffixes removed, one at a time, when the exact name is not in the table.
_SUFFIXES = (
    re.compile(r"@.+$"),  # Vertex AI: claude-sonnet-4-5@20250929
    re.compile(r"-v\d+(?::\d+)?$"),  # Bedrock: ...-v1:0
    re.compile(r"-\d{8}$"),  # Anthropic: -20250929
    re.compile(r"-\d{4}-\d{2}-\d{2}$"),  # OpenAI: -2024-08-06
    re.compile(r"-latest$"),
    re.compile(r"-\d{3}$"),  # Gemini stable versions: -001
)
_BEDROCK_PREFIX = re.compile(r"^(?:[a-z]{2,4}\.)?anthropic\.")


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens. ``long`` applies when the prompt exceeds ``long_threshold`` tokens."""

    input: float
    output: float
    cache_read: float
    cache_write: float
    long_threshold: int | None = None
    long: Price | None = None
    max_output: int | None = None
    """The model's output token limit, when known (budgets reserve it for a request without one)."""

    def for_prompt(self, prompt_tokens: int) -> Price:
        if self.long is not None and self.long_threshold is not None and prompt_tokens > self.long_threshold:
            return self.long
        return self

    def cost(self, usage: Usage) -> float:
        p = self.for_prompt(usage.prompt_tokens)
        total = (
            usage.input_tokens * p.input
            + usage.cache_read_tokens * p.cache_read
            + usage.cache_write_tokens * p.cache_write
            + usage.output_tokens * p.output
        )
        return round(total / 1_000_000, 10)

    def most_per_token(self) -> tuple[float, float]:
        """(the highest input-side rate, the highest output rate) over every bucket and tier:
        with them, a token count that bounds a request's usage bounds its cost."""
        tiers = [self] if self.long is None else [self, self.long]
        prompt = max(max(t.input, t.cache_read, t.cache_write) for t in tiers)
        return prompt, max(t.output for t in tiers)


def candidates(model: str, provider: str | None = None) -> list[str]:
    """Names to try, in order: ``provider/model``, exact, lowercase, without prefix, without suffixes."""
    out: list[str] = []

    def add(name: str) -> None:
        if name and name not in out:
            out.append(name)

    if provider:
        add(f"{provider}/{model}")
    add(model)
    name = model.lower()
    add(name)
    name = name.rsplit("/", 1)[-1]
    add(name)
    name = _BEDROCK_PREFIX.sub("", name)
    add(name)
    changed = True
    while changed:
        changed = False
        for pattern in _SUFFIXES:
            stripped = pattern.sub("", name)
            if stripped != name and stripped:
                name = stripped
                add(name)
                changed = True
    return out


class Pricing:
    """A pricing table: ``lookup`` by served model name and ``cost`` of a usage."""

    def __init__(self, prices: Mapping[str, Price]) -> None:
        self._prices = dict(prices)
        self._memo: dict[tuple[str, str | None], Price | None] = {}

    @classmethod
    def default(cls) -> Pricing:
        """The project's own table (a fresh copy; see :func:`default_pricing` for the shared one)."""
        return cls(_default_prices())

    def __contains__(self, model: str) -> bool:
        return model in self._prices

    def __len__(self) -> int:
        return len(self._prices)

    def with_overrides(self, overrides: Mapping[str, Any] | None, where: str = "pricing") -> Pricing:
        """A new table with ``overrides`` (the config's ``pricing:`` mapping) applied.

        A known model may change only some fields; a new model needs ``input`` and ``output``.
        ``model: null`` removes a model (its cost becomes unknown). Raises ValueError naming the
        offending path (``pricing.<model>.<field>``).
        """
        prices = dict(self._prices)
        if overrides is None:
            return Pricing(prices)
        if not isinstance(overrides, Mapping):
            raise ValueError(f"{where}: must be a mapping of model name to prices")
        for model, spec in overrides.items():
            path = f"{where}.{model}"
            if spec is None:
                prices.pop(str(model), None)
                continue
            prices[str(model)] = parse_price(spec, path, base=prices.get(str(model)))
        return Pricing(prices)

    def lookup(self, model: str, provider: str | None = None) -> Price | None:
        key = (model, provider)
        if key in self._memo:
            return self._memo[key]
        found = None
        for name in candidates(model, provider):
            found = self._prices.get(name)
            if found is not None:
                break
        if len(self._memo) >= _LOOKUP_CACHE_MAX:
            self._memo.clear()
        self._memo[key] = found
        return found

    def cost(
        self,
        usage: Usage | None,
        model: str,
        reported: float | None = None,
        *,
        provider: str | None = None,
    ) -> float | None:
        """USD for one request: ``reported`` if given, else the table price of the served ``model``."""
        if reported is not None:
            return float(reported)
        if usage is None:
            return None
        price = self.lookup(model, provider)
        return price.cost(usage) if price is not None else None


def parse_price(spec: Any, path: str, base: Price | None = None) -> Price:
    """A :class:`Price` from a mapping like the data file's; ``base`` fills fields left out."""
    if not isinstance(spec, Mapping):
        raise ValueError(f"{path}: must be a mapping with input, output, cache_read, cache_write")
    unknown = sorted(set(map(str, spec)) - {*FIELDS, "long_context", "max_output"})
    if unknown:
        raise ValueError(
            f"{path}: unknown field {unknown[0]!r} (expected {', '.join(FIELDS)}, long_context, max_output)"
        )
    values: dict[str, Any] = {f: _number(spec[f], f"{path}.{f}") for f in FIELDS if f in spec}
    if "max_output" in spec:
        limit = spec["max_output"]
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"{path}.max_output: must be a whole number of tokens >= 1")
        values["max_output"] = limit
    if base is None:
        for required in ("input", "output"):
            if required not in values:
                raise ValueError(f"{path}: missing {required!r} (USD per million tokens)")
        values.setdefault("cache_read", values["input"])
        values.setdefault("cache_write", values["input"])
        price = Price(**values)
    else:
        price = replace(base, **values)
    if "long_context" in spec:
        price = _with_long_context(price, spec["long_context"], f"{path}.long_context")
    return price


def _with_long_context(price: Price, spec: Any, path: str) -> Price:
    if spec is None:
        return replace(price, long=None, long_threshold=None)
    if not isinstance(spec, Mapping):
        raise ValueError(f"{path}: must be a mapping with threshold and prices")
    unknown = sorted(set(map(str, spec)) - {*FIELDS, "threshold"})
    if unknown:
        raise ValueError(f"{path}: unknown field {unknown[0]!r}")
    threshold = spec.get("threshold", price.long_threshold)
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
        raise ValueError(f"{path}.threshold: must be a whole number of tokens")
    base = price.long or replace(price, long=None, long_threshold=None)
    long = replace(base, **{f: _number(spec[f], f"{path}.{f}") for f in FIELDS if f in spec})
    return replace(price, long=long, long_threshold=threshold)


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or value != value:
        raise ValueError(f"{path}: must be a number >= 0 (USD per million tokens), not {value!r}")
    return float(value)


@cache
def _default_prices() -> dict[str, Price]:
    text = resources.files("switchyard").joinpath("data/pricing.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text) or {}
    return {str(model): parse_price(spec, f"pricing.yaml: {model}") for model, spec in raw.items()}


@cache
def default_pricing() -> Pricing:
    """The shared default table (built once)."""
    return Pricing.default()


def cost(
    usage: Usage | None,
    model: str,
    reported: float | None = None,
    *,
    provider: str | None = None,
    pricing: Pricing | None = None,
) -> float | None:
    """Cost in USD: ``reported`` wins; else the price of the served ``model`` (None if unknown)."""
    return (pricing or default_pricing()).cost(usage, model, reported, provider=provider)
