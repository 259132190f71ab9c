"""The gateway server: an ASGI app (:class:`App`) run by uvicorn (:func:`serve`)."""

from __future__ import annotations

import contextlib
import logging

from ..config import Config
from .app import App


def serve(config: Config, host: str | None = None, port: int | None = None) -> None:
    """Run the gateway until interrupted: uvicorn with uvloop and httptools, no access log.

    SIGTERM (or Ctrl-C) drains: the listening socket closes at once, in-flight requests have
    ``server.drain_timeout`` seconds to finish and are then ended with their protocol's error
    event (:meth:`App.begin_drain`); the usage log is flushed and the process exits.
    """
    import uvicorn

    class DrainingServer(uvicorn.Server):
        """uvicorn's server, telling the app when its shutdown starts."""

        async def shutdown(self, sockets: list | None = None) -> None:
            app.begin_drain()
            await super().shutdown(sockets)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = App(config)
    uv = uvicorn.Config(
        app,
        host=host or config.server.host,
        port=port or config.server.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="info",
        server_header=False,
        proxy_headers=False,  # nothing reads the client address; saves a middleware per request
        timeout_graceful_shutdown=config.server.drain_timeout + 5,  # a backstop: the app cuts at its deadline
    )
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the signal it handled
        DrainingServer(uv).run()


__all__ = ["App", "serve"]
