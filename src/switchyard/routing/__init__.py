"""Routing: model names to ordered upstream targets."""

from .resolve import ModelResolver, Target

__all__ = ["ModelResolver", "Target"]
