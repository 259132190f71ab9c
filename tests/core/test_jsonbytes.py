"""Splicing a member's new value into JSON bytes, every other byte kept."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from switchyard.core.jsonbytes import replace_string_member


def test_only_the_value_changes():
    raw = b'{\n  "model" :  "old",\n  "stream": true, "x": 1e-07}'
    assert (
        replace_string_member(raw, "model", "new/é")
        == b'{\n  "model" :  "new/\xc3\xa9",\n  "stream": true, "x": 1e-07}'
    )


def test_nested_members_and_string_values_named_model_are_not_touched():
    raw = b'{"messages":[{"model":"inner","text":"model"}],"metadata":{"model":"m"},"model":"top"}'
    assert replace_string_member(raw, "model", "new") == raw.replace(b'"top"', b'"new"')


def test_escaped_key_and_value_with_quotes():
    raw = b'{"m\\u006fdel":"a\\"b\\\\","k":"v"}'
    assert replace_string_member(raw, "model", "z") == b'{"m\\u006fdel":"z","k":"v"}'


def test_no_string_member_gives_none():
    assert replace_string_member(b'{"model": 5}', "model", "x") is None
    assert replace_string_member(b'{"model": ["a"]}', "model", "x") is None
    assert replace_string_member(b'{"other": "model"}', "model", "x") is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)


@given(st.dictionaries(st.text(max_size=6), json_values, max_size=5), st.text(), st.text(), st.booleans())
def test_splice_equals_a_reserialised_edit(body, old, new, indent):
    body = {**body, "model": old}
    option = orjson.OPT_INDENT_2 if indent else 0
    spliced = replace_string_member(orjson.dumps(body, option=option), "model", new)
    assert spliced == orjson.dumps({**body, "model": new}, option=option)  # every other byte as it was
