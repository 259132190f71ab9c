"""Redis goes away mid-test (a Redis server the test starts on its own port) and comes back
empty, as after a restart without persistence: ``state.on_unavailable`` decides what governed
requests get meanwhile, and afterwards spend is re-seeded from the durable ledger."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from gateway_harness import closed_port
from gateway_procs import ADMIN_KEY, GatewayProcs, admin, new_key, request, send


class OwnRedis:
    """A throwaway redis-server (no persistence) on a free port."""

    def __init__(self, workdir: Path) -> None:
        self.port = closed_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.fail("this test needs redis-server on the PATH (Debian package redis-server)", pytrace=False)
        args = [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen([*args, "--dir", str(self.workdir)], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while (
            subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True).stdout.strip() != b"PONG"
        ):
            assert time.monotonic() < deadline, "the test's redis-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def config(data_dir: Path, redis_url: str, mode: str) -> str:
    return f"""
server:
  admin_keys: ["{ADMIN_KEY}"]
  data_dir: {data_dir}
state: {{backend: redis, redis_url: "{redis_url}", on_unavailable: {mode}}}
pricing:
  mock-1: {{input: 1000, output: 1000}}
"""


@pytest.mark.parametrize("mode", ["local", "fail_closed"])
def test_redis_outage_and_return(own_redis: OwnRedis, tmp_path: Path, mode: str) -> None:
    path, body = request("openai_chat", "mock-1", False, 10)
    with GatewayProcs(config(tmp_path / "data", own_redis.url, mode), tmp_path, 2) as gw:

        async def main() -> None:
            async with aiohttp.ClientSession() as session:
                made = await new_key(session, gw.urls[0], "o", budget={"usd": 5, "window": "total"})
                key = made["key"]
                for url in gw.urls:
                    assert (await send(session, url, key, path, body))[0] == 200
                await asyncio.sleep(0.3)  # the ledger is written every 100 ms
                spent = (await admin(session, gw.urls[0], "GET", f"/admin/client-keys/{made['id']}"))["spend"]["usd"]
                assert spent > 0

                own_redis.stop()
                for url in gw.urls:
                    status, answer = await send(session, url, key, path, body)
                    if mode == "local":
                        assert status == 200, answer
                    else:
                        assert status == 503, answer
                        assert b'"error"' in answer and b"unreachable" in answer  # the OpenAI shape, the cause
                await asyncio.sleep(0.3)

                own_redis.start()  # back, and empty
                deadline = time.monotonic() + 10
                for url in gw.urls:
                    while (await send(session, url, key, path, body))[0] != 200:
                        assert time.monotonic() < deadline, "the gateway did not recover when Redis came back"
                        await asyncio.sleep(0.2)
                await asyncio.sleep(0.3)
                after = (await admin(session, gw.urls[1], "GET", f"/admin/client-keys/{made['id']}"))["spend"]["usd"]
                assert after >= spent  # re-seeded from the ledger, not restarted from zero

        asyncio.run(main())
        log = gw.log_text()
    assert "unreachable" in log  # said loudly
    assert "Traceback" not in log
