"""The gateway server: an ASGI app (:class:`App`) run by uvicorn (:func:`serve`)."""

from __future__ import annotations

import logging
import os
from typing import Any

from ..config import Config, load_config
from .app import App

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class WorkersNeedSharedState(ValueError):
    """``--workers`` > 1 without Redis: each worker would keep its own limits and cooldowns."""


def serve(config: Config, host: str | None = None, port: int | None = None, workers: int = 1) -> None:
    """Run the gateway until interrupted: uvicorn with uvloop and httptools, no access log.

    With ``workers`` > 1, a supervising parent runs that many worker processes on one socket (each
    its own event loop and :class:`App`, built from the same configuration), restarts a worker that
    dies, and on SIGTERM stops them all gracefully. That needs ``state.backend: redis``, so that the
    workers share key cooldowns, limits and budgets instead of multiplying them.
    """
    import uvicorn

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
    }
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
