"""Pure pieces of governance: budget windows, admin bodies, output limits, the reservation bound."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchyard.accounting.pricing import default_pricing
from switchyard.core.errors import RequestError
from switchyard.core.model import Usage
from switchyard.governance.model import KEY_FIELDS, Budget, ClientKey, Limits, parse_fields
from switchyard.governance.service import DEFAULT_MAX_OUTPUT, max_cost, requested_output
from switchyard.routing import Target


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_day_windows_count_from_the_anchor() -> None:
    anchor = ts("2026-12-01T10:00:00")
    budget = Budget(5, "1d")
    assert budget.span(anchor, ts("2026-12-01T10:00:00")) == ("1d:0", ts("2026-12-02T10:00:00"))
    assert budget.span(anchor, ts("2026-12-02T09:59:59")) == ("1d:0", ts("2026-12-02T10:00:00"))
    assert budget.span(anchor, ts("2026-12-02T10:00:00")) == ("1d:1", ts("2026-12-03T10:00:00"))
    assert Budget(5, "7d").span(anchor, ts("2026-12-09T00:00:00")) == ("7d:1", ts("2026-12-15T10:00:00"))
    assert Budget(5, "30d").span(anchor, ts("2026-12-30T00:00:00"))[0] == "30d:0"


def test_month_window_is_the_calendar_month_utc() -> None:
    budget = Budget(5, "month")
    assert budget.span(0, ts("2026-12-31T23:59:59")) == ("m2026-12", ts("2027-01-01T00:00:00"))
    assert budget.span(0, ts("2027-01-01T00:00:00")) == ("m2027-01", ts("2027-02-01T00:00:00"))
    assert Budget(5, "total").span(0, ts("2027-01-01T00:00:00")) == ("total", None)


def test_key_body_is_validated_field_by_field() -> None:
    fields = parse_fields(
        {
            "name": "ci",
            "models": ["gpt-*"],
            "expires_at": "2027-01-01T00:00:00Z",
            "budget": {"usd": 10, "window": "7d"},
            "limits": {"rpm": 60, "max_parallel": 4},
        },
        KEY_FIELDS,
        create=True,
    )
    assert fields["budget"] == Budget(10.0, "7d")
    assert fields["limits"] == Limits(rpm=60, max_parallel=4)
    assert fields["expires_at"] == ts("2027-01-01T00:00:00")
    bad = [
        ({}, "name"),
        ({"name": "x", "budget": {"usd": -1}}, "budget.usd"),
        ({"name": "x", "budget": {"usd": 9_000_001}}, "budget.usd"),  # beyond exact nano-dollars in Lua
        ({"name": "x", "budget": {"usd": 1, "window": "2d"}}, "budget.window"),
        ({"name": "x", "limits": {"rpm": 1.5}}, "limits.rpm"),
        ({"name": "x", "limits": {"burst": 1}}, "limits"),
        ({"name": "x", "expires_at": "tomorrow"}, "expires_at"),
        ({"name": "x", "owner": "me"}, "owner"),
    ]
    for body, param in bad:
        with pytest.raises(RequestError) as caught:
            parse_fields(body, KEY_FIELDS, create=True)
        assert caught.value.param == param


def test_allowed_models_match_the_name_or_every_target() -> None:
    key = ClientKey(created_at=0, budget=None, limits=Limits(), models=["fast", "openai/*"])
    assert key.allows("fast", ["anthropic/claude-haiku-4-5"])
    assert key.allows("gpt-4.1", ["openai/gpt-4.1"])
    assert not key.allows("smart", ["anthropic/claude-sonnet-4-5", "openai/gpt-4.1"])
    assert ClientKey(created_at=0, budget=None, limits=Limits()).allows("anything", [])


def test_requested_output_reads_each_protocol() -> None:
    assert requested_output("openai_chat", {"max_completion_tokens": 10, "max_tokens": 99}) == 10
    assert requested_output("openai_chat", {"max_tokens": 99}) == 99
    assert requested_output("openai_responses", {"max_output_tokens": 7}) == 7
    assert requested_output("anthropic", {"max_tokens": 5}) == 5
    assert requested_output("gemini", {"generationConfig": {"maxOutputTokens": 3}}) == 3
    assert requested_output("openai_chat", {"max_tokens": True}) is None
    assert requested_output("gemini", {}) is None


@settings(max_examples=300, deadline=None)
@given(
    model=st.sampled_from(["claude-sonnet-4-5", "gemini-2.5-pro", "gpt-4.1", "claude-opus-4-5", "o3"]),
    size=st.integers(1, 2_000_000),
    limit=st.one_of(st.none(), st.integers(1, 200_000)),
    shares=st.tuples(*(st.floats(0, 1) for _ in range(4))),
    output_share=st.floats(0, 1),
)
def test_reservation_bounds_the_cost_of_any_usage_within_the_request(model, size, limit, shares, output_share) -> None:
    """Whatever the split of a prompt of at most ``size`` tokens into uncached, cache read and cache
    write, and any output up to the limit, the priced cost never exceeds the reservation."""
    reserve = max_cost(default_pricing(), [Target("p", model)], size, limit, unpriced="deny")
    total = sum(shares) or 1.0
    parts = [int(size * s / total) for s in shares[:3]]
    price = default_pricing().lookup(model)
    out = int((limit or price.max_output or DEFAULT_MAX_OUTPUT) * output_share)
    usage = Usage(input_tokens=parts[0], cache_read_tokens=parts[1], cache_write_tokens=parts[2], output_tokens=out)
    assert round(price.cost(usage) * 1e9) <= reserve
