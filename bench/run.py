"""Side-by-side benchmark: Switchyard, LiteLLM's proxy, Portkey's gateway and a bare pass-through
proxy on one mock.

    python bench/run.py                 # 3 rounds, medians, table + bench/results.json
    python bench/run.py --rounds 1 --seconds 2 --only switchyard,portkey,floor

Each gateway runs alone, pinned to CPU 0; the mock upstream, wrk and this script run on CPU 1.
The gateways are run one after another in each round (rounds interleave them, so a noisy moment
of the shared machine does not land on one gateway only) and every figure is the median over the
rounds. LiteLLM is installed on first use into its own venv at a pinned version
(``~/.cache/switchyard-bench/litellm-<version>``), Portkey with npm into
``~/.cache/switchyard-bench/portkey-<version>`` (run by Node through ``bench/portkey.mjs``, which
keeps it on 127.0.0.1); wrk, and Node when it is missing, come from the system's packages.

Scenarios: OpenAI -> OpenAI and Anthropic -> Anthropic (same protocol), Anthropic client -> OpenAI
upstream and Responses client -> Anthropic upstream (cross protocol); each non-stream and as a
stream of 20 text chunks with usage; each at 64 connections (wrk: requests or whole streams per
second, gateway CPU per request, errors) and at 1 connection (added p50/p99 latency over calling
the mock directly in the upstream's protocol, time to first byte). Then start-up time to the
first answer, peak RSS after the suite, and 10,000 streams held open at once through Switchyard.
The floor forwards a client's request to the mock in the client's own protocol (it translates
nothing), so a cross-protocol row compares Switchyard translating with the floor not translating.
Portkey is routed by headers (``x-portkey-provider``, ``x-portkey-custom-host``) and answers neither
an Anthropic client from an OpenAI upstream nor a Responses client from an Anthropic one: those
cells are "not supported".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from load import hold_streams, latency, wrk

HERE = Path(__file__).resolve().parent
LITELLM_VERSION = "1.106.2"
LITELLM_VENV = Path.home() / ".cache" / "switchyard-bench" / f"litellm-{LITELLM_VERSION}"
PORTKEY_VERSION = "1.15.2"
PORTKEY_DIR = Path.home() / ".cache" / "switchyard-bench" / f"portkey-{PORTKEY_VERSION}"
PORTKEY_START = PORTKEY_DIR / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
# as Portkey's own lockfile has them: npm would resolve a newer @hono/node-server, under which every
# Portkey stream fails with HTTP 500 "TypeError: immutable" (Portkey issue #1389)
PORTKEY_PINS = {"@hono/node-server": "1.13.5", "@hono/node-ws": "1.2.0", "hono": "4.9.7"}
MOCK_PORT = 9100
PORTS = {
    "switchyard": 9301,
    "litellm": 9302,
    "floor": 9303,
    "portkey": 9310,
    "sy-gov": 9304,
    "sy-gov-redis": 9305,
    "sy-redis": 9306,
    "sy-workers2": 9307,
    "sy-pcache": 9308,
    "sy-quota": 9309,
}


@dataclass(frozen=True)
class Variant:
    """Switchyard with something turned on, measured against its defaults."""

    governed: bool = False  # the bench key is a client key with a budget and an RPM limit
    redis: bool = False  # state.backend: redis (key state, counters shared through Redis)
    workers: int = 1
    prompt_cache: bool = False  # prompt_cache: auto on the Anthropic provider
    quotas: bool = False  # declared quota windows on every provider (never reached), counted in SQLite


VARIANTS = {
    "sy-gov": Variant(governed=True),
    "sy-gov-redis": Variant(governed=True, redis=True),
    "sy-redis": Variant(redis=True),
    "sy-workers2": Variant(redis=True, workers=2),  # on both CPUs (the others are pinned to one)
    "sy-pcache": Variant(prompt_cache=True),
    "sy-quota": Variant(quotas=True),
}
QUOTAS = [
    {"requests": 10**12, "window": "1d", "reset": "00:00 America/Los_Angeles"},
    {"tokens": 10**15, "window": "1m"},
]
GATEWAY_CPU, LOAD_CPU = "0", "1"
BENCH_KEY = "sk-bench-5f0c2a9e7d4b41c3a8e6f1b2d9c07e35"  # the client key every gateway checks (but the floor)
HEADERS = {
    "Content-Type": "application/json",
    "Authorization": f"Bearer {BENCH_KEY}",
    "x-api-key": BENCH_KEY,
    "anthropic-version": "2023-06-01",
}
PROMPT = "Say hello"


@dataclass(frozen=True)
class Protocol:
    path: str
    done: bytes  # how a complete stream ends

    def body(self, model: str, stream: bool) -> bytes:
        return json.dumps(_BODIES[self.path](model, stream)).encode()


def _chat(model: str, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 64}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return body


def _messages(model: str, stream: bool) -> dict[str, Any]:
    return {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": PROMPT}], "stream": stream}


def _responses(model: str, stream: bool) -> dict[str, Any]:
    # store: false as Codex sends it (a stored response is a database write, which LiteLLM does not do)
    return {"model": model, "input": PROMPT, "max_output_tokens": 64, "store": False, "stream": stream}


_BODIES = {"/v1/chat/completions": _chat, "/v1/messages": _messages, "/v1/responses": _responses}
CHAT = Protocol("/v1/chat/completions", b"[DONE]")
ANTHROPIC = Protocol("/v1/messages", b"message_stop")
RESPONSES = Protocol("/v1/responses", b"response.completed")


@dataclass(frozen=True)
class Scenario:
    name: str
    client: Protocol
    upstream: Protocol
    model: str  # an alias every gateway maps to the mock in the upstream's protocol

    @property
    def same_protocol(self) -> bool:
        return self.client == self.upstream


SCENARIOS = [
    Scenario("openai->openai", CHAT, CHAT, "bench-openai"),
    Scenario("anthropic->anthropic", ANTHROPIC, ANTHROPIC, "bench-anthropic"),
    Scenario("anthropic->openai", ANTHROPIC, CHAT, "bench-openai"),
    Scenario("responses->anthropic", RESPONSES, ANTHROPIC, "bench-anthropic"),
]


# -- processes -----------------------------------------------------------------------------------


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pid: int) -> float:
    total = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / os.sysconf("SC_CLK_TCK")


def memory_mib(pid: int, key: str) -> float:
    """Sum of a /proc status field (VmRSS, VmHWM) over the process tree, in MiB."""
    total = 0
    for p in _tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith(key + ":"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float = 2.0) -> bool:
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status == 200 and bool(resp.read())
    except OSError:
        return False


def _no_route(sc: Scenario) -> dict[str, str]:
    return {}


@dataclass
class Gateway:
    name: str
    cmd: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cpus: str = GATEWAY_CPU
    route: Callable[[Scenario], dict[str, str] | None] = _no_route
    """The headers that route a scenario's requests, besides :data:`HEADERS` (None: not supported)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{PORTS[self.name]}"

    def headers(self, sc: Scenario) -> dict[str, str] | None:
        route = self.route(sc)
        return None if route is None else HEADERS | route

    def start(self, log: Path, deadline: float = 60.0) -> float:
        """Start pinned to the gateway CPU; seconds until the first answer."""
        begin = time.perf_counter()
        self.log = log.open("ab")
        self.proc = subprocess.Popen(
            ["taskset", "-c", self.cpus, *self.cmd],
            env={**os.environ, **self.env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        probe, headers = CHAT.body("bench-openai", False), self.headers(SCENARIOS[0])
        assert headers is not None  # every gateway serves OpenAI -> OpenAI
        while time.perf_counter() - begin < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited with {self.proc.returncode}; see {log}")
            if _post(self.url + CHAT.path, probe, headers, timeout=1.0):
                return time.perf_counter() - begin
            time.sleep(0.02)
        self.stop()
        raise SystemExit(f"{self.name} gave no answer within {deadline:.0f} s; see {log}")

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()


def switchyard(workdir: Path, name: str = "switchyard") -> Gateway:
    """Switchyard with its defaults, or as one of the :data:`VARIANTS` (a governed bench key: a
    client key with a budget and a rate limit, never reached; Redis-shared state; two workers;
    automatic prompt caching on the Anthropic upstream)."""
    mock = f"http://127.0.0.1:{MOCK_PORT}"
    variant = VARIANTS.get(name, Variant())
    key: Any = BENCH_KEY
    if variant.governed:
        key = {"key": BENCH_KEY, "name": "bench", "budget": {"usd": 1e6, "window": "month"}, "limits": {"rpm": 10**9}}
    config: dict[str, Any] = {
        "server": {
            "host": "127.0.0.1",
            "port": PORTS[name],
            "data_dir": str(workdir / f"{name}-data"),
            "auth_keys": [key],
        },
        "providers": {
            "oa": {"type": "openai", "base_url": f"{mock}/v1", "api_keys": ["sk-mock"]},
            "an": {"type": "anthropic", "base_url": mock, "api_keys": ["sk-mock"]},
        },
        "models": {
            "bench-openai": ["oa/mock-model"],
            "bench-anthropic": ["an/mock-model"],
            "bench-slow": ["oa/mock-slow"],
        },
        "pricing": {"mock-model": {"input": 1.0, "output": 2.0}, "mock-slow": {"input": 1.0, "output": 2.0}},
    }
    if variant.prompt_cache:
        config["providers"]["an"]["prompt_cache"] = "auto"
    if variant.quotas:
        for provider in config["providers"].values():
            provider["quotas"] = QUOTAS
    if variant.redis:
        config["state"] = {"backend": "redis", "redis_prefix": f"switchyard-bench-{os.getpid()}-{name}:"}
    path = workdir / f"{name}.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    exe = shutil.which("switchyard") or sys.exit("switchyard is not installed: python3 -m pip install -e .")
    cmd = [exe, "serve", "--config", str(path), "--workers", str(variant.workers)]
    return Gateway(name, cmd, cpus="0,1" if variant.workers > 1 else GATEWAY_CPU)


def litellm(workdir: Path) -> Gateway:
    mock = f"http://127.0.0.1:{MOCK_PORT}"

    def entry(name: str, model: str, base: str) -> dict[str, Any]:
        return {"model_name": name, "litellm_params": {"model": model, "api_base": base, "api_key": "sk-mock"}}

    config = {
        "model_list": [
            entry("bench-openai", "openai/mock-model", f"{mock}/v1"),
            entry("bench-anthropic", "anthropic/mock-model", mock),
            entry("bench-slow", "openai/mock-slow", f"{mock}/v1"),
        ],
        "litellm_settings": {"drop_params": True, "telemetry": False},
        "general_settings": {"master_key": BENCH_KEY},
    }
    path = workdir / "litellm.yaml"
    path.write_text(json.dumps(config))
    env = {
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no download of the price list at start-up
        "LITELLM_TELEMETRY": "False",
        "LITELLM_LOG": "ERROR",
        "NO_DOCS": "True",
    }
    cmd = [str(LITELLM_VENV / "bin" / "litellm"), "--config", str(path), "--host", "127.0.0.1"]
    return Gateway("litellm", [*cmd, "--port", str(PORTS["litellm"]), "--num_workers", "1"], env)


def portkey(workdir: Path) -> Gateway:
    cmd = ["node", str(HERE / "portkey.mjs"), str(PORTKEY_START), f"--port={PORTS['portkey']}", "--headless"]
    return Gateway("portkey", cmd, route=_portkey_route)


def _portkey_route(sc: Scenario) -> dict[str, str] | None:
    """Portkey's headers for a scenario: the upstream's provider and the mock as its host. Portkey
    answers a Messages request only from an Anthropic provider ("messages is not supported by
    openai") and a Responses request not from an Anthropic one."""
    if not (sc.same_protocol or sc.client == CHAT):
        return None
    provider = "openai" if sc.upstream == CHAT else "anthropic"
    return {"x-portkey-provider": provider, "x-portkey-custom-host": f"http://127.0.0.1:{MOCK_PORT}/v1"}


def floor(workdir: Path) -> Gateway:
    upstream = f"http://127.0.0.1:{MOCK_PORT}"
    return Gateway(
        "floor", [sys.executable, str(HERE / "floor.py"), "--port", str(PORTS["floor"]), "--upstream", upstream]
    )


def _redis_up() -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def ensure_tools(names: list[str]) -> None:
    if shutil.which("wrk") is None:
        print("installing wrk (apt-get)", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, stdout=subprocess.DEVNULL)
    if "litellm" in names and not (LITELLM_VENV / "bin" / "litellm").exists():
        print(f"installing LiteLLM {LITELLM_VERSION} into {LITELLM_VENV}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
        pip = [str(LITELLM_VENV / "bin" / "pip"), "install", "-q", f"litellm[proxy]=={LITELLM_VERSION}"]
        subprocess.run(pip, check=True)
    if "portkey" in names and not PORTKEY_START.exists():
        install_portkey()


def install_portkey() -> None:
    """Portkey's gateway and its pinned Hono packages, with npm, into :data:`PORTKEY_DIR`."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        print("installing Node.js and npm (apt-get)", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "-q", "nodejs", "npm"], check=True, stdout=subprocess.DEVNULL)
    print(f"installing Portkey {PORTKEY_VERSION} into {PORTKEY_DIR}", file=sys.stderr)
    PORTKEY_DIR.mkdir(parents=True, exist_ok=True)
    package = {
        "name": "switchyard-bench-portkey",
        "private": True,
        "dependencies": {"@portkey-ai/gateway": PORTKEY_VERSION, **PORTKEY_PINS},
        "overrides": PORTKEY_PINS,
    }
    (PORTKEY_DIR / "package.json").write_text(json.dumps(package, indent=2) + "\n")
    # no install scripts: the package's postinstall runs patch-package, which it neither ships nor needs
    npm = ["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", "--omit=dev", "--loglevel=error"]
    subprocess.run(npm, cwd=PORTKEY_DIR, check=True)


# -- measuring -----------------------------------------------------------------------------------


def measure_gateway(gw: Gateway, args: argparse.Namespace, logs: Path) -> dict[str, Any]:
    result: dict[str, Any] = {"startup_s": gw.start(logs / f"{gw.name}.log")}
    try:
        _measure_scenarios(gw, args, result)
        result["peak_rss_mib"] = memory_mib(gw.proc.pid, "VmHWM")
        if gw.name == "switchyard" and args.open_streams:
            result["open_streams"] = open_streams(gw, args.open_streams)
    finally:
        gw.stop()
    return result


def _measure_scenarios(gw: Gateway, args: argparse.Namespace, result: dict[str, Any]) -> None:
    pid = gw.proc.pid
    for sc in SCENARIOS:
        headers = gw.headers(sc)
        for stream in (False, True):
            key = f"{sc.name} {'stream' if stream else 'non-stream'}"
            if headers is None:
                result[key] = {"supported": False}
                continue
            url = gw.url + sc.client.path
            body = sc.client.body(sc.model, stream)
            wrk(url, body, headers, 16, 1, LOAD_CPU)  # warm-up
            cpu0 = cpu_seconds(pid)
            tp = wrk(url, body, headers, 64, args.seconds, LOAD_CPU)
            cpu_ms = (cpu_seconds(pid) - cpu0) * 1000 / max(tp.requests, 1)
            # the base for "added": the mock called directly in the upstream's protocol, interleaved
            direct_url = f"http://127.0.0.1:{MOCK_PORT}{sc.upstream.path}"
            lat, direct = latency(
                [(url, body), (direct_url, sc.upstream.body("mock-model", stream))], headers, args.requests
            )
            result[key] = {
                "rate_64": tp.rate,
                "p50_64_ms": tp.p50_ms,
                "p99_64_ms": tp.p99_ms,
                "errors_64": tp.errors,
                "cpu_ms_per_request": cpu_ms,
                "rate_1": lat.rate,
                "added_p50_ms": lat.p50_ms - direct.p50_ms,
                "added_p99_ms": lat.p99_ms - direct.p99_ms,
                "ttfb_p50_ms": lat.ttfb_p50_ms,
                "errors_1": lat.errors,
            }


def open_streams(gw: Gateway, n: int) -> dict[str, Any]:
    """``n`` slow streams (20 chunks, 0.1 s apart) held open at once; the RSS peak meanwhile."""
    pid, peak, done = gw.proc.pid, [0.0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], memory_mib(pid, "VmRSS"))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        held = hold_streams(gw.url + CHAT.path, CHAT.body("bench-slow", True), HEADERS, n, CHAT.done)
    finally:
        done.set()
        sampler.join()
    return {**asdict(held), "rss_peak_mib": peak[0]}


def median_of(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Key-wise median of nested result dicts (numbers only; other values from the first round)."""
    first = rounds[0]
    out: dict[str, Any] = {}
    for k, v in first.items():
        if isinstance(v, dict):
            out[k] = median_of([r[k] for r in rounds])
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[k] = statistics.median(r[k] for r in rounds)
        else:
            out[k] = v
    return out


# -- report --------------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if not a or not b else f"{a / b:.2f}x"


def _table(header: list[str], rows: list[list[str]], markdown: bool) -> list[str]:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return lines + ["| " + " | ".join(row) + " |" for row in rows]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in [header, *rows]
    ]


PEERS = {"switchyard": "Switchyard", "litellm": "LiteLLM", "portkey": "Portkey", "floor": "floor"}
"""The gateways side by side in the report, with their names in it."""


def _cell(figures: dict[str, Any], key: str, digits: int) -> str:
    return "not supported" if figures.get("supported") is False else _fmt(figures.get(key), digits)


def report(results: dict[str, dict[str, Any]], markdown: bool = False) -> str:
    """The figures as three tables (aligned text, or Markdown for the README)."""
    gateways = [results.get(n, {}) for n in PEERS]
    sy = gateways[0]
    rows = [f"{sc.name} {m}" for sc in SCENARIOS for m in ("non-stream", "stream")]

    def cells(row: str, key: str, digits: int) -> list[str]:
        return [_cell(g.get(row, {}), key, digits) for g in gateways]

    def ratio(row: str, other: int) -> str:
        return _ratio(sy.get(row, {}).get("rate_64"), gateways[other].get(row, {}).get("rate_64"))

    def errors(row: str) -> str:
        return _fmt(sum(g.get(row, {}).get("errors_64", 0) + g.get(row, {}).get("errors_1", 0) for g in gateways))

    throughput = [
        [
            row,
            *cells(row, "rate_64", 0),
            *(ratio(row, other) for other in range(1, len(gateways))),
            *cells(row, "cpu_ms_per_request", 2),
            errors(row),
        ]
        for row in rows
    ]
    latency_rows = [
        [row, *cells(row, "added_p50_ms", 2), *cells(row, "added_p99_ms", 2), *cells(row, "ttfb_p50_ms", 2)]
        for row in rows
    ]
    names = list(PEERS.values())
    lines = ["64 connections: requests (non-stream) or whole streams per second; gateway CPU ms per request"]
    header = ["scenario", *(f"{g} /s" for g in names), *(f"SY/{g}" for g in names[1:]), *(f"CPU ms {g}" for g in names)]
    lines += _table([*header, "errors"], throughput, markdown)
    lines += [
        "",
        "1 connection: latency added over calling the mock directly, p50 and p99; time to first byte p50 (ms)",
    ]
    header = ["scenario", *(f"p50 {g}" for g in names), *(f"p99 {g}" for g in names), *(f"TTFB {g}" for g in names)]
    lines += _table(header, latency_rows, markdown)
    summary = [
        ["start-up to first answer (s)", *(_fmt(g.get("startup_s"), 2) for g in gateways)],
        ["peak RSS after the suite (MiB)", *(_fmt(g.get("peak_rss_mib")) for g in gateways)],
    ]
    lines += ["", *_table(["", *names], summary, markdown)]
    if held := sy.get("open_streams"):
        lines += [
            "",
            f"{held['streams']:,} streams held open at once through Switchyard: {held['completed']:,.0f} completed,"
            f" {held['errors']:.0f} errors, RSS peak {held['rss_peak_mib']:.0f} MiB",
        ]
    variants = [n for n in VARIANTS if results.get(n)]
    if variants and sy:
        lines += [
            "",
            "Variants at 64 connections: gateway CPU ms per request, its difference to Switchyard's defaults, and"
            " throughput relative to them (sy-gov: governed key, SQLite; sy-gov-redis: governed key, Redis;"
            " sy-redis: key state shared through Redis; sy-workers2: two workers on both CPUs, Redis;"
            " sy-pcache: prompt_cache: auto on the Anthropic upstream;"
            " sy-quota: quota windows on every provider, SQLite)",
        ]
        header = [
            "scenario",
            "CPU ms Switchyard",
            *(f"+ms {n}" for n in variants),
            *(f"/s {n} vs SY" for n in variants),
        ]
        variant_rows = []
        for row in rows:
            base, rate = sy.get(row, {}).get("cpu_ms_per_request"), sy.get(row, {}).get("rate_64")
            cpu = [results[n].get(row, {}).get("cpu_ms_per_request") for n in variants]
            deltas = [_fmt(c - base, 3) if c is not None and base is not None else "-" for c in cpu]
            ratios = [_ratio(results[n].get(row, {}).get("rate_64"), rate) for n in variants]
            variant_rows.append([row, _fmt(base, 3), *deltas, *ratios])
        lines += _table(header, variant_rows, markdown)
    return "\n".join(lines)


def targets(results: dict[str, dict[str, Any]]) -> list[tuple[str, bool | None, str]]:
    """The performance issue's targets: (what, met, measured); met is None when a figure is missing."""
    sy, fl = results.get("switchyard", {}), results.get("floor", {})
    out: list[tuple[str, bool | None, str]] = []
    for sc in SCENARIOS:
        for mode, same, cross in (("non-stream", 0.8, 0.6), ("stream", 0.7, 0.5)):
            row, need = f"{sc.name} {mode}", same if sc.same_protocol else cross
            a, b = sy.get(row, {}).get("rate_64"), fl.get(row, {}).get("rate_64")
            ratio = a / b if a and b else None
            out.append(
                (
                    f"{row}: >= {need:.0%} of the floor",
                    None if ratio is None else ratio >= need,
                    _fmt(ratio and ratio * 100) + "%",
                )
            )
    for sc in SCENARIOS:
        for mode in ("non-stream", "stream"):
            row = f"{sc.name} {mode}"
            p50, p99 = sy.get(row, {}).get("added_p50_ms"), sy.get(row, {}).get("added_p99_ms")
            out.append(
                (
                    f"{row}: added p50 <= 0.4 ms, p99 <= 1.5 ms at 1 connection",
                    None if p50 is None or p99 is None else p50 <= 0.4 and p99 <= 1.5,
                    f"{_fmt(p50, 2)} / {_fmt(p99, 2)} ms",
                )
            )
    rss, start = sy.get("peak_rss_mib"), sy.get("startup_s")
    out.append(("peak RSS after the suite <= 80 MiB", None if rss is None else rss <= 80, f"{_fmt(rss)} MiB"))
    out.append(("start-up to first answer < 1 s", None if start is None else start < 1, f"{_fmt(start, 2)} s"))
    if held := sy.get("open_streams"):
        ok = held["streams"] >= 10_000 and held["errors"] == 0 and held["rss_peak_mib"] <= 500
        out.append(
            (
                "10,000 open streams, no errors, RSS <= 500 MiB",
                ok,
                f"{held['streams']:,} streams, {held['errors']:.0f} errors, {held['rss_peak_mib']:.0f} MiB",
            )
        )
    return out


def _print_targets(checks: list[tuple[str, bool | None, str]]) -> None:
    print()
    for what, met, measured in checks:
        print(f"{'met ' if met else 'MISS' if met is False else '  ? '}  {what}: {measured}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Switchyard vs LiteLLM vs Portkey vs a bare pass-through proxy")
    parser.add_argument("--rounds", type=int, default=3, help="repeat and take medians (default 3)")
    parser.add_argument("--seconds", type=int, default=4, help="wrk duration per scenario (default 4)")
    parser.add_argument("--requests", type=int, default=200, help="sequential requests at 1 connection (default 200)")
    parser.add_argument("--open-streams", type=int, default=10_000, help="streams held open at once (0: skip)")
    parser.add_argument(
        "--only",
        default="switchyard,litellm,portkey,floor," + ",".join(VARIANTS),
        help="comma-separated gateways; the sy-* variants are Switchyard with governance (sy-gov, sy-gov-redis), "
        "Redis-shared state (sy-redis), two workers (sy-workers2), automatic prompt caching (sy-pcache) "
        "and quota windows (sy-quota)",
    )
    parser.add_argument("--json", type=Path, default=HERE / "results.json", help="where to write the figures")
    parser.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    parser.add_argument("--from-json", type=Path, help="measure nothing: print the report of a saved run")
    args = parser.parse_args()
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        print(f"{saved['date']}, {saved['machine']}, rounds: {saved['rounds']} (medians)\n")
        print(report(saved["results"], args.markdown))
        _print_targets(targets(saved["results"]))
        return
    names = [n for n in args.only.split(",") if n]
    if not _redis_up():
        for name in [n for n in names if n in VARIANTS and VARIANTS[n].redis]:
            print(f"skipping {name}: no Redis answers on 127.0.0.1:6379", file=sys.stderr)
            names.remove(name)
    if os.cpu_count() is None or os.cpu_count() < 2:
        sys.exit("the benchmark needs two CPUs (gateway on one, mock and load on the other)")
    ensure_tools(names)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the gateways
    os.sched_setaffinity(0, {int(LOAD_CPU)})

    workdir = Path(tempfile.mkdtemp(prefix="switchyard-bench-"))
    makers = {"switchyard": switchyard, "litellm": litellm, "portkey": portkey, "floor": floor}
    makers |= {name: lambda w, name=name: switchyard(w, name) for name in VARIANTS}
    mock = subprocess.Popen(
        ["taskset", "-c", LOAD_CPU, sys.executable, str(HERE / "mock_upstream.py"), "--port", str(MOCK_PORT)],
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "mock.log").open("wb"),  # connections cut by wrk at the end of a run
        start_new_session=True,
    )
    try:
        for _ in range(100):
            if _post(f"http://127.0.0.1:{MOCK_PORT}{CHAT.path}", CHAT.body("m", False), HEADERS):
                break
            time.sleep(0.1)
        per_round: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
        for i in range(args.rounds):
            for name in names:
                print(f"round {i + 1}/{args.rounds}: {name}", file=sys.stderr, flush=True)
                per_round[name].append(measure_gateway(makers[name](workdir), args, workdir))
    finally:
        os.killpg(mock.pid, signal.SIGTERM)
    results = {name: median_of(rounds) for name, rounds in per_round.items()}
    print(report(results, args.markdown))
    checks = targets(results)
    _print_targets(checks)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    payload = {
        "machine": machine,
        "date": time.strftime("%Y-%m-%d"),
        "rounds": args.rounds,
        "litellm_version": LITELLM_VERSION,
        "portkey_version": PORTKEY_VERSION,
        "portkey_pins": PORTKEY_PINS,
        "results": results,
        "targets": [{"target": w, "met": m, "measured": v} for w, m, v in checks],
    }
    args.json.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nfigures written to {args.json}; gateway logs in {workdir}")


if __name__ == "__main__":
    main()
