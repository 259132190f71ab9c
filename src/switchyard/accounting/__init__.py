"""Accounting: what a request cost."""

from __future__ import annotations

from .pricing import Price, Pricing, cost, default_pricing

__all__ = ["Price", "Pricing", "cost", "default_pricing"]
