"""The ResponseStore contract, run against every backend (memory, sqlite, redis)."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchyard.store import ResponseStore, StoredResponse, input_as_items, page_items


def msg(item_id: str | None, text: str, role: str = "user") -> dict:
    item = {"type": "message", "role": role, "content": [{"type": "input_text", "text": text}]}
    if item_id:
        item["id"] = item_id
    return item


def record(
    rid: str, *, parent: str | None = None, inputs: list | None = None, outputs: list | None = None
) -> StoredResponse:
    return StoredResponse(
        id=rid,
        created_at=1_700_000_000.5,
        model="gpt-x",
        served_model="claude-y",
        status="completed",
        input_items=inputs if inputs is not None else [msg(f"{rid}_in", f"hello from {rid}")],
        instructions="be brief",
        output=outputs if outputs is not None else [msg(f"{rid}_out", f"answer {rid}", role="assistant")],
        usage={"input_tokens": 10, "output_tokens": 3, "total_tokens": 13},
        metadata={"k": "v"},
        previous_response_id=parent,
        extra={"tools": [{"type": "function", "name": "f"}]},
    )


def test_put_get_roundtrip(backend):
    async def main():
        store = await backend.responses()
        rec = record("resp_1")
        await store.put(rec)
        got = await store.get("resp_1")
        assert got == rec
        assert await store.get("resp_missing") is None

    backend.run(main)


def test_items_without_ids_get_stable_ids(backend):
    async def main():
        store = await backend.responses()
        rec = record(
            "resp_1", inputs=[*input_as_items("hi"), {"type": "function_call_output", "call_id": "c1", "output": "x"}]
        )
        await store.put(rec)
        got = await store.get("resp_1")
        ids = [item["id"] for item in got.input_items]
        assert ids[0].startswith("msg_") and ids[1].startswith("item_") and ids[0] != ids[1]
        assert got.input_items[0]["content"][0]["text"] == "hi"
        await store.put(rec)  # storing again gives the same ids
        assert [i["id"] for i in (await store.get("resp_1")).input_items] == ids

    backend.run(main)


def test_stored_copy_is_independent_of_caller_objects(backend):
    async def main():
        store = await backend.responses()
        rec = record("resp_1")
        await store.put(rec)
        rec.output[0]["content"][0]["text"] = "mutated"
        got = await store.get("resp_1")
        assert got.output[0]["content"][0]["text"] == "answer resp_1"
        got.metadata["k"] = "changed"
        assert (await store.get("resp_1")).metadata == {"k": "v"}

    backend.run(main)


def test_put_replaces(backend):
    async def main():
        store = await backend.responses()
        await store.put(record("resp_1"))
        newer = record("resp_1")
        newer.status = "incomplete"
        await store.put(newer)
        assert (await store.get("resp_1")).status == "incomplete"

    backend.run(main)


def test_non_json_record_is_rejected(backend):
    async def main():
        store = await backend.responses()
        rec = record("resp_1")
        rec.metadata = {"bad": object()}
        with pytest.raises(TypeError):
            await store.put(rec)
        assert await store.get("resp_1") is None

    backend.run(main)


def test_find_item_by_its_id(backend):
    """``item_reference`` input items name stored items: every input and output item is found by
    its id (minted ids included); an id put again belongs to the latest record; a deleted
    record's items are gone."""

    async def main():
        store = await backend.responses()
        call = {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}
        await store.put(record("resp_1", outputs=[msg("msg_out1", "one", "assistant"), call]))
        stored = await store.get("resp_1")
        minted = stored.output[1]["id"]
        assert await store.find_item("msg_out1") == (stored, msg("msg_out1", "one", "assistant"))
        assert await store.find_item(minted) == (stored, stored.output[1])
        assert await store.find_item("resp_1_in") == (stored, msg("resp_1_in", "hello from resp_1"))
        assert await store.find_item("msg_unknown") is None
        await store.put(record("resp_2", inputs=[msg("msg_out1", "one", "assistant")], outputs=[]))
        assert await store.item_owner("msg_out1") == "resp_2"
        await store.delete("resp_2")
        assert await store.find_item("msg_out1") is None

    backend.run(main)


def test_delete(backend):
    async def main():
        store = await backend.responses()
        await store.put(record("resp_1"))
        assert await store.delete("resp_1") is True
        assert await store.get("resp_1") is None
        assert await store.delete("resp_1") is False
        assert await store.input_items("resp_1") is None

    backend.run(main)


def test_input_items_pagination(backend):
    async def main():
        store = await backend.responses()
        items = [msg(f"i{n}", f"t{n}") for n in range(5)]
        await store.put(record("resp_1", inputs=items))

        page = await store.input_items("resp_1")  # default: desc, limit 20
        assert [i["id"] for i in page.data] == ["i4", "i3", "i2", "i1", "i0"]
        assert (page.first_id, page.last_id, page.has_more) == ("i4", "i0", False)
        assert page.to_dict()["object"] == "list"

        page = await store.input_items("resp_1", limit=2, order="asc")
        assert [i["id"] for i in page.data] == ["i0", "i1"]
        assert (page.first_id, page.last_id, page.has_more) == ("i0", "i1", True)
        page = await store.input_items("resp_1", limit=2, order="asc", after=page.last_id)
        assert [i["id"] for i in page.data] == ["i2", "i3"] and page.has_more
        page = await store.input_items("resp_1", limit=2, order="asc", after=page.last_id)
        assert [i["id"] for i in page.data] == ["i4"] and not page.has_more

        page = await store.input_items("resp_1", limit=3, order="desc", after="i3")
        assert [i["id"] for i in page.data] == ["i2", "i1", "i0"] and not page.has_more
        page = await store.input_items("resp_1", limit=3, after="i0")
        assert page.data == [] and page.first_id is None and page.last_id is None and not page.has_more

        for bad in ({"limit": 0}, {"limit": 101}, {"order": "up"}, {"after": "nope"}):
            with pytest.raises(ValueError):
                await store.input_items("resp_1", **bad)
        assert await store.input_items("resp_missing") is None

    backend.run(main)


async def _conversation(store: ResponseStore) -> None:
    await store.put(record("r1"))
    await store.put(record("r2", parent="r1"))
    await store.put(record("r3", parent="r2", outputs=[msg("r3_out", "last", role="assistant")]))


def test_input_items_include_inherited(backend):
    async def main():
        store = await backend.responses()
        await _conversation(store)
        page = await store.input_items("r3", order="asc")
        assert [i["id"] for i in page.data] == ["r1_in", "r1_out", "r2_in", "r2_out", "r3_in"]
        page = await store.input_items("r3", limit=2)
        assert [i["id"] for i in page.data] == ["r3_in", "r2_out"] and page.has_more
        page = await store.input_items("r3", limit=2, after=page.last_id)
        assert [i["id"] for i in page.data] == ["r2_in", "r1_out"] and page.has_more
        page = await store.input_items("r3", limit=2, after=page.last_id)
        assert [i["id"] for i in page.data] == ["r1_in"] and not page.has_more
        page = await store.input_items("r1", order="asc")
        assert [i["id"] for i in page.data] == ["r1_in"]

    backend.run(main)


def test_lineage(backend):
    async def main():
        store = await backend.responses()
        await _conversation(store)
        assert [r.id for r in await store.lineage("r3")] == ["r1", "r2", "r3"]
        assert [r.id for r in await store.lineage("r1")] == ["r1"]
        assert await store.lineage("missing") == []
        chain = await store.lineage("r3")
        assert chain[-1] == await store.get("r3")

    backend.run(main)


def test_lineage_with_deleted_ancestor_starts_at_oldest_present(backend):
    async def main():
        store = await backend.responses()
        await _conversation(store)
        await store.delete("r2")
        chain = await store.lineage("r3")
        assert [r.id for r in chain] == ["r3"]
        assert chain[0].previous_response_id == "r2"  # the caller can see the chain is broken

    backend.run(main)


def test_lineage_survives_a_cycle(backend):
    async def main():
        store = await backend.responses()
        await store.put(record("a", parent="b"))
        await store.put(record("b", parent="a"))
        chain = await store.lineage("a")
        assert 2 <= len(chain) <= 10_000 and chain[-1].id == "a"

    backend.run(main)


def test_concurrent_creates_and_continuations(backend):
    """Hundreds of concurrent puts, continuations and reads: nothing lost, nothing mixed up."""

    async def main():
        store = await backend.responses()

        async def conversation(c: int) -> None:
            parent = None
            for turn in range(3):
                rid = f"c{c}_t{turn}"
                if parent:
                    chain = await store.lineage(parent)
                    assert [r.id for r in chain] == [f"c{c}_t{t}" for t in range(turn)]
                await asyncio.sleep(random.random() / 1000)
                await store.put(record(rid, parent=parent))
                parent = rid

        await asyncio.gather(*(conversation(c) for c in range(100)))

        async def check(c: int, turn: int) -> None:
            rid = f"c{c}_t{turn}"
            got = await store.get(rid)
            assert got is not None and got.id == rid
            assert got.input_items[0]["content"][0]["text"] == f"hello from {rid}"
            assert got.output[0]["id"] == f"{rid}_out"
            assert got.previous_response_id == (f"c{c}_t{turn - 1}" if turn else None)

        await asyncio.gather(*(check(c, t) for c in range(100) for t in range(3)))
        page = await store.input_items("c42_t2", order="asc")
        assert [i["id"] for i in page.data] == [
            "c42_t0_in", "c42_t0_out", "c42_t1_in", "c42_t1_out", "c42_t2_in",
        ]  # fmt: skip

    backend.run(main)


@given(
    n=st.integers(min_value=0, max_value=60),
    limit=st.integers(min_value=1, max_value=100),
    order=st.sampled_from(["asc", "desc"]),
)
def test_paging_with_after_visits_every_item_once(n, limit, order):
    items = [{"id": f"i{k}"} for k in range(n)]
    seen, after = [], None
    while True:
        page = page_items(items, limit=limit, order=order, after=after)
        assert len(page.data) <= limit
        seen += [item["id"] for item in page.data]
        if not page.has_more:
            break
        assert page.last_id == page.data[-1]["id"]
        after = page.last_id
    expected = [f"i{k}" for k in range(n)]
    assert seen == (expected if order == "asc" else expected[::-1])
