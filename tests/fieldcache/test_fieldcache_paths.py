"""The path language: parsing, matching with concrete paths, and the writers."""

from __future__ import annotations

import pytest

from switchyard.core.model import Message, ReasoningPart, Response, TextPart, ToolCallPart
from switchyard.fieldcache.paths import PathError, find, get_at, insert_at, merge_at, parse, set_at

DOC = {
    "kind": "message",
    "role": "assistant",
    "content": [
        {"kind": "reasoning", "text": "a", "signature": "s1", "signature_source": "anthropic"},
        {"kind": "text", "text": "hello", "extensions": {"thoughtSignature": "t1"}},
        {"kind": "tool_call", "id": "c1", "name": "f", "signature": None},
        {"kind": "reasoning", "text": "b", "signature": "s2", "signature_source": "gemini"},
    ],
}


def test_parse_steps() -> None:
    assert parse("") == ()
    assert parse("content[kind=reasoning].text") == (
        ("key", "content"),
        ("filter", (("kind", "reasoning"),)),
        ("key", "text"),
    )
    assert parse("[0][-1][*]") == (("index", 0), ("index", -1), ("all",))
    assert parse('a[x=1,y=null,z=true,w="a,b]"]') == (
        ("key", "a"),
        ("filter", (("x", 1), ("y", None), ("z", True), ("w", "a,b]"))),
    )


@pytest.mark.parametrize("bad", ["content[", "content]", "a..b", "a[]", "a b", "[kind]", ".a"])
def test_bad_paths_raise(bad: str) -> None:
    with pytest.raises(PathError):
        parse(bad)


def test_keys_and_indexes() -> None:
    assert find(DOC, "role") == [(("role",), "assistant")]
    assert find(DOC, "content[1].text") == [(("content", 1, "text"), "hello")]
    assert find(DOC, "content[-1].signature") == [(("content", 3, "signature"), "s2")]
    assert find(DOC, "content[9]") == []
    assert find(DOC, "content[-9]") == []
    assert find(DOC, "missing.x") == []
    assert find(DOC, "") == [((), DOC)]


def test_star_gives_every_element_in_order() -> None:
    assert [w for w, _ in find(DOC, "content[*].kind")] == [("content", i, "kind") for i in range(4)]


def test_filter_matches_with_concrete_paths() -> None:
    hits = find(DOC, "content[kind=reasoning].signature")
    assert hits == [(("content", 0, "signature"), "s1"), (("content", 3, "signature"), "s2")]
    assert find(DOC, "content[kind=reasoning,signature_source=gemini].text") == [(("content", 3, "text"), "b")]
    assert find(DOC, "content[kind=text].extensions.thoughtSignature") == [
        (("content", 1, "extensions", "thoughtSignature"), "t1")
    ]
    assert find(DOC, "content[signature=null].id") == [(("content", 2, "id"), "c1")]


def test_filter_does_not_confuse_booleans_and_numbers() -> None:
    doc = {"items": [{"v": True}, {"v": 1}, {"v": "1"}]}
    assert [w[1] for w, _ in find(doc, "items[v=1]")] == [1]
    assert [w[1] for w, _ in find(doc, "items[v=true]")] == [0]
    assert [w[1] for w, _ in find(doc, 'items[v="1"]')] == [2]


def test_reads_core_dataclasses_directly() -> None:
    resp = Response(
        "r",
        "m",
        [ReasoningPart("t", "sig", "anthropic"), TextPart("x"), ToolCallPart("c1", "f", "{}", "g", "gemini")],
    )
    assert find(resp, "content[kind=tool_call].id") == [(("content", 2, "id"), "c1")]
    assert find(resp, "content[kind=reasoning].signature") == [(("content", 0, "signature"), "sig")]
    msg = Message("user", [TextPart("q")])
    assert find(msg, "[kind=message]") == []  # the root is not a list
    assert find([msg], "[kind=message].role") == [((0, "role"), "user")]
    assert get_at(resp, ("content", 2, "name")) == "f"


def test_set_at() -> None:
    doc = {"content": [{"kind": "tool_call", "id": "a"}, {"kind": "tool_call", "id": "b"}]}
    assert set_at(doc, "content[kind=tool_call].signature", "s") == 2
    assert [p["signature"] for p in doc["content"]] == ["s", "s"]
    assert set_at(doc, "content[-1]", {"kind": "text"}) == 1
    assert doc["content"][1] == {"kind": "text"}
    assert set_at(doc, "nothing.here", 1) == 0


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("content[0]", ["x", "y", "a", "b", "c"]),
        ("content[1]", ["a", "x", "y", "b", "c"]),
        ("content[9]", ["a", "b", "c", "x", "y"]),
        ("content[-1]", ["a", "b", "c", "x", "y"]),
        ("content[-2]", ["a", "b", "x", "y", "c"]),
        ("content[-9]", ["x", "y", "a", "b", "c"]),
    ],
)
def test_insert_positions(path: str, expected: list[str]) -> None:
    doc = {"content": ["a", "b", "c"]}
    assert insert_at(doc, path, ["x", "y"]) == 1
    assert doc["content"] == expected


def test_insert_needs_an_index() -> None:
    with pytest.raises(PathError):
        insert_at({"content": []}, "content", ["x"])


def test_merge_at() -> None:
    doc = {"content": [{"kind": "tool_call", "id": "a"}]}
    assert merge_at(doc, "content[id=a]", {"signature": "s", "signature_source": "gemini"}) == 1
    assert doc["content"][0] == {"kind": "tool_call", "id": "a", "signature": "s", "signature_source": "gemini"}
    assert merge_at(doc, "content[id=zz]", {"x": 1}) == 0
