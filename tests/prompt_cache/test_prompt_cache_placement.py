"""Where the gateway places cache breakpoints (switchyard.prompt_cache, pure): the places, the
four-breakpoint limit, TTL order, the minimum cacheable length, and hands off the client's own."""

from __future__ import annotations

import copy
import itertools

import pytest
from pc_helpers import CAPTURES, capture, markers, stripped, words

from switchyard.config import ConfigError, parse_config
from switchyard.prompt_cache import MAX_BREAKPOINTS, PromptCache, apply, min_tokens, parse_setting, place
from switchyard.routing import ModelResolver

AUTO = PromptCache(auto=True)
SONNET = "claude-sonnet-4-5-20250929"
TOOLS = [
    {"name": "read_file", "description": words(600, "read"), "input_schema": {"type": "object"}},
    {"name": "write_file", "description": words(600, "write"), "input_schema": {"type": "object"}},
]


def body(**fields):
    return {"model": SONNET, "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}], **fields}


@pytest.mark.parametrize(
    ("model", "floor"),
    [
        ("claude-sonnet-4-5-20250929", 1024),
        ("claude-opus-4-20250514", 1024),
        ("claude-opus-4-5-20251101", 4096),
        ("claude-opus-4-8", 1024),
        ("claude-haiku-4-5", 4096),
        ("claude-3-5-haiku-20241022", 2048),
        ("claude-3-haiku-20240307", 2048),
        ("us.anthropic.claude-3-haiku-20240307-v1:0", 2048),
        ("some-anthropic-compatible-model", 1024),
    ],
)
def test_minimum_cacheable_length_by_model(model, floor):
    assert min_tokens(model) == floor


def test_breakpoints_at_the_end_of_tools_system_and_the_last_user_turn():
    req = body(tools=TOOLS, system=words(300), messages=[{"role": "user", "content": [{"type": "text", "text": "Go"}]}])
    out = place(req, SONNET)
    assert markers(out) == [("tools", 1, None), ("system", 0, None), ("messages", 0, 0, None)]
    assert out["system"] == [{"type": "text", "text": req["system"], "cache_control": {"type": "ephemeral"}}]
    assert stripped(out) == {**req, "system": [{"type": "text", "text": req["system"]}]}


def test_a_string_content_becomes_one_marked_text_block():
    out = place(body(system=words(1200)), SONNET)
    assert out["messages"][0]["content"] == [{"type": "text", "text": "Hi", "cache_control": {"type": "ephemeral"}}]


def test_the_input_body_is_not_mutated():
    req = body(tools=TOOLS, system=[{"type": "text", "text": words(1200)}])
    before = copy.deepcopy(req)
    apply(req, SONNET, AUTO)
    assert req == before


def test_four_breakpoints_at_most_the_two_latest_user_turns():
    turns = []
    for n in range(4):
        turns += [
            {"role": "user", "content": [{"type": "text", "text": f"question {n}"}]},
            {"role": "assistant", "content": [{"type": "text", "text": f"answer {n}"}]},
        ]
    turns.append({"role": "user", "content": [{"type": "text", "text": "last question"}]})
    out = place(body(tools=TOOLS, system=words(1200), messages=turns), SONNET)
    found = markers(out)
    assert len(found) == MAX_BREAKPOINTS
    assert found == [("tools", 1, None), ("system", 0, None), ("messages", 6, 0, None), ("messages", 8, 0, None)]


def test_one_hour_ttl_only_before_five_minute_ones():
    messages = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "second"},
    ]
    out = place(body(tools=TOOLS, system=words(300), messages=messages), SONNET, ttl="1h")
    ttls = [m[-1] for m in markers(out)]
    assert ttls == ["1h", "1h", None, None]
    order = {"1h": 2, None: 1}
    assert all(order[a] >= order[b] for a, b in itertools.pairwise(ttls))


def test_no_breakpoint_below_the_minimum_cacheable_length():
    small_tools = [{"name": "t", "description": words(200), "input_schema": {"type": "object"}}]
    # tools alone ~200 tokens: not marked; with the system (~1300) the prefix is long enough
    out = place(body(tools=small_tools, system=words(1100)), SONNET)
    assert markers(out) == [("system", 0, None), ("messages", 0, 0, None)]
    # the same request to Haiku 4.5 (4096 tokens at least): nothing is worth placing
    assert place(body(tools=small_tools, system=words(1100)), "claude-haiku-4-5") is None
    assert apply(body(system="Be brief."), SONNET, AUTO) == (None, "none")


def test_thinking_and_empty_text_blocks_are_never_marked():
    messages = [
        {"role": "user", "content": [{"type": "text", "text": words(1200)}, {"type": "text", "text": ""}]},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "hm", "signature": "sig"}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "42"}]},
    ]
    found = markers(place(body(messages=messages), SONNET))
    assert found == [("messages", 0, 0, None), ("messages", 2, 0, None)]


@pytest.mark.parametrize(
    "marked",
    [
        {"cache_control": {"type": "ephemeral"}},
        {"tools": [{**TOOLS[0], "cache_control": {"type": "ephemeral"}}]},
        {"system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]},
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "t1",
                            "content": [{"type": "text", "text": "r", "cache_control": {"type": "ephemeral"}}],
                        }
                    ],
                }
            ]
        },
    ],
    ids=["top-level", "tool", "system", "inside-a-tool-result"],
)
def test_a_client_marker_anywhere_leaves_the_body_alone(marked):
    req = body(tools=TOOLS, system=words(1200)) | marked
    assert apply(req, SONNET, AUTO) == (None, "client")
    assert apply(req, SONNET, None) == (None, "client")


def test_the_word_in_text_is_not_a_marker():
    req = body(system=words(1200), messages=[{"role": "user", "content": "what does cache_control do?"}])
    raw = b'{"messages": [{"content": "what does cache_control do?"}]}'
    placed, origin = apply(req, SONNET, AUTO, raw)
    assert origin == "gateway" and placed is not None


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: "/".join(p.split("/")[-2:]))
def test_claude_code_requests_are_the_clients_own(path):
    req = capture(path)
    assert markers(req), "the capture carries Claude Code's own breakpoints"
    assert apply(req, req["model"], AUTO) == (None, "client")


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: "/".join(p.split("/")[-2:]))
def test_claude_code_requests_without_markers_get_the_gateways(path):
    """Taken out, the gateway places them where Claude Code did (the end of the system prompt, the
    last user block), plus the end of the tools and the previous user turn."""
    req = capture(path)
    out, origin = apply(stripped(req), req["model"], AUTO)
    assert origin == "gateway"
    own = [m for m in markers(req) if m[0] != "system" or m[1] == len(req["system"]) - 1]
    found = markers(out)
    assert set(own) <= set(found)
    assert ("tools", len(req["tools"]) - 1, None) in found
    assert stripped(out) == stripped(req)


def test_parse_setting():
    assert parse_setting("auto") == PromptCache(auto=True)
    assert parse_setting(False) == parse_setting("off") == PromptCache(auto=False)
    assert parse_setting({"mode": "auto", "ttl": "1h"}) == PromptCache(auto=True, ttl="1h")
    assert parse_setting({"ttl": "5m"}) == PromptCache(auto=True)
    for bad, message in [("always", "auto or off"), ({"ttl": "2h"}, "ttl"), ({"mode": "auto", "size": 1}, "size")]:
        with pytest.raises(ValueError, match=message):
            parse_setting(bad)


def test_config_keys_and_alias_precedence(tmp_path):
    text = """
providers:
  an: {type: anthropic, api_key: k, prompt_cache: auto}
  oa: {type: openai, api_key: k}
models:
  off-alias: {targets: [an/claude-x], prompt_cache: off}
  plain-alias: an/claude-y
  "hour-*": {targets: [an/claude-z, oa/gpt-x], prompt_cache: {ttl: 1h}}
"""
    config = parse_config(text, "t.yaml", {}, tmp_path)
    assert config.providers["an"].prompt_cache == PromptCache(auto=True)
    resolver = ModelResolver(config)
    assert resolver.resolve("off-alias")[0].prompt_cache == PromptCache(auto=False)
    assert resolver.resolve("plain-alias")[0].prompt_cache is None  # the provider's applies
    assert [t.prompt_cache for t in resolver.resolve("hour-long")] == [PromptCache(auto=True, ttl="1h")] * 2

    bad = """
providers:
  oa: {type: openai, api_key: k, prompt_cache: auto}
  an: {type: anthropic, api_key: k, prompt_cache: sometimes}
models:
  x: {targets: [an/claude-x], prompt_cache: auto, extra: 1}
"""
    with pytest.raises(ConfigError) as err:
        parse_config(bad, "t.yaml", {}, tmp_path)
    problems = "\n".join(err.value.problems)
    assert "providers.oa.prompt_cache: only Anthropic providers" in problems
    assert "providers.an.prompt_cache: must be auto or off" in problems
    assert "models.x.extra: unknown key" in problems
