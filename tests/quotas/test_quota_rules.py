"""Declared quotas: the config's validation and the windows a moment falls in."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from switchyard.config import ConfigError, parse_config
from switchyard.quotas.rules import QuotaRule, parse_rule


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def config(quotas: str, extra: str = "") -> str:
    return f"""
providers:
  gm:
    type: gemini
    api_keys: [k1, k2]
    quotas: {quotas}
{extra}
"""


def parse(text: str):
    return parse_config(text, "q.yaml", {}, Path.cwd())


def test_issue_example_parses() -> None:
    cfg = parse(
        config(
            '[{models: ["gemini-2.5-pro"], requests: 100, window: 1d, reset: "00:00 America/Los_Angeles"},'
            " {tokens: 1000000, window: 1m}]",
            "routing:\n  fair_cycle: true",
        )
    )
    first, second = cfg.providers["gm"].quotas
    assert (first.requests, first.tokens, first.window, first.models) == (100, None, 86400.0, ("gemini-2.5-pro",))
    assert first.reset == (0, 0, "America/Los_Angeles")
    assert (second.requests, second.tokens, second.window, second.models, second.reset) == (
        None,
        1000000,
        60.0,
        (),
        None,
    )
    assert cfg.routing.fair_cycle and cfg.providers["gm"].routing.fair_cycle


def test_model_group_expands_to_this_providers_models() -> None:
    text = config("[{models: [pro-group], requests: 5, window: 1h}]") + (
        "models:\n  pro-group: [gm/gemini-2.5-pro, other/x, gm/gemini-2.5-flash]\n"
    )
    text = text.replace(
        "providers:\n", "providers:\n  other:\n    type: openai\n    base_url: http://127.0.0.1:1/v1\n", 1
    )
    rule = parse(text).providers["gm"].quotas[0]
    assert rule.models == ("gemini-2.5-pro", "gemini-2.5-flash")
    assert rule.applies("gemini-2.5-flash") and not rule.applies("x")


@pytest.mark.parametrize(
    ("quotas", "message"),
    [
        ("{requests: 5}", "must be a list"),
        ("[{window: 1d}]", "needs requests, tokens or both"),
        ("[{requests: 5}]", "needs a window"),
        ("[{requests: 0, window: 1d}]", "requests must be a whole number"),
        ("[{requests: 5, window: 1w}]", "window must be a duration"),
        ("[{requests: 5, window: 1d, reset: '25:00 UTC'}]", "reset must be a time of day"),
        ("[{requests: 5, window: 1d, reset: '00:00 Mars/Olympus'}]", "unknown time zone 'Mars/Olympus'"),
        ("[{requests: 5, window: 7h, reset: '00:00 UTC'}]", "divide a day evenly"),
        ("[{requests: 5, window: 1d, per: key}]", "unknown key 'per'"),
    ],
)
def test_bad_quotas_are_reported_with_their_place(quotas: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(config(quotas))
    assert any("providers.gm.quotas" in p and message in p for p in caught.value.problems), caught.value.problems


def test_quotas_need_keys_of_the_providers_own() -> None:
    text = "providers:\n  local:\n    type: openai\n    base_url: http://127.0.0.1:1/v1\n    quotas: [{requests: 5, window: 1d}]\n"
    with pytest.raises(ConfigError, match=r"providers\.local\.quotas: quotas count the provider's own api_keys"):
        parse(text)


def test_fair_cycle_must_be_a_boolean() -> None:
    with pytest.raises(ConfigError, match=r"routing\.fair_cycle: must be a boolean"):
        parse(config("[]", "routing:\n  fair_cycle: often"))


def test_daily_window_ends_at_midnight_in_los_angeles_across_dst() -> None:
    rule = parse_rule({"requests": 1, "window": "1d", "reset": "00:00 America/Los_Angeles"}, {})
    # summer (PDT, UTC-7): midnight is 07:00 UTC
    assert iso(rule.window_end(ts("2026-07-01T06:59:00+00:00"))) == "2026-07-01T07:00:00+00:00"
    assert iso(rule.window_end(ts("2026-07-01T07:00:00+00:00"))) == "2026-07-02T07:00:00+00:00"
    # winter (PST, UTC-8): 08:00 UTC; the night DST ends the window lasts 25 hours
    assert iso(rule.window_end(ts("2026-12-01T12:00:00+00:00"))) == "2026-12-02T08:00:00+00:00"
    assert iso(rule.window_end(ts("2026-11-01T06:30:00+00:00"))) == "2026-11-01T07:00:00+00:00"
    assert iso(rule.window_end(ts("2026-11-01T07:00:00+00:00"))) == "2026-11-02T08:00:00+00:00"


def test_windows_shorter_than_a_day_step_from_the_anchor() -> None:
    rule = parse_rule({"requests": 1, "window": "1h", "reset": "00:30"}, {})
    assert iso(rule.window_end(ts("2026-07-01T10:29:59+00:00"))) == "2026-07-01T10:30:00+00:00"
    assert iso(rule.window_end(ts("2026-07-01T10:30:00+00:00"))) == "2026-07-01T11:30:00+00:00"
    assert iso(rule.window_end(ts("2026-07-01T00:10:00+00:00"))) == "2026-07-01T00:30:00+00:00"


def test_a_window_without_reset_runs_from_first_use() -> None:
    rule = parse_rule({"tokens": 10, "window": 90}, {})
    assert rule.window == 90.0 and rule.window_end(1000.0) == 0.0


def test_rule_id_changes_with_its_terms() -> None:
    a = parse_rule({"requests": 5, "window": "1d"}, {})
    assert a.id == parse_rule({"requests": 5, "window": "24h"}, {}).id
    assert a.id != parse_rule({"requests": 6, "window": "1d"}, {}).id
    assert isinstance(a, QuotaRule) and a.text == "5 requests / 1d"
