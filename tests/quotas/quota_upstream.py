"""An upstream for the quota tests: the key-pool tests' fault upstream (OpenAI Chat, Anthropic
Messages and Gemini on one port; ``seen`` counts the requests of each API key), answering per key
with rate-limit headers on its successes (``headers``) or an error of the test's own (``errors``)."""

from __future__ import annotations

from aiohttp import web
from test_server_keys import FaultUpstream


class QuotaUpstream(FaultUpstream):
    def __init__(self) -> None:
        super().__init__()
        self.headers: dict[str, dict[str, str]] = {}
        self.errors: dict[str, tuple[int, dict]] = {}

    def reset(self) -> None:
        self.seen.clear()
        self.headers.clear()
        self.errors.clear()

    @property
    def total(self) -> int:
        return sum(self.seen.values())

    async def _answer(self, request: web.Request, key: str) -> web.StreamResponse:
        if key in self.errors:
            status, body = self.errors[key]
            return web.json_response(body, status=status)
        resp = await super()._answer(request, key)
        if not resp.prepared:  # a JSON answer (the tests set headers on those only)
            resp.headers.update(self.headers.get(key, {}))
        return resp
