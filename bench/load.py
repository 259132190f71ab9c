"""Load generation for the benchmark: wrk for throughput, an aiohttp client for latency and open streams."""

from __future__ import annotations

import asyncio
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp


@dataclass
class Throughput:
    rate: float  # completed requests (or whole streams) per second
    requests: int
    errors: int  # non-2xx answers, socket errors and timeouts
    p50_ms: float
    p99_ms: float


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def wrk(url: str, body: bytes, headers: dict[str, str], connections: int, seconds: int, cpu: str) -> Throughput:
    """Run wrk (one thread, pinned to ``cpu``) against ``url`` with a fixed POST body."""
    lines = ['wrk.method = "POST"', f"wrk.body = {_lua_string(body.decode())}"]
    lines += [f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items()]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lines) + "\n")
    cmd = [
        "taskset",
        "-c",
        cpu,
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        script.name,
        url,
    ]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    finally:
        Path(script.name).unlink()
    return _parse_wrk(out)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * _UNITS[unit]


def _parse_wrk(out: str) -> Throughput:
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    seconds = _ms(re.search(r"requests in ([\d.]+\w+),", out).group(1)) / 1000
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(g) for g in m.groups())
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    return Throughput(requests / seconds if seconds else 0.0, requests, errors, p50, p99)


@dataclass
class Latency:
    p50_ms: float
    p99_ms: float
    ttfb_p50_ms: float  # first body byte
    rate: float  # requests per second, one after another
    errors: int


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _one(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]
) -> tuple[float, float, bool]:
    start = time.perf_counter()
    async with session.post(url, data=body, headers=headers) as resp:
        first = await resp.content.readany()
        ttfb = time.perf_counter()
        while await resp.content.readany():
            pass
        end = time.perf_counter()
        return (end - start) * 1000, (ttfb - start) * 1000, resp.status == 200 and bool(first)


async def _latency(targets: list[tuple[str, bytes]], headers: dict[str, str], n: int, batch: int) -> list[Latency]:
    sessions = [aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1), auto_decompress=False) for _ in targets]
    seen: list[list[tuple[float, float, bool]]] = [[] for _ in targets]
    try:
        for session, (url, body) in zip(sessions, targets, strict=True):  # warm-up: connections, caches
            for _ in range(batch):
                await _one(session, url, body, headers)
        while len(seen[0]) < n:  # batches in turn, so drift on a shared machine hits every target alike
            for i, (url, body) in enumerate(targets):
                for _ in range(batch):
                    seen[i].append(await _one(sessions[i], url, body, headers))
    finally:
        for session in sessions:
            await session.close()
    out = []
    for runs in seen:
        totals = [t for t, _, _ in runs]
        out.append(
            Latency(
                _percentile(totals, 0.5),
                _percentile(totals, 0.99),
                _percentile([f for _, f, _ in runs], 0.5),
                1000 * len(totals) / sum(totals),
                sum(1 for _, _, ok in runs if not ok),
            )
        )
    return out


def latency(targets: list[tuple[str, bytes]], headers: dict[str, str], n: int, batch: int = 20) -> list[Latency]:
    """Sequential requests, each target on its own kept-alive connection, in alternating batches of
    ``batch``: total time and time to the first byte per target."""
    return asyncio.run(_latency(targets, headers, n, batch))


@dataclass
class OpenStreams:
    streams: int
    completed: int
    errors: int
    seconds: float


async def _hold(url: str, body: bytes, headers: dict[str, str], n: int, marker: bytes) -> OpenStreams:
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False) as session:

        async def one() -> bool:
            try:
                async with session.post(url, data=body, headers=headers) as resp:
                    data = await resp.read()
                    return resp.status == 200 and marker in data
            except (TimeoutError, aiohttp.ClientError):
                return False

        start = time.perf_counter()
        results = await asyncio.gather(*(one() for _ in range(n)))
        seconds = time.perf_counter() - start
    completed = sum(results)
    return OpenStreams(n, completed, n - completed, seconds)


def hold_streams(url: str, body: bytes, headers: dict[str, str], n: int, marker: bytes) -> OpenStreams:
    """Open ``n`` streams at once and read each to its end; a stream counts when it ends with ``marker``."""
    return asyncio.run(_hold(url, body, headers, n, marker))
