"""Real gateway processes (``python -m switchyard.cli serve``) sharing one config and data_dir,
and a small asyncio client for driving them concurrently."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

ADMIN_KEY = "sy-admin-key-for-governance-tests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GatewayProcs:
    """``n`` gateway processes on their own ports; use as a context manager (SIGTERM on exit)."""

    def __init__(self, config_text: str, workdir: Path, n: int) -> None:
        self.workdir = workdir
        self.config = workdir / "switchyard.yaml"
        self.config.write_text(config_text)
        self.ports = [free_port() for _ in range(n)]
        self.urls = [f"http://127.0.0.1:{p}" for p in self.ports]
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs = [workdir / f"gateway-{i}.log" for i in range(n)]

    def __enter__(self) -> GatewayProcs:
        for port, log in zip(self.ports, self.logs, strict=True):
            with log.open("wb") as out:
                self.procs.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "switchyard.cli",
                            "serve",
                            "--config",
                            str(self.config),
                            "--port",
                            str(port),
                        ],
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        env=dict(os.environ),
                    )
                )
        for i in range(len(self.procs)):
            self.wait_ready(i)
        return self

    def wait_ready(self, i: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[i].poll() is not None:
                raise RuntimeError(f"gateway {i} exited: {self.logs[i].read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.ports[i]), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"gateway {i} did not start: {self.logs[i].read_text()[-2000:]}")

    def kill(self, i: int) -> None:
        self.procs[i].send_signal(signal.SIGKILL)
        self.procs[i].wait(10)

    def stop(self) -> list[int]:
        """SIGTERM every live process and wait: a graceful shutdown writes pending rows and spend."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        return [proc.wait(30) for proc in self.procs]

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)

    def log_text(self) -> str:
        return "\n".join(log.read_text(errors="replace") for log in self.logs)


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
