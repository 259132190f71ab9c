"""The floor: a bare pass-through proxy, the least any Python gateway on this stack can cost.

aiohttp server + one pooled aiohttp client on uvloop. It forwards the method, path, query, body
and content headers to the upstream and streams the answer back chunk by chunk, parsing nothing.

    python bench/floor.py --port 9200 --upstream http://127.0.0.1:9100
"""

from __future__ import annotations

import argparse

import aiohttp
from aiohttp import web
from lowlevel import serve

FORWARDED = ("Content-Type", "Authorization", "x-api-key", "x-goog-api-key", "anthropic-version")


class Floor:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.session: aiohttp.ClientSession | None = None

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        if self.session is None:
            connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None, enable_cleanup_closed=False)
            self.session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        body = await request.read()
        headers = {h: request.headers[h] for h in FORWARDED if h in request.headers}
        async with self.session.request(
            request.method, self.upstream + request.path_qs, data=body, headers=headers
        ) as up:
            resp = web.StreamResponse(
                status=up.status, headers={"Content-Type": up.headers.get("Content-Type", "application/json")}
            )
            await resp.prepare(request)
            async for chunk in up.content.iter_any():
                await resp.write(chunk)
            await resp.write_eof()
            return resp


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9200)
    parser.add_argument("--upstream", default="http://127.0.0.1:9100")
    args = parser.parse_args()
    serve(Floor(args.upstream).handle, args.port)
