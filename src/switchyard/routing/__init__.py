"""Routing: model names to ordered upstream targets, and the attempt loop over them."""

from .attempts import AttemptRecord, AttemptsExhausted, Outcome, run_attempts
from .resolve import ModelResolver, Target

__all__ = ["AttemptRecord", "AttemptsExhausted", "ModelResolver", "Outcome", "Target", "run_attempts"]
