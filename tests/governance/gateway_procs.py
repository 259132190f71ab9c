"""Real gateway processes (``python -m switchyard.cli serve``) sharing one config and data_dir,
and a small asyncio client for driving them concurrently."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from gateway_process import GatewayProcess

ADMIN_KEY = "sy-admin-key-for-governance-tests"


class GatewayProcs:
    """``n`` gateway processes (:class:`GatewayProcess`) on their own ports, sharing one config;
    use as a context manager (killed on exit if still running)."""

    def __init__(self, config_text: str, workdir: Path, n: int) -> None:
        self.config = workdir / "switchyard.yaml"
        self.config.write_text(config_text)
        self.gateways = [GatewayProcess(self.config, log=workdir / f"gateway-{i}.log") for i in range(n)]
        self.urls = [g.url for g in self.gateways]

    def __enter__(self) -> GatewayProcs:
        for gateway in self.gateways:
            gateway.start()
        return self

    def kill(self, i: int) -> None:
        self.gateways[i].kill()

    def stop(self) -> list[int]:
        """SIGTERM every live process and wait: a graceful shutdown writes pending rows and spend."""
        live = [g for g in self.gateways if g.proc is not None and g.proc.poll() is None]
        for gateway in live:
            gateway.signal(signal.SIGTERM)
        return [g.wait(30) for g in self.gateways]

    def __exit__(self, *exc: object) -> None:
        for gateway in self.gateways:
            gateway.kill()

    def log_text(self) -> str:
        return "\n".join(g.log.read_text(errors="replace") for g in self.gateways)


async def admin(session: aiohttp.ClientSession, url: str, method: str, path: str, body: Any = None) -> Any:
    """One admin API call (raises on an error status)."""
    headers = {"authorization": f"Bearer {ADMIN_KEY}"}
    async with session.request(method, url + path, json=body, headers=headers) as resp:
        data = await resp.json()
        assert resp.status < 300, (resp.status, data)
        return data


async def new_key(session: aiohttp.ClientSession, url: str, name: str, **fields: Any) -> dict[str, Any]:
    """A client key made through the admin API (its answer, with the secret ``key``)."""
    return await admin(session, url, "POST", "/admin/client-keys", {"name": name, **fields})


# one request per client protocol: (path, body) for a model, a stream flag and an output limit
def request(protocol: str, model: str, stream: bool, max_tokens: int, text: str = "hello there") -> tuple[str, dict]:
    if protocol == "openai_chat":
        body: dict[str, Any] = {
            "model": model,
            "messages": [{"role": "user", "content": text}],
            "max_tokens": max_tokens,
        }
        if stream:
            body.update(stream=True, stream_options={"include_usage": True})
        return "/v1/chat/completions", body
    if protocol == "anthropic":
        body = {"model": model, "max_tokens": max_tokens, "messages": [{"role": "user", "content": text}]}
        return "/v1/messages", {**body, "stream": True} if stream else body
    if protocol == "openai_responses":
        body = {"model": model, "input": text, "max_output_tokens": max_tokens, "store": False}
        return "/v1/responses", {**body, "stream": True} if stream else body
    verb = "streamGenerateContent?alt=sse" if stream else "generateContent"
    body = {
        "contents": [{"role": "user", "parts": [{"text": text}]}],
        "generationConfig": {"maxOutputTokens": max_tokens},
    }
    return f"/v1beta/models/{model}:{verb}", body


async def send(
    session: aiohttp.ClientSession, url: str, key: str, path: str, body: dict, *, leave_early: bool = False
) -> tuple[int, bytes]:
    """POST ``body``; the status and the whole answer (or only its first chunk with ``leave_early``,
    after which the client goes away)."""
    async with session.post(url + path, data=orjson.dumps(body), headers={"authorization": f"Bearer {key}"}) as resp:
        if leave_early and resp.status == 200:
            first = await resp.content.readany()
            resp.close()
            return resp.status, first
        return resp.status, await resp.read()
