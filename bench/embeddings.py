"""Embeddings benchmark: Switchyard's CPU per request on the embeddings endpoints, and the batching factor.

    python bench/embeddings.py                  # table on stdout, figures in bench/results-embeddings.json
    python bench/embeddings.py --seconds 2 --json /tmp/e.json

The gateway runs as ``python -m switchyard.cli`` with this interpreter (and its ``PYTHONPATH``).

A mock embeddings upstream (this file, ``--serve-mock``: OpenAI ``/v1/embeddings`` and Gemini
``:batchEmbedContents``, 1536-number vectors, each answer rendered once per input count and
encoding) and ``wrk`` run on CPU 1; Switchyard (defaults: usage log, metrics, client auth) on
CPU 0, as in ``bench/run.py``. Each scenario runs at 64 connections; the gateway's CPU seconds
over the run, divided by the requests answered, give the CPU per request. The batched scenario
sends single-input requests to a provider with ``embedding_batch: {max_inputs: 64, max_wait_ms: 10}``
and reads from the mock how many upstream calls, and inputs, they became.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from load import wrk
from lowlevel import serve
from run import BENCH_KEY, HEADERS, LOAD_CPU, Gateway, cpu_seconds

from switchyard.core.embeddings import pack_floats

HERE = Path(__file__).resolve().parent
MOCK_PORT = 9110
GATEWAY_PORT = 9310
DIMENSIONS = 1536
TEXT = "The quick brown fox jumps over the lazy dog near the river bank."


# -- the mock upstream ---------------------------------------------------------------------------


class EmbedMock:
    """Answers embeddings from pre-rendered bytes; ``GET /stats``: calls and inputs so far."""

    def __init__(self) -> None:
        self.vector = [round((n % 97) / 97 - 0.5, 6) for n in range(DIMENSIONS)]
        self.rendered: dict[tuple[str, int, bool], bytes] = {}
        self.calls = 0
        self.inputs = 0

    def answer(self, kind: str, count: int, base64: bool) -> bytes:
        key = (kind, count, base64)
        if key not in self.rendered:
            if kind == "gemini":
                body: dict[str, Any] = {"embeddings": [{"values": self.vector}] * count}
            else:
                value: Any = pack_floats(self.vector) if base64 else self.vector
                data = [{"object": "embedding", "index": n, "embedding": value} for n in range(count)]
                usage = {"prompt_tokens": 13 * count, "total_tokens": 13 * count}
                body = {"object": "list", "data": data, "model": "text-embedding-3-small", "usage": usage}
            self.rendered[key] = orjson.dumps(body)
        return self.rendered[key]

    async def handle(self, request: web.BaseRequest) -> web.Response:
        if request.method == "GET":
            stats = {"calls": self.calls, "inputs": self.inputs}
            return web.Response(body=orjson.dumps(stats), content_type="application/json")
        body = orjson.loads(await request.read())
        if request.path.endswith(":batchEmbedContents"):
            kind, count, base64 = "gemini", len(body["requests"]), False
        else:
            kind, count, base64 = "openai", len(body["input"]), body.get("encoding_format") == "base64"
        self.calls += 1
        self.inputs += count
        return web.Response(body=self.answer(kind, count, base64), content_type="application/json")


def mock_stats() -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{MOCK_PORT}/stats", timeout=5) as resp:
        return json.loads(resp.read())


# -- the gateway and the scenarios ---------------------------------------------------------------


@dataclass
class EmbedGateway(Gateway):
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{GATEWAY_PORT}"


def gateway(workdir: Path) -> EmbedGateway:
    mock = f"http://127.0.0.1:{MOCK_PORT}"
    config = {
        "server": {
            "host": "127.0.0.1",
            "port": GATEWAY_PORT,
            "data_dir": str(workdir / "data"),
            "auth_keys": [BENCH_KEY],
        },
        "providers": {
            "oa": {"type": "openai", "base_url": f"{mock}/v1", "api_keys": ["sk-mock"]},
            "gm": {"type": "gemini", "base_url": mock, "api_keys": ["gm-mock"]},
            "ob": {
                "type": "openai",
                "base_url": f"{mock}/v1",
                "api_keys": ["sk-mock"],
                "embedding_batch": {"max_inputs": 64, "max_wait_ms": 10},
            },
        },
        "models": {"bench-openai": ["mock/mock-1"]},  # what Gateway.start asks to know the gateway is up
    }
    path = workdir / "embeddings.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return EmbedGateway(
        "switchyard-embeddings", [sys.executable, "-m", "switchyard.cli", "serve", "--config", str(path)]
    )


def _openai(model: str, inputs: int, encoding: str) -> tuple[str, bytes]:
    value: Any = TEXT if inputs == 1 else [TEXT] * inputs
    return "/v1/embeddings", orjson.dumps({"model": model, "input": value, "encoding_format": encoding})


def _gemini(model: str, inputs: int) -> tuple[str, bytes]:
    one = {"model": f"models/{model}", "content": {"parts": [{"text": TEXT}]}}
    return f"/v1beta/models/{model}:batchEmbedContents", orjson.dumps({"requests": [one] * inputs})


SCENARIOS = {
    "openai->openai base64, 1 input": _openai("oa/text-embedding-3-small", 1, "base64"),
    "openai->openai base64, 16 inputs": _openai("oa/text-embedding-3-small", 16, "base64"),
    "openai->openai float, 1 input": _openai("oa/text-embedding-3-small", 1, "float"),
    "openai->gemini base64, 1 input": _openai("gm/gemini-embedding-001", 1, "base64"),
    "gemini->openai, 4 inputs": _gemini("oa/text-embedding-3-small", 4),
    "openai->openai batched, 1 input": _openai("ob/text-embedding-3-small", 1, "base64"),
}


def measure(gw: EmbedGateway, seconds: int) -> dict[str, dict[str, float]]:
    pid, out = gw.proc.pid, {}
    for name, (path, body) in SCENARIOS.items():
        url = gw.url + path
        wrk(url, body, HEADERS, 16, 1, LOAD_CPU)  # warm-up
        before, cpu0 = mock_stats(), cpu_seconds(pid)
        tp = wrk(url, body, HEADERS, 64, seconds, LOAD_CPU)
        cpu_ms = (cpu_seconds(pid) - cpu0) * 1000 / max(tp.requests, 1)
        after = mock_stats()
        calls = after["calls"] - before["calls"]
        out[name] = {
            "rate": tp.rate,
            "cpu_ms_per_request": cpu_ms,
            "p50_ms": tp.p50_ms,
            "errors": tp.errors,
            "upstream_calls_per_request": calls / max(tp.requests, 1),
            "inputs_per_upstream_call": (after["inputs"] - before["inputs"]) / max(calls, 1),
        }
    return out


def report(results: dict[str, dict[str, float]]) -> str:
    lines = [
        "| scenario | requests/s | CPU ms per request | p50 ms | upstream calls per request | inputs per upstream call | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['rate']:,.0f} | {r['cpu_ms_per_request']:.2f} | {r['p50_ms']:.1f} | "
            f"{r['upstream_calls_per_request']:.3f} | {r['inputs_per_upstream_call']:.1f} | {r['errors']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration per scenario (default 5)")
    parser.add_argument(
        "--json", type=Path, default=HERE / "results-embeddings.json", help="where to write the figures"
    )
    parser.add_argument("--serve-mock", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_mock:
        serve(EmbedMock().handle, MOCK_PORT)
        return
    os.sched_setaffinity(0, {int(LOAD_CPU)})
    workdir = Path(tempfile.mkdtemp(prefix="switchyard-bench-embeddings-"))
    mock = subprocess.Popen(
        ["taskset", "-c", LOAD_CPU, sys.executable, __file__, "--serve-mock"],
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "mock.log").open("wb"),
        start_new_session=True,
    )
    try:
        for _ in range(100):
            try:
                mock_stats()
                break
            except OSError:
                time.sleep(0.1)
        gw = gateway(workdir)
        gw.start(workdir / "gateway.log")
        try:
            results = measure(gw, args.seconds)
        finally:
            gw.stop()
    finally:
        os.killpg(mock.pid, signal.SIGTERM)
    print(report(results))
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    payload = {"machine": machine, "date": time.strftime("%Y-%m-%d"), "results": results}
    args.json.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nfigures written to {args.json}; logs in {workdir}")


if __name__ == "__main__":
    main()
