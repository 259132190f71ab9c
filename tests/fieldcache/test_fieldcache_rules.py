"""The rule format: mappings (YAML) <-> Rule, validation, config overrides, select and templates."""

from __future__ import annotations

import pytest
import yaml

from switchyard.core.model import ReasoningPart, TextPart, ToolCallPart
from switchyard.fieldcache import BUILTIN_RULES, Rule, RuleError, builtin_rules, merge_rules
from switchyard.fieldcache.rules import render, selected

YAML_OVERRIDES = """
field_cache:
  ttl: 1800
  rules:
    # turn a built-in rule off
    - name: gemini.thought_signature
      enabled: false
    # change one field of a built-in rule
    - name: anthropic.thinking
      ttl: 600
    # a new rule: echo a provider's opaque conversation token on every later request
    - name: acme.conversation_token
      protocols: [openai_chat]
      mode: last
      extract:
        source: response
        path: extensions.conversation_token
      inject:
        path: extensions.conversation_token
        op: set
"""


def test_builtin_rules_round_trip_through_mappings() -> None:
    for rule in builtin_rules():
        assert Rule.from_dict(rule.to_dict()) == rule
        assert Rule.from_dict(yaml.safe_load(yaml.safe_dump(rule.to_dict()))) == rule


def test_builtin_rules_by_protocol() -> None:
    assert [r.name for r in BUILTIN_RULES["anthropic"]] == ["anthropic.thinking"]
    assert {r.name for r in BUILTIN_RULES["gemini"]} == {
        "gemini.tool_call_signature",
        "gemini.thought_signature",
        "gemini.trailing_signature",
        "gemini.text_signature",
    }
    assert [r.name for r in BUILTIN_RULES["openai_responses"]] == ["openai_responses.reasoning"]
    assert BUILTIN_RULES["openai_chat"] == []
    for protocol, rules in BUILTIN_RULES.items():
        assert all(r.protocols == (protocol,) for r in rules)
        assert all(r.scope == ("provider", "model", "key_id", "session") for r in rules)


def test_yaml_overrides_merge_over_the_builtins() -> None:
    config = yaml.safe_load(YAML_OVERRIDES)["field_cache"]
    rules = {r.name: r for r in merge_rules(builtin_rules(), config["rules"])}
    assert "gemini.thought_signature" not in rules
    assert rules["anthropic.thinking"].ttl == 600
    assert rules["anthropic.thinking"].extract == BUILTIN_RULES["anthropic"][0].extract
    token = rules["acme.conversation_token"]
    assert (token.mode, token.anchor, token.inject.op) == ("last", "request", "set")
    assert token.extract.path == "extensions.conversation_token"


def test_override_of_a_nested_field_keeps_the_rest() -> None:
    rules = merge_rules(builtin_rules("anthropic"), [{"name": "anthropic.thinking", "inject": {"path": "content[-1]"}}])
    assert rules[0].inject.path == "content[-1]"
    assert rules[0].inject.unless == BUILTIN_RULES["anthropic"][0].inject.unless


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"protocols": ["x"]}, "needs a non-empty string 'name'"),
        ({"name": "r", "mode": "sometimes"}, "mode must be one of"),
        ({"name": "r", "mode": "last", "colour": 1}, "unknown field(s) colour"),
        ({"name": "r", "mode": "last", "extract": {"source": "disk"}, "inject": {"path": "a"}}, "extract.source"),
        ({"name": "r", "mode": "last", "extract": {"path": "a["}, "inject": {"path": "a", "op": "set"}}, "bad path"),
        ({"name": "r", "mode": "last", "inject": {"path": "a", "op": "insert"}}, "an insert path ends with [n]"),
        ({"name": "r", "mode": "last", "inject": {"op": "set"}}, "inject.path is required"),
        ({"name": "r", "mode": "last", "inject": {"path": "x[0]", "anchor": "message"}}, "injects at the request"),
        ({"name": "r", "mode": "last", "inject": {"path": "x[0]", "anchor": "tool_call"}}, "needs mode per_tool_call"),
        ({"name": "r", "mode": "last", "inject": {"path": "x[0]"}, "scope": ["session"]}, "must include provider"),
        ({"name": "r", "mode": "last", "inject": {"path": "x[0]"}, "scope": ["provider", "tenant"]}, "scope lists"),
        ({"name": "r", "mode": "last", "inject": {"path": "x[0]"}, "ttl": -1}, "ttl must be positive"),
        ({"name": "r", "mode": "last", "inject": {"path": "x[0]"}, "max_values": 0}, "max_values must be positive"),
        ({"name": "r", "mode": "last", "inject": {"path": "x[0]"}, "protocols": "gemini"}, "protocols must be a list"),
        ({"name": "r", "mode": "last", "inject": {"path": "x[0]"}, "extract": {"select": [{}]}}, "non-empty mapping"),
        (
            {"name": "r", "mode": "last", "inject": {"path": "x[0]", "unless": [{"paths": "a"}]}},
            "unknown field(s) paths",
        ),
    ],
)
def test_invalid_rules_say_what_is_wrong(mapping: dict, message: str) -> None:
    with pytest.raises(RuleError) as exc:
        Rule.from_dict(mapping)
    assert message in str(exc.value)


def test_new_rule_overrides_must_be_complete() -> None:
    with pytest.raises(RuleError, match="mode must be one of"):
        merge_rules([], [{"name": "half.rule"}])


def test_select_alternatives_protocol_and_presence() -> None:
    select = ((("signature_source", "$protocol"), ("signature", "*")), (("redacted", "*"),))
    assert selected(ReasoningPart("t", "sig", "anthropic"), select, "anthropic")
    assert not selected(ReasoningPart("t", "sig", "gemini"), select, "anthropic")
    assert not selected(ReasoningPart("t", "", "anthropic"), select, "anthropic")
    assert selected(ReasoningPart(redacted="data"), select, "anthropic")
    assert not selected(ReasoningPart("t"), select, "anthropic")
    assert selected(TextPart("x"), (), "anthropic")  # no select: everything passes
    ext = ((("extensions.thoughtSignature", "*"),),)
    assert selected(TextPart("x", extensions={"thoughtSignature": "s"}), ext, "gemini")
    assert not selected(TextPart("x"), ext, "gemini")


def test_templates() -> None:
    call = ToolCallPart("c1", "f", "{}", "sig", "gemini")
    assert render("$", call, "gemini")["signature"] == "sig"
    assert render({"signature": "$.signature", "signature_source": "$protocol", "n": 1}, call, "gemini") == {
        "signature": "sig",
        "signature_source": "gemini",
        "n": 1,
    }
    assert render(["$.name", "$.missing", "literal"], call, "gemini") == ["f", None, "literal"]


def test_duplicate_rule_names_are_refused() -> None:
    from switchyard.fieldcache import FieldCache
    from switchyard.store import MemoryKVStore

    rule = BUILTIN_RULES["anthropic"][0]
    with pytest.raises(ValueError, match="two field-cache rules"):
        FieldCache(MemoryKVStore(), [rule, rule])
