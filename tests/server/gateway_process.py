"""The gateway as a separate process (``switchyard serve``), for what a thread cannot show:
``kill -9``, SIGTERM and a restart on the same data_dir. The process runs the same source tree
as the tests (its ``PYTHONPATH`` starts with it)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from gateway_harness import call, closed_port

import switchyard

SOURCE = str(Path(switchyard.__file__).resolve().parents[1])


class GatewayProcess:
    def __init__(self, config: Path, port: int | None = None, log: Path | None = None) -> None:
        self.config = config
        self.port = port or closed_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log or config.with_suffix(".log")
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 20) -> GatewayProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env["PYTHONPATH"] = os.pathsep.join([SOURCE, *filter(None, [env.get("PYTHONPATH")])])
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "switchyard.cli",
                    "serve",
                    "--config",
                    str(self.config),
                    "--port",
                    str(self.port),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the gateway exited at start-up:\n{self.log.read_text()}")
            try:
                if call(self.url + "/health", "GET", timeout=1).status == 200:
                    return self
            except OSError:
                time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"the gateway did not start:\n{self.log.read_text()}")

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.kill()


def open_stream(url: str, path: str, body: bytes, headers: dict[str, str]) -> socket.socket:
    """Send a POST on a raw socket (HTTP/1.1, the answer read by the caller)."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=20)
    head = [f"POST {path} HTTP/1.1", f"host: {host}", "content-type: application/json", f"content-length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    return sock


def read_until(sock: socket.socket, marker: bytes, timeout: float = 20) -> bytes:
    """Read until ``marker`` has arrived (then return at once), or the connection ends."""
    sock.settimeout(timeout)
    received = b""
    while marker not in received:
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    return received
