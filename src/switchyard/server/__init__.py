"""The gateway server: an ASGI app (:class:`App`) run by uvicorn (:func:`serve`)."""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any

import uvicorn

from ..config import Config, load_config
from .app import App

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class WorkersNeedSharedState(ValueError):
    """``--workers`` > 1 without Redis: each worker would keep its own limits and cooldowns."""


def serve(config: Config, host: str | None = None, port: int | None = None, workers: int = 1) -> None:
    """Run the gateway until interrupted: uvicorn with uvloop and httptools, no access log.

    SIGTERM (or Ctrl-C) drains: the listening socket closes at once, in-flight requests have
    ``server.drain_timeout`` seconds to finish and are then ended with their protocol's error
    event (the app hears the signal itself: :meth:`App.begin_drain`); the usage log is flushed
    and the process exits.

    With ``workers`` > 1, a supervising parent runs that many worker processes on one socket (each
    its own event loop and :class:`App`, built from the same configuration), restarts a worker that
    dies, and on SIGTERM drains them all. That needs ``state.backend: redis``, so that the workers
    share key cooldowns, limits and budgets instead of multiplying them.
    """
    if workers > 1 and config.state.backend != "redis":
        raise WorkersNeedSharedState(
            f"--workers {workers} needs shared state: with state.backend '{config.state.backend}' every worker "
            "would keep its own key cooldowns, rate limits and budget counters (a limit would be multiplied by "
            f"{workers}). Set state.backend: redis (and state.redis_url), or run one worker."
        )
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    options: dict[str, Any] = {
        "host": host or config.server.host,
        "port": port or config.server.port,
        "loop": "uvloop",
        "http": "httptools",
        "lifespan": "on",
        "access_log": False,
        "log_level": "info",
        "server_header": False,
        "proxy_headers": False,  # nothing reads the client address; saves a middleware per request
        "timeout_graceful_shutdown": config.server.drain_timeout + 5,  # a backstop: the app cuts at its deadline
    }
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the signal it handled
        if workers > 1:
            if config.source:  # the workers load the same file (the environment they inherit says which)
                os.environ["SWITCHYARD_CONFIG"] = os.path.abspath(config.source)
            uvicorn.run("switchyard.server:worker_app", factory=True, workers=workers, **options)
        else:
            uvicorn.run(App(config), **options)


def worker_app() -> App:
    """The app of one worker process (``serve(workers=N)``): the configuration is loaded again."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    return App(load_config())


__all__ = ["App", "WorkersNeedSharedState", "serve", "worker_app"]
