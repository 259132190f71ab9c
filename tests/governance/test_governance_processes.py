"""Budgets and limits hold across real gateway processes: one process on the SQLite backend, and
three processes sharing Redis (and one data_dir), driven by hundreds of concurrent requests.

The budget test mixes the four client protocols, streams and whole answers, upstreams that fail,
and clients that leave mid-stream; afterwards no reservation or in-flight count is left, the spend
never exceeded the budget, and the ledger equals the usage log's costs for the key.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
from gateway_harness import closed_port
from gateway_procs import ADMIN_KEY, GatewayProcs, admin, new_key, request, send
from mock_upstreams import UpstreamHost, fixture_reply

from redis_support import REDIS_URL, fresh_prefix

PRICE = "{input: 2, output: 30}"
GRACEFUL = 0  # SIGTERM: the gateway drains, flushes and exits normally


@pytest.fixture(scope="module")
def upstreams():
    host = UpstreamHost()
    ups = {"an": host.add("anthropic"), "oc": host.add("openai_chat"), "slow": host.add("openai_chat")}
    yield ups
    host.close()


def config(ups, data_dir: Path, backend: str, prefix: str, **governance: object) -> str:
    extra = "".join(f"\n  {k}: {v}" for k, v in governance.items())
    return f"""
server:
  admin_keys: ["{ADMIN_KEY}"]
  data_dir: {data_dir}
routing:
  retries: 1
  timeouts: {{first_byte: 10, stall: 10, request: 60}}
state:
  backend: {backend}
  redis_url: {REDIS_URL}
  redis_prefix: "{prefix}"
governance:
  lease_seconds: 30{extra}
providers:
  an: {{type: anthropic, base_url: "{ups["an"].url}", api_keys: [sk-an-0001]}}
  oc: {{type: openai, base_url: "{ups["oc"].url}/v1", api_keys: [sk-oc-0001]}}
  slow: {{type: openai, base_url: "{ups["slow"].url}/v1", api_keys: [sk-slow-0001]}}
  dead: {{type: openai, base_url: "http://127.0.0.1:{closed_port()}/v1", api_keys: [sk-dead-0001]}}
pricing:
  mock-1: {PRICE}
  claude-gov: {PRICE}
  gpt-gov: {PRICE}
  gpt-slow: {PRICE}
  gpt-dead: {PRICE}
"""


# (client protocol, model, stream, max_tokens, the client leaves after the first chunk)
SCENARIOS = [
    ("openai_chat", "mock-1", False, 12, False),
    ("anthropic", "mock-1", True, 12, False),
    ("openai_responses", "mock-1", False, 16, False),
    ("gemini", "mock-1", True, 12, False),
    ("anthropic", "an/claude-gov", False, 20, False),  # same protocol: the fast path (12 tokens out)
    ("openai_chat", "oc/gpt-gov", True, 800, False),  # fast-path stream (712 tokens out)
    ("openai_chat", "dead/gpt-dead", False, 12, False),  # the upstream is down
    ("openai_responses", "slow/gpt-slow", True, 800, True),  # translated stream, the client leaves
]


def ledger_usd(data_dir: Path, key_id: str) -> float:
    with sqlite3.connect(data_dir / "governance.db") as conn:
        (nano,) = conn.execute(
            "SELECT COALESCE(SUM(nano), 0) FROM spend WHERE subject = ?", (f"key:{key_id}",)
        ).fetchone()
    return nano / 1e9


def usage_rows(data_dir: Path, key_id: str) -> list[tuple]:
    with sqlite3.connect(data_dir / "usage.db") as conn:
        return conn.execute("SELECT status, cost, error FROM requests WHERE client_key_id = ?", (key_id,)).fetchall()


async def key_state(session: aiohttp.ClientSession, url: str, key_id: str) -> dict:
    return await admin(session, url, "GET", f"/admin/client-keys/{key_id}")


@pytest.mark.parametrize("backend,processes", [("sqlite", 1), ("redis", 3)])
def test_budget_is_a_hard_cap_under_300_concurrent_requests(upstreams, tmp_path, backend, processes) -> None:
    budget = 0.15
    slow_stream = fixture_reply("openai_chat/stream_include_usage.sse", chunk_size=256, delay=0.05)
    upstreams["slow"].reset()
    upstreams["slow"].queue(*[slow_stream] * 300)
    with (
        fresh_prefix() as prefix,
        GatewayProcs(config(upstreams, tmp_path / "data", backend, prefix), tmp_path, processes) as gw,
    ):

        async def main() -> tuple[Counter, dict]:
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
                made = await new_key(session, gw.urls[0], "load", budget={"usd": budget, "window": "total"})

                async def one(i: int) -> tuple[str, int]:
                    protocol, model, stream, limit, leave = SCENARIOS[i % len(SCENARIOS)]
                    path, body = request(protocol, model, stream, limit)
                    status, _ = await send(session, gw.urls[i % processes], made["key"], path, body, leave_early=leave)
                    return f"{protocol} {model}", status

                outcomes = Counter(await asyncio.gather(*(one(i) for i in range(300))))
                await asyncio.sleep(0.5)  # the abandoned streams' handlers finish
                states = [await key_state(session, url, made["id"]) for url in gw.urls]
                return outcomes, {"made": made, "states": states}

        outcomes, info = asyncio.run(main())
        key_id = info["made"]["id"]
        for state in info["states"]:
            assert state["reserved_usd"] == 0, state
            assert state["in_flight"] == 0, state
        assert gw.stop() == [GRACEFUL] * processes
        log = gw.log_text()
    statuses = Counter(status for (_, status), n in outcomes.items() for _ in range(n))
    admitted = statuses[200]
    assert 0 < admitted < 300, outcomes
    assert statuses[429] > 0, outcomes
    # the dead upstream: 502, or 503 once its key cools after failures (and another request probes it)
    assert set(statuses) <= {200, 429, 502, 503}, outcomes
    assert all(status == 200 or status == 429 or "dead" in name for name, status in outcomes), outcomes
    rows = usage_rows(tmp_path / "data", key_id)
    spent = sum(cost or 0 for _, cost, _ in rows)
    assert spent <= budget
    assert ledger_usd(tmp_path / "data", key_id) == pytest.approx(spent, abs=1e-9 * len(rows))
    assert info["states"][0]["spend"]["usd"] == pytest.approx(spent, abs=1e-9 * len(rows))
    errors = Counter(error for _, _, error in rows)
    assert errors["client_gone"] > 0  # some clients did leave mid-stream
    assert "Traceback" not in log
    print(f"\n{backend} x{processes}: {admitted} of 300 admitted, spent ${spent:.6f} of ${budget}, {dict(statuses)}")


def wait_for_window_start(window: float) -> None:
    """Sleep until just after a rate window begins (so a burst falls inside one window)."""
    time.sleep(window - time.time() % window + 0.05)


@pytest.mark.parametrize("limit", ["rpm", "tpm"])
def test_rate_limit_is_one_limit_across_three_processes(upstreams, tmp_path, limit) -> None:
    """A limit of N per window admits exactly N in the window, whichever process serves them."""
    window = 3.0
    path, body = request("openai_chat", "slow/gpt-slow", False, 10)
    per_request = len(__import__("orjson").dumps(body)) // 4  # the admission's token estimate
    limits = {"rpm": 7} if limit == "rpm" else {"tpm": 7 * per_request}
    held = fixture_reply("openai_chat/response_plain_text.json", wait_before_headers=1.0)  # nothing settles early
    upstreams["slow"].reset()
    upstreams["slow"].queue(*[held] * 60)
    with (
        fresh_prefix() as prefix,
        GatewayProcs(config(upstreams, tmp_path / "data", "redis", prefix, rate_window=window), tmp_path, 3) as gw,
    ):

        async def main() -> list[int]:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
                made = await new_key(session, gw.urls[0], "rate", limits=limits)
                admitted = []
                for _ in range(2):  # two consecutive windows
                    await asyncio.to_thread(wait_for_window_start, window)
                    results = await asyncio.gather(
                        *(send(session, gw.urls[i % 3], made["key"], path, body) for i in range(24))
                    )
                    admitted.append(sum(status == 200 for status, _ in results))
                    assert {status for status, _ in results} <= {200, 429}
                return admitted

        assert asyncio.run(main()) == [7, 7]


def test_revocation_and_rotation_reach_every_process(upstreams, tmp_path) -> None:
    with (
        fresh_prefix() as prefix,
        GatewayProcs(config(upstreams, tmp_path / "data", "redis", prefix), tmp_path, 3) as gw,
    ):

        async def main() -> None:
            async with aiohttp.ClientSession() as session:
                path, body = request("anthropic", "mock-1", False, 8)
                made = await new_key(session, gw.urls[0], "roaming")
                for url in gw.urls:  # a key made on one process works on the others at once
                    assert (await send(session, url, made["key"], path, body))[0] == 200
                rotated = await admin(session, gw.urls[1], "POST", f"/admin/client-keys/{made['id']}/rotate")
                for url in gw.urls:
                    assert (await send(session, url, made["key"], path, body))[0] == 401
                    assert (await send(session, url, rotated["key"], path, body))[0] == 200
                await admin(session, gw.urls[2], "DELETE", f"/admin/client-keys/{made['id']}")
                for url in gw.urls:
                    status, answer = await send(session, url, rotated["key"], path, body)
                    assert status == 401 and b"revoked" in answer

        asyncio.run(main())


def test_a_killed_process_releases_its_holds_after_the_lease(upstreams, tmp_path) -> None:
    """SIGKILL mid-stream: the in-flight slot and the reservation come back when the lease ends."""
    upstreams["slow"].reset()
    upstreams["slow"].queue(fixture_reply("openai_chat/stream_include_usage.sse", chunk_size=64, delay=0.2))
    cfg = config(upstreams, tmp_path / "data", "redis", "", lease_seconds=2)
    with (
        fresh_prefix() as prefix,
        GatewayProcs(cfg.replace('redis_prefix: ""', f'redis_prefix: "{prefix}"'), tmp_path, 2) as gw,
    ):

        async def main() -> float:
            async with aiohttp.ClientSession() as session:
                made = await new_key(
                    session, gw.urls[0], "doomed", budget={"usd": 1, "window": "total"}, limits={"max_parallel": 1}
                )
                path, body = request("openai_chat", "slow/gpt-slow", True, 800)
                async with session.post(
                    gw.urls[0] + path, json=body, headers={"authorization": f"Bearer {made['key']}"}
                ) as resp:
                    assert resp.status == 200
                    await resp.content.readany()
                    gw.kill(0)
                state = await key_state(session, gw.urls[1], made["id"])
                assert state["in_flight"] == 1 and state["reserved_usd"] > 0
                quick_path, quick = request("openai_chat", "mock-1", False, 8)
                assert (await send(session, gw.urls[1], made["key"], quick_path, quick))[0] == 429
                killed_at = time.monotonic()
                while (await send(session, gw.urls[1], made["key"], quick_path, quick))[0] != 200:
                    assert time.monotonic() - killed_at < 10, "the dead process's hold never expired"
                    await asyncio.sleep(0.2)
                state = await key_state(session, gw.urls[1], made["id"])
                assert state["in_flight"] == 0 and state["reserved_usd"] == 0
                return time.monotonic() - killed_at

        released_after = asyncio.run(main())
        assert released_after <= 2.5 + 1.0
