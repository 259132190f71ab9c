"""The gateway server: the app (:class:`App`, written against the server-neutral
:class:`~.http.Conn`) on aiohttp's HTTP server under uvloop (:func:`serve`)."""

from __future__ import annotations

import logging
import os

import uvloop

from ..config import Config, load_config
from .app import App

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class WorkersNeedSharedState(ValueError):
    """``--workers`` > 1 without Redis: each worker would keep its own limits and cooldowns."""


def serve(config: Config, host: str | None = None, port: int | None = None, workers: int = 1) -> None:
    """Run the gateway until SIGTERM or SIGINT, then drain: the listening socket closes at once,
    in-flight requests have ``server.drain_timeout`` seconds to finish and are then ended with
    their protocol's error event; the usage log is flushed and the process exits.

    With ``workers`` > 1, a supervising parent runs that many worker processes on one port (each
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
    host, port = host or config.server.host, port or config.server.port
    if workers > 1:
        from .workers import supervise

        if config.source:  # the workers load the same file (the environment they inherit says which)
            os.environ["SWITCHYARD_CONFIG"] = os.path.abspath(config.source)
        supervise(host, port, workers, config.server.drain_timeout)
    else:
        _run(App(config), host, port, reuse_port=False)


def _run(app: App, host: str, port: int, reuse_port: bool) -> None:
    from .aio import Serving, listen

    sock = listen(host, port, reuse_port)
    uvloop.run(Serving(app).run(sock))


def worker_main(host: str, port: int) -> None:
    """One worker process of ``serve(workers=N)``: the configuration is loaded again."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    _run(App(load_config()), host, port, reuse_port=True)


__all__ = ["App", "WorkersNeedSharedState", "serve", "worker_main"]
