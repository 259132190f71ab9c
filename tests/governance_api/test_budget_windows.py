"""Budgets over time and across keys: a window resets at its boundary (an injected clock), a
team's budget and limits are shared by its keys, a config-declared key's limits hold, and the
settled spend survives a restart."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from gateway_harness import Gateway, HTTPResult
from gov_harness import BOTH_BACKENDS, CONFIG_LIMITED_KEY, KEYS, TEAMS, Admin, chat, governance_config

pytestmark = BOTH_BACKENDS

REQUEST_COST = (11 * 10.0 + 9 * 100.0) / 1_000_000
"""What the mock's default Chat answer (11 prompt, 9 output tokens) costs at the test prices."""


@pytest.fixture(scope="module")
def admin(gw) -> Admin:
    return Admin(gw)


def spend_until_refused(gw: Gateway, key: str, most: int = 20) -> tuple[int, HTTPResult]:
    """Send requests until one is refused: (how many were admitted, the refusal)."""
    for admitted in range(most):
        resp = chat(gw, key)
        if resp.status != 200:
            return admitted, resp
    raise AssertionError(f"{most} requests admitted; the budget never ran out")


def moment(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_a_1d_budget_resets_at_the_window_boundary(admin, gw, upstreams, clock):
    created = admin.create_key("window-1d", budget={"usd": 0.005, "window": "1d"})
    path = f"{KEYS}/{created['id']}"
    resets = admin.show_key(created["id"])["spend"]["window_resets_at"]
    assert moment(resets) == pytest.approx(clock.now + 86_400)
    admitted, refusal = spend_until_refused(gw, created["key"])
    assert admitted >= 1
    assert refusal.status == 429 and refusal.json["error"]["code"] == "budget_exceeded"
    assert f"the 1d window resets at {resets}" in refusal.json["error"]["message"]
    spent = admin.settled(path)["spend"]
    assert spent["usd"] == pytest.approx(admitted * REQUEST_COST) and spent["usd"] <= 0.005

    clock.now = moment(resets) - 1
    assert chat(gw, created["key"]).status == 429
    clock.now = moment(resets)
    assert chat(gw, created["key"]).status == 200
    after = admin.settled(path)["spend"]
    assert after["usd"] == pytest.approx(REQUEST_COST)
    assert moment(after["window_resets_at"]) == pytest.approx(moment(resets) + 86_400)


def test_a_month_budget_resets_on_the_first_of_the_next_month(admin, gw, clock):
    clock.now = datetime(2030, 1, 31, 23, 59, tzinfo=UTC).timestamp()
    created = admin.create_key("window-month", budget={"usd": 0.004, "window": "month"})
    assert admin.show_key(created["id"])["spend"]["window_resets_at"] == "2030-02-01T00:00:00Z"
    spend_until_refused(gw, created["key"])
    clock.now = datetime(2030, 2, 1, tzinfo=UTC).timestamp()
    assert chat(gw, created["key"]).status == 200
    shown = admin.settled(f"{KEYS}/{created['id']}")
    assert shown["spend"]["window_resets_at"] == "2030-03-01T00:00:00Z"
    assert shown["spend"]["usd"] == pytest.approx(REQUEST_COST)


def test_a_total_budget_never_resets(admin, gw, clock):
    created = admin.create_key("window-total", budget={"usd": 0.004, "window": "total"})
    _, refusal = spend_until_refused(gw, created["key"])
    assert "(a total budget)" in refusal.json["error"]["message"]
    clock.now += 400 * 86_400
    assert chat(gw, created["key"]).status == 429


def test_a_team_budget_is_shared_by_its_keys(admin, gw, clock):
    admin.create_team("shared-budget", budget={"usd": 0.005, "window": "1d"})
    first = admin.create_key("team-member-1", team="shared-budget")
    second = admin.create_key("team-member-2", team="shared-budget")
    admitted, refusal = spend_until_refused(gw, first["key"])
    assert "team 'shared-budget'" in refusal.json["error"]["message"]
    other = chat(gw, second["key"])
    assert other.status == 429 and "team 'shared-budget'" in other.json["error"]["message"]
    team = admin.settled(f"{TEAMS}/shared-budget")
    assert team["spend"]["usd"] == pytest.approx(admitted * REQUEST_COST) and team["spend"]["usd"] <= 0.005
    assert admin.settled(f"{KEYS}/{first['id']}")["spend"]["usd"] == pytest.approx(admitted * REQUEST_COST)
    assert admin.settled(f"{KEYS}/{second['id']}")["spend"]["usd"] == 0


def test_a_team_rate_limit_is_shared_and_a_request_must_fit_the_key_too(admin, gw, clock):
    admin.create_team("shared-rpm", limits={"rpm": 3})
    first = admin.create_key("rpm-member-1", team="shared-rpm", limits={"rpm": 1})
    second = admin.create_key("rpm-member-2", team="shared-rpm")
    assert chat(gw, first["key"]).status == 200
    own = chat(gw, first["key"])
    assert own.status == 429 and "this client key" in own.json["error"]["message"]
    assert [chat(gw, second["key"]).status for _ in range(3)] == [200, 200, 429]
    team = chat(gw, second["key"]).json["error"]["message"]
    assert "team 'shared-rpm'" in team and "3 of 3 requests" in team


def test_a_config_key_with_limits_is_enforced(gw, upstreams, clock):
    first, second, third = (chat(gw, CONFIG_LIMITED_KEY) for _ in range(3))
    assert (first.status, second.status, third.status) == (200, 200, 429)
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert second.headers["x-ratelimit-remaining-requests"] == "0"
    assert third.headers["x-ratelimit-remaining-requests"] == "0" and third.headers["retry-after"] == "30"
    assert third.json["error"]["code"] == "rate_limit_exceeded"
    assert len(upstreams["openai_chat"].requests) == 2
    clock.now += 60
    assert chat(gw, CONFIG_LIMITED_KEY).status == 200


def test_settled_spend_survives_a_restart(upstream_host, state, tmp_path):
    config = governance_config(upstream_host, tmp_path, state=state)
    gateway = Gateway(config).start()
    try:
        admin = Admin(gateway)
        created = admin.create_key("durable", budget={"usd": 0.004, "window": "total"})
        admitted, _ = spend_until_refused(gateway, created["key"])
        before = admin.settled(f"{KEYS}/{created['id']}")["spend"]["usd"]
    finally:
        gateway.stop()
    again = Gateway(governance_config(upstream_host, tmp_path, state=state)).start()
    try:
        assert Admin(again).show_key(created["id"])["spend"]["usd"] == pytest.approx(before)
        assert before == pytest.approx(admitted * REQUEST_COST)
        assert chat(again, created["key"]).status == 429
    finally:
        again.stop()


def test_a_changed_limit_holds_on_the_next_request(admin, gw, clock):
    created = admin.create_key("patched-rpm", limits={"rpm": 100})
    assert [chat(gw, created["key"]).status for _ in range(2)] == [200, 200]
    admin.ok("PATCH", f"{KEYS}/{created['id']}", {"limits": {"rpm": 2}})
    refused = chat(gw, created["key"])
    assert refused.status == 429 and "2 of 2 requests" in refused.json["error"]["message"]
    admin.ok("PATCH", f"{KEYS}/{created['id']}", {"limits": None})
    assert chat(gw, created["key"]).status == 200


def test_a_key_moved_into_a_team_is_held_to_its_budget_on_the_next_request(admin, gw, clock):
    admin.create_team("spent-team", budget={"usd": 0.004, "window": "1d"})
    spender = admin.create_key("spent-team-member", team="spent-team")
    spend_until_refused(gw, spender["key"])
    mover = admin.create_key("mover")
    assert chat(gw, mover["key"]).status == 200
    admin.ok("PATCH", f"{KEYS}/{mover['id']}", {"team": "spent-team"})
    refused = chat(gw, mover["key"])
    assert refused.status == 429 and "team 'spent-team'" in refused.json["error"]["message"]
