"""Switchyard: a self-hosted LLM API gateway speaking four wire protocols."""

__version__ = "0.1.0"
