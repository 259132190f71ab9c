"""SQLite durability: a writer process is SIGKILLed right after ``put`` returns; a new process
reads every record it acknowledged, whole."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

WRITER = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from switchyard.store import StoredResponse
    from switchyard.store.sqlite import SqliteResponseStore

    async def main(path, count, kill_self):
        store = await SqliteResponseStore(path).open()
        parent = None
        for i in range(count):
            rid = f"resp_{i}"
            await store.put(StoredResponse(
                id=rid, created_at=float(i), model="m", previous_response_id=parent,
                input_items=[{"id": f"in_{i}", "type": "message", "role": "user",
                              "content": [{"type": "input_text", "text": "x" * (i % 7) * 500}]}],
                output=[{"id": f"out_{i}", "type": "message", "role": "assistant", "content": []}],
            ))
            print(rid, flush=True)  # acknowledged: put has returned
            parent = rid
        if kill_self:
            os.kill(os.getpid(), signal.SIGKILL)
        await asyncio.sleep(3600)

    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"))
    """
)

READER = textwrap.dedent(
    """
    import asyncio, json, sys
    from switchyard.store.sqlite import SqliteResponseStore

    async def main(path, ids):
        store = await SqliteResponseStore(path).open()
        out = {}
        for rid in ids:
            rec = await store.get(rid)
            chain = await store.lineage(rid)
            out[rid] = None if rec is None else {
                "input": rec.input_items[0]["id"], "chain": [r.id for r in chain],
            }
        await store.close()
        print(json.dumps(out))

    asyncio.run(main(sys.argv[1], sys.argv[2:]))
    """
)


def _env() -> dict[str, str]:
    src = str(Path(__file__).resolve().parents[2] / "src")
    return {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _read_back(path: Path, ids: list[str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", READER, str(path), *ids], capture_output=True, text=True, env=_env(), timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _check(found: dict, ids: list[str]) -> None:
    for rid in ids:
        i = int(rid.split("_")[1])
        assert found[rid] is not None, f"{rid} was acknowledged but is gone after SIGKILL"
        assert found[rid]["input"] == f"in_{i}"
        assert found[rid]["chain"] == [f"resp_{n}" for n in range(i + 1)]


def test_sqlite_put_survives_sigkill_right_after_it_returns(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    done = subprocess.run(
        [sys.executable, "-c", WRITER, str(db), "40", "1"], capture_output=True, text=True, env=_env(), timeout=60
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    ids = done.stdout.split()
    assert len(ids) == 40
    _check(_read_back(db, ids), ids)


def test_sqlite_put_survives_sigkill_in_the_middle_of_writing(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), "100000", "0"], stdout=subprocess.PIPE, text=True, env=_env()
    )
    ids = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            ids.append(line.strip())
            if len(ids) == 150:
                proc.send_signal(signal.SIGKILL)
                break
        ids.extend(proc.stdout.read().split())  # lines already acknowledged before it died
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    ids = [i for i in ids if i]
    _check(_read_back(db, ids), ids)
