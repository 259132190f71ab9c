"""``switchyard serve --workers N``: N worker processes on one port under a supervising parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from gateway_harness import call, closed_port

from redis_support import REDIS_URL, fresh_prefix


def listening_pids(port: int) -> set[int]:
    """Processes holding a listening TCP socket on ``port`` (from /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # 0A: LISTEN
                    inodes.add(fields[9])
    pids = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        if any(link.startswith("socket:[") and link[8:-1] in inodes for link in links):
            pids.add(int(pid))
    return pids


def wait_for(check, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.1)


def hello(port: int) -> int:
    body = {"model": "mock-1", "messages": [{"role": "user", "content": "hi"}]}
    try:
        return call(f"http://127.0.0.1:{port}/v1/chat/completions", "POST", body, timeout=5).status
    except OSError:
        return 0


def test_two_workers_serve_one_port_a_dead_one_is_replaced_and_sigterm_stops_both(tmp_path: Path) -> None:
    port = closed_port()
    with fresh_prefix() as prefix:
        config = tmp_path / "switchyard.yaml"
        config.write_text(f"state: {{backend: redis, redis_url: '{REDIS_URL}', redis_prefix: '{prefix}'}}\n")
        log = (tmp_path / "serve.log").open("wb")
        cmd = [
            sys.executable,
            "-m",
            "switchyard.cli",
            "serve",
            "--config",
            str(config),
            "--port",
            str(port),
            "--workers",
            "2",
        ]
        parent = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for(lambda: len(listening_pids(port) - {parent.pid}) == 2, "two workers listening")
            workers = listening_pids(port) - {parent.pid}
            wait_for(lambda: hello(port) == 200, "an answer")
            assert all(hello(port) == 200 for _ in range(20))

            victim = min(workers)
            os.kill(victim, signal.SIGKILL)
            wait_for(lambda: len(listening_pids(port) - {parent.pid, victim}) == 2, "a replacement worker")
            assert victim not in listening_pids(port)
            started = lambda: (tmp_path / "serve.log").read_text().count("listening on http:")  # noqa: E731
            wait_for(lambda: started() == 3, "the replacement worker's start-up")
            assert all(hello(port) == 200 for _ in range(10))

            parent.send_signal(signal.SIGTERM)
            parent.wait(30)
        finally:
            if parent.poll() is None:
                os.killpg(parent.pid, signal.SIGKILL)
            log.close()
    text = (tmp_path / "serve.log").read_text()
    assert text.count("shutdown complete") == 2  # both live workers drained
    assert not listening_pids(port)


def test_workers_without_redis_refuse_to_start(tmp_path: Path) -> None:
    config = tmp_path / "switchyard.yaml"
    config.write_text("server: {port: 4999}\n")
    done = subprocess.run(
        [sys.executable, "-m", "switchyard.cli", "serve", "--config", str(config), "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "needs shared state" in done.stderr and "state.backend: redis" in done.stderr
