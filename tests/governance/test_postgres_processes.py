"""Real gateway processes on one PostgreSQL: the usage log and the governance records shared by
three processes (one row per request, none lost or twice; `switchyard usage --by client` reads it),
and a gateway that keeps serving while the usage log's PostgreSQL is down, writing its rows when
it returns."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from gateway_procs import ADMIN_KEY, GatewayProcs, admin, request

from pg_support import TcpProxy, fetch_sync
from redis_support import REDIS_URL, fresh_prefix


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    with fresh_prefix() as prefix:
        yield prefix


GRACEFUL = 0  # SIGTERM: the gateway drains, flushes and exits normally
CONFIG_KEY = "sk-config-key-for-postgres-tests-0001"


def config(data_dir: Path, usage_dsn: str, governance_dsn: str | None = None, redis_prefix: str | None = None) -> str:
    governance = f'governance: {{dsn: "{governance_dsn}"}}' if governance_dsn else ""
    state = (
        f'state: {{backend: redis, redis_url: "{REDIS_URL}", redis_prefix: "{redis_prefix}"}}' if redis_prefix else ""
    )
    return f"""{state}
server:
  admin_keys: ["{ADMIN_KEY}"]
  auth_keys: ["{CONFIG_KEY}"]
  data_dir: {data_dir}
observability:
  usage_log: {{backend: postgres, dsn: "{usage_dsn}"}}
{governance}
"""


async def drive(urls: list[str], keys: list[str], n: int) -> list[str]:
    """``n`` chat requests to mock-1, round-robin over ``urls`` and ``keys``, 30 at a time; the
    request ids the gateways answered with (every answer must be a 200)."""
    path, body = request("openai_chat", "mock-1", False, 16)
    gate = asyncio.Semaphore(30)
    pairs = [(urls[i % len(urls)], keys[(i // len(urls)) % len(keys)]) for i in range(n)]  # every key on every url

    async with aiohttp.ClientSession() as session:

        async def one(url: str, key: str) -> str:
            async with gate, session.post(url + path, json=body, headers={"authorization": f"Bearer {key}"}) as resp:
                assert resp.status == 200, (resp.status, await resp.text())
                await resp.read()
                return resp.headers["x-request-id"]

        return await asyncio.gather(*(one(url, key) for url, key in pairs))


def usage_rows(dsn: str) -> list[tuple[str, str | None]]:
    try:
        return [tuple(r) for r in fetch_sync(dsn, "SELECT request_id, client_key_name FROM requests")]
    except asyncpg.exceptions.UndefinedTableError:  # no process has reached PostgreSQL yet
        return []


def test_three_gateways_on_one_postgres_write_each_request_once(tmp_path, pg_dsn, redis_prefix):
    """Three processes sharing Redis (hot state) and PostgreSQL (usage log, keys, ledger)."""
    data_dir = tmp_path / "data"
    first = tmp_path / "first"
    first.mkdir()
    with GatewayProcs(config(data_dir, pg_dsn, redis_prefix=redis_prefix), first, 1) as gw:  # keys go to PostgreSQL

        async def make() -> dict:
            async with aiohttp.ClientSession() as session:
                await admin(session, gw.urls[0], "POST", "/admin/teams", {"name": "web"})
                return await admin(session, gw.urls[0], "POST", "/admin/client-keys", {"name": "ana", "team": "web"})

        made = asyncio.run(make())
        assert gw.stop() == [GRACEFUL]

    with GatewayProcs(config(data_dir, pg_dsn, redis_prefix=redis_prefix), tmp_path, 3) as gw:  # keys from PostgreSQL
        ids = asyncio.run(drive(gw.urls, [made["key"], CONFIG_KEY], 300))
        assert gw.stop() == [GRACEFUL] * 3  # SIGTERM: each writes its pending rows and spend

    rows = usage_rows(pg_dsn)
    assert len(ids) == len(set(ids)) == 300
    assert sorted(r[0] for r in rows) == sorted(ids)  # exactly one row per request: none lost, none twice
    assert sum(1 for r in rows if r[1] == "ana") == 150
    ledger = {tuple(r[:2]): r[2] for r in fetch_sync(pg_dsn, 'SELECT subject, "window", requests FROM spend')}
    assert ledger == {(f"key:{made['id']}", "total"): 150, ("team:web", "total"): 150}

    cli = [sys.executable, "-m", "switchyard.cli", "usage", "--config", str(gw.config), "--by", "client"]
    env = dict(os.environ)
    out = subprocess.run([*cli, "--json"], capture_output=True, text=True, env=env, timeout=60, check=True).stdout
    by_client = {r["group"]: r["requests"] for r in json.loads(out)}
    assert by_client == {f"ana ({made['id']})": 150, "-": 150}
    table = subprocess.run(cli, capture_output=True, text=True, env=env, timeout=60, check=True).stdout
    assert table.splitlines()[0].startswith("CLIENT KEY") and f"ana ({made['id']})" in table
    assert any(line.startswith("total") and " 300 " in line for line in table.splitlines())


def test_gateway_keeps_serving_while_the_usage_log_postgres_is_down(tmp_path, pg_dsn):
    proxy = TcpProxy()  # the usage log reaches PostgreSQL through it; it starts down
    try:
        with GatewayProcs(config(tmp_path / "data", proxy.dsn(pg_dsn), pg_dsn), tmp_path, 1) as gw:
            ids = asyncio.run(drive(gw.urls, [CONFIG_KEY], 40))  # served with PostgreSQL out of reach
            time.sleep(0.5)
            assert usage_rows(pg_dsn) == []
            proxy.up()
            deadline = time.monotonic() + 20
            while len(usage_rows(pg_dsn)) < 40 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert sorted(r[0] for r in usage_rows(pg_dsn)) == sorted(ids)
            proxy.down()  # and once more, mid-run
            ids += asyncio.run(drive(gw.urls, [CONFIG_KEY], 40))
            proxy.up()
            assert gw.stop() == [GRACEFUL]
            log = gw.log_text()
    finally:
        proxy.close()
    assert sorted(r[0] for r in usage_rows(pg_dsn)) == sorted(ids) and len(ids) == 80
    assert "unreachable" in log


async def answer(url: str, protocol: str) -> tuple[int, dict, str | None]:
    path, body = request(protocol, "mock-1", False, 16)
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + path, json=body, headers={"authorization": f"Bearer {CONFIG_KEY}"}) as resp,
    ):
        return resp.status, await resp.json(), resp.headers.get("retry-after")


def test_gateway_whose_governance_postgres_is_down_at_start_refuses_client_keys_until_it_returns(tmp_path, pg_dsn):
    proxy = TcpProxy()  # the usage log and the governance records reach PostgreSQL through it
    try:
        cfg = config(tmp_path / "data", proxy.dsn(pg_dsn))
        with GatewayProcs(cfg, tmp_path, 1) as gw:  # starts, though its client keys cannot be loaded
            status, body, retry_after = asyncio.run(answer(gw.urls[0], "openai_chat"))
            assert (status, retry_after) == (502, "5")
            assert "governance database is unreachable" in body["error"]["message"]
            status, body, _ = asyncio.run(answer(gw.urls[0], "anthropic"))
            assert status == 502 and body["type"] == "error"  # in each client protocol's shape
            assert gw.stop() == [GRACEFUL]  # SIGTERM works while it waits
            assert "client keys cannot be loaded" in gw.log_text()
            assert "rows could not be written" in gw.log_text()
        second = tmp_path / "second"
        second.mkdir()
        with GatewayProcs(cfg, second, 1) as gw:
            statuses = [asyncio.run(answer(gw.urls[0], "openai_chat"))[0]]
            proxy.up()
            deadline = time.monotonic() + 20
            while statuses[-1] == 502 and time.monotonic() < deadline:
                time.sleep(0.2)
                statuses.append(asyncio.run(answer(gw.urls[0], "openai_chat"))[0])
            assert statuses[0] == 502 and statuses[-1] == 200
            assert gw.stop() == [GRACEFUL]
    finally:
        proxy.close()
    # the second gateway's rows, refusals included (the first one's could not be written: it stopped while
    # PostgreSQL was still out of reach, and said so)
    counts = {
        r["status"]: r["n"] for r in fetch_sync(pg_dsn, "SELECT status, count(*) AS n FROM requests GROUP BY status")
    }
    assert counts == {502: len(statuses) - 1, 200: 1}
