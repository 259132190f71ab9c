"""The gateway server: an ASGI app (:class:`App`) run by uvicorn (:func:`serve`)."""

from __future__ import annotations

import logging

from ..config import Config
from .app import App


def serve(config: Config, host: str | None = None, port: int | None = None) -> None:
    """Run the gateway until interrupted: uvicorn with uvloop and httptools, no access log."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(
        App(config),
        host=host or config.server.host,
        port=port or config.server.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="info",
        server_header=False,
        proxy_headers=False,  # nothing reads the client address; saves a middleware per request
    )


__all__ = ["App", "serve"]
