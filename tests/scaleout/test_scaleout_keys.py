"""Upstream key state is one view across three gateway processes sharing Redis: a cooldown or a
disabled key seen by one process is honoured by the others, rotation stays fair overall, and a
session keeps its key whichever process serves it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pytest
from gateway_harness import HTTPResult, call
from gateway_procs import GatewayProcs
from test_server_keys import FaultUpstream, attempts, keyset

from pg_support import fetch_sync
from redis_support import REDIS_URL, fresh_prefix


@pytest.fixture(scope="module")
def upstream() -> Iterator[FaultUpstream]:
    up = FaultUpstream()
    yield up
    up.close()


def three(
    upstream: FaultUpstream, tmp_path: Path, prefix: str, keys: list[str], extra: str = "", dsn: str | None = None
) -> GatewayProcs:
    """Three gateways sharing Redis (and, with ``dsn``, a usage log on PostgreSQL)."""
    usage = f'observability: {{usage_log: {{backend: postgres, dsn: "{dsn}"}}}}' if dsn else ""
    config = f"""{usage}
server:
  data_dir: {tmp_path / "data"}
state: {{backend: redis, redis_url: "{REDIS_URL}", redis_prefix: "{prefix}"}}
routing:
  retries: 2
  timeouts: {{first_byte: 5, stall: 5, request: 20}}
  cooldown: {{base: 5, max: 300}}
providers:
  pool:
    type: openai
    base_url: {upstream.url}/v1
    api_keys: {orjson.dumps(keys).decode()}{extra}
"""
    return GatewayProcs(config, tmp_path, 3)


def chat(url: str, headers: dict[str, str] | None = None) -> HTTPResult:
    body = {"model": "pool/gpt-x", "messages": [{"role": "user", "content": "hi"}]}
    return call(url + "/v1/chat/completions", "POST", body, headers)


def states(url: str) -> dict[str, dict]:
    resp = call(url + "/admin/keys", "GET")
    assert resp.status == 200
    return {k["key"][-4:]: k for k in resp.json["pool"]}


def wait_until(check, what: str, timeout: float = 5.0) -> float:
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout, f"{what} did not happen within {timeout} s"
        time.sleep(0.002)
    return time.monotonic() - start


def first_failing(gw: GatewayProcs, url: str, bad: str) -> HTTPResult:
    """Requests to ``url`` until one tries the key ending in ``bad`` (balanced rotation reaches it)."""
    for _ in range(10):
        resp = chat(url)
        assert resp.status == 200, resp.body
        if any(k == bad and outcome != "ok" for k, outcome in attempts(resp)):
            return resp
    raise AssertionError(f"no request tried key …{bad}")


def test_a_429_seen_by_one_process_cools_the_key_on_every_process(upstream, tmp_path) -> None:
    keys = keyset("sk-share-429", 3)
    upstream.set("retry-after:60", keys[0])
    with fresh_prefix() as prefix, three(upstream, tmp_path, prefix, keys) as gw:
        first_failing(gw, gw.urls[0], "0001")
        seen = upstream.seen[keys[0]]
        lag = [
            wait_until(lambda url=url: "gpt-x" in states(url)["0001"]["cooling_models_s"], f"cooldown on {url}")
            for url in gw.urls[1:]
        ]
        for url in gw.urls[1:]:
            cooling = states(url)["0001"]["cooling_models_s"]["gpt-x"]
            assert 55 <= cooling <= 60  # the upstream's retry-after, not a fresh backoff
            for _ in range(6):
                resp = chat(url)
                assert resp.status == 200 and all(k != "0001" for k, _ in attempts(resp))
        assert upstream.seen[keys[0]] == seen  # nobody hammered the cooling key
        print(f"\ncooldown propagation: {max(lag) * 1000:.1f} ms (polled)")


def test_a_401_disables_the_key_on_every_process(upstream, tmp_path) -> None:
    keys = keyset("sk-share-401", 2)
    upstream.set("401", keys[1])
    with fresh_prefix() as prefix, three(upstream, tmp_path, prefix, keys) as gw:
        first_failing(gw, gw.urls[2], "0002")
        for url in gw.urls[:2]:
            wait_until(lambda url=url: states(url)["0002"]["status"] == "disabled", f"disabled on {url}")
            for _ in range(4):
                assert all(k != "0002" for k, _ in attempts(chat(url)))
        assert upstream.seen[keys[1]] == 1


def test_balanced_rotation_stays_fair_across_processes(upstream, tmp_path, pg_dsn) -> None:
    """300 requests round-robin over three processes: fair over the keys, and one usage row each
    in the PostgreSQL usage log they share."""
    keys = keyset("sk-share-fair", 3)
    with fresh_prefix() as prefix, three(upstream, tmp_path, prefix, keys, dsn=pg_dsn) as gw:
        with ThreadPoolExecutor(12) as pool:
            answers = list(pool.map(lambda i: chat(gw.urls[i % 3]), range(300)))
        assert [a.status for a in answers] == [200] * 300
        counts = [upstream.seen[k] for k in keys]
        assert sum(counts) == 300
        assert all(80 <= c <= 120 for c in counts), counts  # within 20% of an even share
        gw.stop()  # SIGTERM: each process writes its pending rows
    ids = sorted(a.headers["x-request-id"] for a in answers)
    assert sorted(r[0] for r in fetch_sync(pg_dsn, "SELECT request_id FROM requests")) == ids  # none lost or twice


def test_session_affinity_holds_across_processes(upstream, tmp_path) -> None:
    keys = keyset("sk-share-aff", 3)
    with fresh_prefix() as prefix, three(upstream, tmp_path, prefix, keys) as gw:
        for n in range(6):
            session = {"x-session-id": f"session-{n}"}
            first = attempts(chat(gw.urls[n % 3], session))[-1][0]
            for url in gw.urls:
                for _ in range(2):
                    assert attempts(chat(url, session))[-1][0] == first


def test_max_concurrency_holds_across_processes(upstream, tmp_path) -> None:
    """Each key serves one request at a time, whichever of three processes sends it."""
    keys = keyset("sk-share-conc", 2)
    upstream.set("slow:0.3", *keys)
    with fresh_prefix() as prefix, three(upstream, tmp_path, prefix, keys, "\n    max_concurrency: 1") as gw:
        with ThreadPoolExecutor(9) as pool:
            results = list(pool.map(lambda i: chat(gw.urls[i % 3]).status, range(9)))
        assert results == [200] * 9
        assert [upstream.peak[k] for k in keys] == [1, 1]
        assert sum(upstream.seen[k] for k in keys) == 9
