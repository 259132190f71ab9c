"""``serve(workers=N)``: N worker processes on one port (each binds it with ``SO_REUSEPORT``, the
kernel spreads the connections) under a supervising parent that restarts a worker that dies and,
on SIGTERM / SIGINT, passes the signal on to every worker and waits for their drains."""

from __future__ import annotations

import logging
import multiprocessing
import signal
import time
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from typing import Any

log = logging.getLogger("switchyard.server")

RESTART_PAUSE = 0.5  # seconds between restarts of a worker that keeps dying


def supervise(host: str, port: int, workers: int, drain_timeout: float) -> None:
    """Run ``workers`` processes of :func:`switchyard.server.worker_main` until told to stop."""
    spawn = multiprocessing.get_context("spawn")
    stopping = False

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}

    def start() -> BaseProcess:
        from . import worker_main

        proc = spawn.Process(target=worker_main, args=(host, port), name="switchyard-worker")
        proc.start()
        return proc

    try:
        procs = [start() for _ in range(workers)]
        log.info("supervising %d workers: %s", workers, ", ".join(str(p.pid) for p in procs))
        while not stopping:
            wait([p.sentinel for p in procs], timeout=0.5)
            for n, proc in enumerate(procs):
                if not proc.is_alive() and not stopping:
                    log.warning("worker %d exited with %s; starting another", proc.pid, proc.exitcode)
                    time.sleep(RESTART_PAUSE)
                    procs[n] = start()
        for proc in procs:
            if proc.is_alive():
                proc.terminate()  # SIGTERM: the worker drains
        deadline = time.monotonic() + drain_timeout + 10
        for proc in procs:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                log.warning("worker %d did not stop in time; killing it", proc.pid)
                proc.kill()
                proc.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
