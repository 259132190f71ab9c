"""The web dashboard served at ``/ui`` (see :mod:`.dashboard`); on when ``ui.enabled`` says so,
by default whenever admin keys are configured."""

from __future__ import annotations

from ..config import Config
from .dashboard import PREFIX, Dashboard

__all__ = ["PREFIX", "Dashboard", "enabled"]


def enabled(config: Config) -> bool:
    return config.ui.enabled if config.ui.enabled is not None else bool(config.server.admin_keys)
