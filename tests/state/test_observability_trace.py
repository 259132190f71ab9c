"""The transform trace: off by default, redacted, safe file names, bounded files."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson

from switchyard.observability import trace
from switchyard.observability.trace import TraceWriter, safe_name

OPENAI_KEY = "sk-proj-Abc123def456GHI789jkl012MNO345pqr"
ANTHROPIC_KEY = "sk-ant-api03-ZyXwVu987654321_abcdefghijklmnop-QRSTUV"
GEMINI_KEY = "AIzaSyD-1234567890abcdefghijklmnopqrstu"
LOCAL_KEY = "local-vllm-secret-7f3a9c"
TEST_KEYS = (OPENAI_KEY, ANTHROPIC_KEY, GEMINI_KEY, LOCAL_KEY)


def lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_disabled_trace_writes_nothing(tmp_path):
    async def main():
        tw = TraceWriter(tmp_path)
        tw.write("req_1", trace.CLIENT_REQUEST, {"model": "m"})
        await tw.close()

    asyncio.run(main())
    assert not (tmp_path / "traces").exists()


def test_every_pass_is_recorded_in_order_and_no_secret_reaches_the_file(tmp_path):
    async def main():
        tw = TraceWriter(tmp_path, enabled=True, secrets=[LOCAL_KEY])
        rid = "req_abc"
        tw.write(
            rid,
            trace.CLIENT_REQUEST,
            {
                "headers": [(b"x-api-key", ANTHROPIC_KEY.encode()), (b"user-agent", b"claude-cli")],
                "body": {"model": "claude-x", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]},
            },
        )
        tw.write(rid, trace.NEUTRAL_REQUEST, {"model": "gpt-x", "note": f"vllm key {LOCAL_KEY}"})
        tw.write(
            rid,
            trace.UPSTREAM_REQUEST,
            {
                "url": f"https://generativelanguage.googleapis.com/v1beta/models/g:streamGenerateContent?alt=sse&key={GEMINI_KEY}",
                "headers": {"Authorization": f"Bearer {OPENAI_KEY}", "x-goog-api-key": GEMINI_KEY},
                "body": {"contents": []},
            },
        )
        tw.write(
            rid,
            trace.UPSTREAM_FRAME,
            b'data: {"error": {"message": "Incorrect API key provided: ' + OPENAI_KEY.encode() + b'"}}\n\n',
        )
        tw.write(rid, trace.UPSTREAM_RESPONSE, {"status": 401, "text": f"invalid key {LOCAL_KEY}"})
        tw.write(
            rid, trace.CLIENT_RESPONSE, {"type": "error", "error": {"message": f"upstream rejected {ANTHROPIC_KEY}"}}
        )
        await tw.close()
        return tw.path_for(rid)

    path = asyncio.run(main())
    raw = path.read_text()
    for key in TEST_KEYS:  # grep the file for every test key
        assert key not in raw
        assert key[:16] not in raw
    entries = lines(path)
    assert [e["stage"] for e in entries] == [
        "client_request", "neutral_request", "upstream_request", "upstream_frame", "upstream_response", "client_response",
    ]  # fmt: skip
    assert all(set(e) == {"stage", "ts", "data"} for e in entries)
    assert entries[0]["data"]["headers"] == [["x-api-key", "[REDACTED]"], ["user-agent", "claude-cli"]]
    assert entries[0]["data"]["body"]["max_tokens"] == 64
    assert entries[2]["data"]["url"].endswith("alt=sse&key=[REDACTED]")
    assert entries[3]["data"].startswith('data: {"error"')
    assert entries[0]["ts"] <= entries[-1]["ts"]
    assert path.stat().st_mode & 0o777 == 0o600


def test_data_is_snapshotted_when_written(tmp_path):
    async def main():
        tw = TraceWriter(tmp_path, enabled=True)
        body = {"messages": ["first"]}
        tw.write("r", "client_request", body)
        body["messages"].append("mutated later")
        await tw.close()
        return tw.path_for("r")

    assert lines(asyncio.run(main()))[0]["data"] == {"messages": ["first"]}


def test_file_names_are_filesystem_safe(tmp_path):
    names = {
        safe_name(rid)
        for rid in ("../../etc/passwd", "..%2f..", "a/b", "a:b", "a\\b", "con", "", "x" * 500, "chatcmpl-abc_123.4")
    }
    assert len(names) == 9  # distinct ids stay distinct
    for name in names:
        assert "/" not in name and "\\" not in name and not name.startswith(".")
        assert len(name) <= 110 and name.endswith(".jsonl")
    assert safe_name("chatcmpl-abc_123.4") == "chatcmpl-abc_123.4.jsonl"  # clean ids are kept as they are

    async def main():
        tw = TraceWriter(tmp_path, enabled=True)
        tw.write("../../escape", "client_request", {})
        await tw.close()
        return tw.path_for("../../escape")

    path = asyncio.run(main())
    assert path.parent == tmp_path / "traces" and path.exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "traces"]


def test_file_size_bound_truncates_with_a_marker(tmp_path):
    async def main():
        tw = TraceWriter(tmp_path, enabled=True, max_file_bytes=4096, secrets=[LOCAL_KEY])
        for i in range(40):
            tw.write("big", trace.UPSTREAM_FRAME, {"i": i, "text": f"{LOCAL_KEY} " + "y" * 400})
        await tw.flush()
        tw.write("big", trace.CLIENT_RESPONSE, {"after": "the bound"})
        await tw.close()
        return tw.path_for("big")

    path = asyncio.run(main())
    assert path.stat().st_size <= 4096
    entries = lines(path)  # every line is still valid JSON
    assert entries[-1]["truncated"] is True and entries[-1]["bytes"] > 400
    assert isinstance(entries[-1]["data"], str)
    assert [e["data"]["i"] for e in entries[:-1]] == list(range(len(entries) - 1))
    assert all("truncated" not in e for e in entries[:-1])
    assert LOCAL_KEY not in path.read_text()


def test_bound_holds_across_writers_appending_to_the_same_file(tmp_path):
    async def write(n: int) -> None:
        tw = TraceWriter(tmp_path, enabled=True, max_file_bytes=4096)
        for i in range(n):
            tw.write("same", "frame", {"i": i, "pad": "z" * 300})
        await tw.close()

    asyncio.run(write(5))
    asyncio.run(write(40))  # e.g. after a restart
    assert (tmp_path / "traces" / "same.jsonl").stat().st_size <= 4096


def test_many_requests_concurrently(tmp_path):
    async def main():
        tw = TraceWriter(tmp_path, enabled=True)

        async def request(n: int) -> None:
            for stage in ("client_request", "upstream_request", "client_response"):
                tw.write(f"req_{n}", stage, {"n": n})
                await asyncio.sleep(0)

        await asyncio.gather(*(request(n) for n in range(200)))
        await tw.close()
        return tw

    tw = asyncio.run(main())
    for n in range(200):
        entries = lines(tw.path_for(f"req_{n}"))
        assert [e["stage"] for e in entries] == ["client_request", "upstream_request", "client_response"]
        assert {e["data"]["n"] for e in entries} == {n}
    assert tw.dropped == 0


def test_unserialisable_data_never_fails_the_request(tmp_path):
    async def main():
        tw = TraceWriter(tmp_path, enabled=True)
        cyclic: dict = {"api_key": OPENAI_KEY}
        cyclic["self"] = cyclic
        tw.write("r", "neutral_request", cyclic)
        tw.write("r", "neutral_request", {"huge": 2**80, "note": f"key {OPENAI_KEY}"})
        await tw.close()
        return tw.path_for("r")

    path = asyncio.run(main())
    entries = lines(path)
    assert [e["data"]["unserialisable"] for e in entries] == ["dict", "dict"]
    assert OPENAI_KEY not in path.read_text()
