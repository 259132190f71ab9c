"""Observability: the usage log, secret redaction and the opt-in transform trace.

Modules are imported directly (``from switchyard.observability.usage_log import UsageLog``) so
that using one does not load the others.
"""
