"""Each built-in adapter's effect, parameter validation, and that inputs are never mutated."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from switchyard.adapters import ADAPTERS, AdapterChain, AdapterError
from switchyard.core.model import (
    Message,
    Reasoning,
    ReasoningPart,
    Request,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from switchyard.fieldcache import to_json


def apply(spec: Any, req: Request, protocol: str = "openai_chat") -> Request:
    chain = AdapterChain.from_config([spec, {"name": "field_cache", "enabled": False}], protocol=protocol)
    before = to_json(req)
    out = asyncio.run(chain.apply_request(req))
    assert to_json(req) == before, "an adapter mutated its input"
    return out


def base(**kw: Any) -> Request:
    return Request(
        "gpt-x",
        [
            Message("developer", [TextPart("be brief")]),
            Message("user", [TextPart("hi")]),
            Message("assistant", [TextPart(""), ToolCallPart("c1", "f", "{}")]),
            Message("tool", [ToolResultPart("c1", [TextPart("  "), TextPart("42")])]),
        ],
        **kw,
    )


def test_registry_has_the_builtins() -> None:
    assert set(ADAPTERS) >= {
        "model_override",
        "rename_field",
        "drop_params",
        "developer_to_system",
        "reasoning_content_normalize",
        "max_tokens_clamp",
        "drop_empty_text",
    }


def test_model_override() -> None:
    assert apply({"name": "model_override", "model": "served-model"}, base()).model == "served-model"
    mapped = {"name": "model_override", "map": {"gpt-x": "gpt-x-2025", "other": "y"}}
    assert apply(mapped, base()).model == "gpt-x-2025"
    assert apply(mapped, Request("unlisted")).model == "unlisted"
    req = base()
    assert apply({"name": "model_override", "model": "gpt-x"}, req) is req


def test_rename_field_moves_values_in_the_neutral_request() -> None:
    req = base(metadata={"user": "u1", "keep": 1}, extensions={"seed": 7})
    out = apply({"name": "rename_field", "from": "metadata.user", "to": "metadata.user_id"}, req)
    assert out.metadata == {"keep": 1, "user_id": "u1"}
    out = apply({"name": "rename_field", "from": "extensions.seed", "to": "extensions.random_seed"}, req)
    assert out.extensions == {"random_seed": 7}
    # a core field moved into an extension (a wire field for same-protocol builds) is reset
    out = apply({"name": "rename_field", "from": "top_k", "to": "extensions.top_k"}, base(top_k=40))
    assert (out.top_k, out.extensions) == (None, {"top_k": 40})
    # into a null core object: it is created
    out = apply({"name": "rename_field", "from": "extensions.seed", "to": "metadata.seed"}, req)
    assert out.metadata == {"user": "u1", "keep": 1, "seed": 7}
    # nothing there: unchanged
    assert apply({"name": "rename_field", "from": "extensions.nope", "to": "extensions.x"}, req) is req
    # a target that is not a field of a core type: unchanged
    assert apply({"name": "rename_field", "from": "extensions.seed", "to": "colour"}, req) is req


def test_drop_params() -> None:
    req = base(
        top_k=40,
        temperature=0.3,
        stop=["x"],
        reasoning=Reasoning(effort="high", budget_tokens=100),
        extensions={"seed": 1, "n": 2, "keep": True},
        native_only=["n", "seed", "logprobs"],
    )
    out = apply({"name": "drop_params", "params": ["top_k", "stop", "seed", "n", "reasoning.budget_tokens"]}, req)
    assert (out.top_k, out.stop, out.temperature) == (None, [], 0.3)
    assert out.extensions == {"keep": True}
    assert out.native_only == ["logprobs"]
    assert out.reasoning == Reasoning(effort="high")
    assert apply({"name": "drop_params", "params": ["top_k"]}, base()) == base()


def test_developer_to_system() -> None:
    out = apply("developer_to_system", base())
    assert [m.role for m in out.messages] == ["system", "user", "assistant", "tool"]
    assert out.messages[0].content == base().messages[0].content
    req = Request("m", [Message("user", [TextPart("x")])])
    assert apply("developer_to_system", req) is req


def test_max_tokens_clamp() -> None:
    spec = {"name": "max_tokens_clamp", "max": 8192}
    assert apply(spec, base(max_tokens=64000)).max_tokens == 8192
    assert apply(spec, base(max_tokens=100)).max_tokens == 100
    assert apply(spec, base()).max_tokens is None
    assert apply({**spec, "default": 4096}, base()).max_tokens == 4096


def test_drop_empty_text() -> None:
    req = base(system=[TextPart(""), TextPart("sys")])
    req.messages.append(Message("assistant", [TextPart(" \n")]))
    req.messages.append(Message("user", [TextPart("", extensions={"_raw_part": {"executableCode": {}}})]))
    out = apply("drop_empty_text", req)
    assert [m.role for m in out.messages] == ["developer", "user", "assistant", "tool", "user"]
    assert out.messages[2].content == [ToolCallPart("c1", "f", "{}")]
    assert out.messages[3].content[0].content == [TextPart("42")]
    assert out.messages[4].content[0].extensions  # opaque parts are kept
    assert out.system == [TextPart("sys")]
    clean = Request("m", [Message("user", [TextPart("x")])])
    assert apply("drop_empty_text", clean) is clean


def test_reasoning_content_normalize_drops_what_the_provider_cannot_verify() -> None:
    req = Request(
        "m",
        [
            Message("user", [TextPart("q")]),
            Message("assistant", [ReasoningPart("visible only"), TextPart("a")]),
            Message("assistant", [ReasoningPart("thinking", "sig", "anthropic"), ToolCallPart("c", "f")]),
            Message("assistant", [ReasoningPart(redacted="opaque")]),
            Message("assistant", [ReasoningPart("foreign", "g", "gemini")]),
        ],
    )
    out = apply("reasoning_content_normalize", req, protocol="anthropic")
    assert [[p.kind for p in m.content] for m in out.messages] == [
        ["text"],
        ["text"],
        ["reasoning", "tool_call"],
        ["reasoning"],
    ]
    kept = apply({"name": "reasoning_content_normalize", "drop_unverifiable": False}, req, protocol="anthropic")
    assert kept is req


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"name": "nope"}, "unknown adapter 'nope'"),
        ({"name": "model_override"}, "exactly one of 'model' or 'map'"),
        ({"name": "model_override", "model": ""}, "'model' must be non-empty text"),
        ({"name": "max_tokens_clamp"}, "missing parameter(s) max"),
        ({"name": "max_tokens_clamp", "max": 0}, "'max' must be a positive integer"),
        ({"name": "max_tokens_clamp", "max": 10, "default": 20}, "'default' is larger than 'max'"),
        ({"name": "max_tokens_clamp", "max": 10, "colour": 1}, "unknown parameter(s) colour"),
        ({"name": "drop_params", "params": []}, "non-empty list"),
        ({"name": "drop_params", "params": ["messages[0]"]}, "dotted field names"),
        ({"name": "rename_field", "from": "a", "to": "a"}, "name the same field"),
        ({"name": "developer_to_system", "x": 1}, "takes no parameters"),
        ({"name": "reasoning_content_normalize", "drop_unverifiable": "yes"}, "true or false"),
        ({"name": "field_cache", "ttl": 5}, "configured under field_cache"),
        ({"name": "drop_empty_text", "enabled": "no"}, "'enabled' must be true or false"),
        ("", "unknown adapter ''"),
        (3, "a name or a mapping"),
    ],
)
def test_bad_specs_name_the_stage_and_the_problem(spec: Any, message: str) -> None:
    with pytest.raises(AdapterError) as exc:
        AdapterChain.from_config(["drop_empty_text", spec], protocol="anthropic")
    assert message in str(exc.value)
    assert "stage 2" in str(exc.value)
