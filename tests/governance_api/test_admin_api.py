"""The admin API's contract (issue 14, "Contract"), over real HTTP with an admin key."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from gov_harness import BOTH_BACKENDS, CONFIG_LIMITED_KEY, CONFIG_LIMITED_NAME, KEYS, TEAMS, Admin, chat

pytestmark = BOTH_BACKENDS

KEY_SHAPE = re.compile(r"^sk-sy-[A-Za-z0-9_-]{43,}$")
STORED = {
    "team": "contract-team",
    "models": ["oc/*", "an/gov-priced"],
    "expires_at": "2099-01-02T03:04:05Z",
    "metadata": {"owner": "alice@example.com", "service": "batch"},
    "budget": {"usd": 12.5, "window": "7d"},
    "limits": {"rpm": 30, "tpm": 100000, "max_parallel": 4},
}


@pytest.fixture(scope="module")
def admin(gw) -> Admin:
    api = Admin(gw)
    api.create_team("contract-team", budget={"usd": 100, "window": "month"}, limits={"rpm": 1000})
    return api


def test_create_answers_201_with_the_key_once_and_the_stored_fields(admin):
    created = admin.create_key("contract-create", **STORED)
    assert KEY_SHAPE.match(created["key"]), created["key"]
    assert created["id"] and created["id"] not in created["key"]
    assert created["name"] == "contract-create"
    for name, value in STORED.items():
        assert created[name] == value, name
    assert created["revoked_at"] is None and created["created_at"]
    assert created["key_hint"].startswith("sk-sy-") and len(created["key_hint"]) < 16
    assert created["key"].startswith(created["key_hint"].rstrip("…"))


def test_list_shows_a_masked_hint_and_never_the_key(admin):
    created = admin.create_key("contract-list")
    resp = admin("GET", KEYS)
    assert resp.status == 200
    listing = resp.json
    assert listing["object"] == "list"
    mine = [k for k in listing["data"] if k["id"] == created["id"]]
    assert len(mine) == 1
    assert "key" not in mine[0] and mine[0]["name"] == "contract-list"
    assert mine[0]["key_hint"] == created["key_hint"]
    assert all("key" not in k for k in listing["data"])
    assert created["key"].encode() not in resp.body
    assert created["key"][len("sk-sy-") :].encode() not in resp.body


def test_show_includes_spend_window_and_reservation(admin, gw):
    created = admin.create_key("contract-show", budget={"usd": 5, "window": "1d"})
    shown = admin.show_key(created["id"])
    assert "key" not in shown
    assert shown["spend"]["usd"] == 0 and shown["reserved_usd"] == 0
    resets = datetime.fromisoformat(shown["spend"]["window_resets_at"].replace("Z", "+00:00"))
    created_at = datetime.fromisoformat(shown["created_at"].replace("Z", "+00:00"))
    assert (resets - created_at).total_seconds() == pytest.approx(86_400)
    assert chat(gw, created["key"]).status == 200
    assert admin.settled(f"{KEYS}/{created['id']}")["spend"]["usd"] > 0


def test_show_of_a_total_budget_has_no_reset_time(admin):
    created = admin.create_key("contract-total", budget={"usd": 5, "window": "total"})
    assert admin.show_key(created["id"])["spend"] == {"usd": 0, "window": "total", "window_resets_at": None}


def test_patch_changes_only_the_fields_sent_and_null_clears(admin):
    created = admin.create_key("contract-patch", **STORED)
    patched = admin.ok("PATCH", f"{KEYS}/{created['id']}", {"name": "renamed", "limits": {"rpm": 7}, "budget": None})
    assert patched["name"] == "renamed"
    assert patched["limits"] == {"rpm": 7, "tpm": None, "max_parallel": None}
    assert patched["budget"] is None
    assert patched["models"] == STORED["models"] and patched["metadata"] == STORED["metadata"]
    assert admin.show_key(created["id"])["name"] == "renamed"


def test_delete_revokes_and_the_key_is_refused_next(admin, gw):
    created = admin.create_key("contract-revoke")
    assert chat(gw, created["key"]).status == 200
    revoked = admin.ok("DELETE", f"{KEYS}/{created['id']}")
    assert revoked["revoked_at"] is not None and "key" not in revoked
    assert chat(gw, created["key"]).status == 401
    assert admin.show_key(created["id"])["revoked_at"] == revoked["revoked_at"]
    assert admin("PATCH", f"{KEYS}/{created['id']}", {"name": "back"}).status == 409


def test_rotate_answers_201_with_a_new_key_and_the_old_one_is_refused(admin, gw):
    created = admin.create_key("contract-rotate", limits={"rpm": 100})
    assert chat(gw, created["key"]).status == 200
    rotated = admin.ok("POST", f"{KEYS}/{created['id']}/rotate", status=201)
    assert KEY_SHAPE.match(rotated["key"]) and rotated["key"] != created["key"]
    assert rotated["id"] == created["id"] and rotated["limits"]["rpm"] == 100
    old = chat(gw, created["key"])
    assert old.status == 401 and old.json["error"]["code"] == "invalid_api_key"
    assert chat(gw, rotated["key"]).status == 200


def test_teams_create_list_show_patch_delete(admin):
    team = admin.create_team("contract-crud", budget={"usd": 50, "window": "30d"}, limits={"max_parallel": 3})
    assert team["name"] == "contract-crud" and team["budget"] == {"usd": 50, "window": "30d"}
    assert team["limits"] == {"rpm": None, "tpm": None, "max_parallel": 3}
    assert "contract-crud" in [t["name"] for t in admin.ok("GET", TEAMS)["data"]]
    shown = admin.ok("GET", f"{TEAMS}/contract-crud")
    assert shown["spend"]["usd"] == 0 and shown["reserved_usd"] == 0 and shown["keys"] == []
    patched = admin.ok("PATCH", f"{TEAMS}/contract-crud", {"budget": {"usd": 75, "window": "month"}})
    assert patched["budget"] == {"usd": 75, "window": "month"} and patched["limits"]["max_parallel"] == 3
    assert admin.ok("DELETE", f"{TEAMS}/contract-crud")["deleted"] is True
    assert admin("GET", f"{TEAMS}/contract-crud").status == 404


def test_a_second_team_with_the_same_name_is_409(admin):
    admin.create_team("contract-twice")
    assert admin("POST", TEAMS, {"name": "contract-twice"}).status == 409


def test_deleting_a_team_with_active_keys_is_409_until_they_are_revoked(admin):
    admin.create_team("contract-busy")
    member = admin.create_key("contract-member", team="contract-busy")
    busy = admin("DELETE", f"{TEAMS}/contract-busy")
    assert busy.status == 409 and member["id"] in busy.json["error"]["message"]
    assert admin.ok("GET", f"{TEAMS}/contract-busy")["keys"] == [member["id"]]
    admin.ok("DELETE", f"{KEYS}/{member['id']}")
    assert admin("DELETE", f"{TEAMS}/contract-busy").status == 200


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", KEYS, {"team": "contract-team"}, "name"),
        ("POST", KEYS, {"name": ""}, "name"),
        ("POST", KEYS, {"name": "v", "budget": {"usd": -1, "window": "1d"}}, "budget.usd"),
        ("POST", KEYS, {"name": "v", "budget": {"usd": 1, "window": "week"}}, "budget.window"),
        ("POST", KEYS, {"name": "v", "budget": 5}, "budget"),
        ("POST", KEYS, {"name": "v", "limits": {"rpm": -1}}, "limits.rpm"),
        ("POST", KEYS, {"name": "v", "limits": {"rpm": 1.5}}, "limits.rpm"),
        ("POST", KEYS, {"name": "v", "limits": {"per_hour": 1}}, "limits"),
        ("POST", KEYS, {"name": "v", "expires_at": "next tuesday"}, "expires_at"),
        ("POST", KEYS, {"name": "v", "models": "gpt-4"}, "models"),
        ("POST", KEYS, {"name": "v", "metadata": ["x"]}, "metadata"),
        ("POST", KEYS, {"name": "v", "team": "no-such-team"}, "team"),
        ("POST", KEYS, {"name": "v", "colour": "red"}, "colour"),
        ("POST", TEAMS, {"budget": {"usd": 1}}, "name"),
        ("POST", TEAMS, {"name": "t", "limits": {"tpm": "many"}}, "limits.tpm"),
        ("POST", TEAMS, {"name": "t", "team": "x"}, "team"),
    ],
)
def test_validation_errors_are_400_naming_the_field(admin, method, path, body, field):
    resp = admin(method, path, body)
    assert resp.status == 400, resp.body
    error = resp.json["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == field and field in error["message"]


def test_patch_validation_errors_are_400_naming_the_field(admin):
    created = admin.create_key("contract-patch-invalid")
    resp = admin("PATCH", f"{KEYS}/{created['id']}", {"limits": {"max_parallel": -2}})
    assert resp.status == 400 and resp.json["error"]["param"] == "limits.max_parallel"
    renamed = admin("PATCH", f"{TEAMS}/contract-team", {"name": "other"})
    assert renamed.status == 400 and renamed.json["error"]["param"] == "name"


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"a string"'])
def test_a_body_that_is_not_a_json_object_is_400(admin, gw, raw):
    resp = admin("POST", KEYS, raw)
    assert resp.status == 400 and resp.json["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"{KEYS}/ck_0000000000000000"),
        ("PATCH", f"{KEYS}/ck_0000000000000000"),
        ("DELETE", f"{KEYS}/ck_0000000000000000"),
        ("POST", f"{KEYS}/ck_0000000000000000/rotate"),
        ("GET", f"{TEAMS}/no-such-team"),
        ("PATCH", f"{TEAMS}/no-such-team"),
        ("DELETE", f"{TEAMS}/no-such-team"),
        ("GET", "/admin/nothing-here"),
    ],
)
def test_an_unknown_id_is_404(admin, method, path):
    resp = admin(method, path, {"name": "x"} if method == "PATCH" else None)
    assert resp.status == 404, resp.body
    assert path.removesuffix("/rotate").rsplit("/", 1)[1] in resp.json["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", KEYS),
        ("DELETE", KEYS),
        ("POST", f"{KEYS}/ck_0000000000000000"),
        ("GET", f"{KEYS}/ck_0000000000000000/rotate"),
        ("PUT", TEAMS),
        ("POST", f"{TEAMS}/contract-team"),
    ],
)
def test_a_wrong_method_is_405(admin, method, path):
    resp = admin(method, path)
    assert resp.status == 405, resp.body
    assert method in resp.json["error"]["message"]


def test_config_keys_are_listed_read_only_without_their_secret(admin):
    resp = admin("GET", KEYS)
    listed = [k for k in resp.json["data"] if k["source"] == "config"]
    assert [k["name"] for k in listed] == [CONFIG_LIMITED_NAME]
    assert listed[0]["limits"]["rpm"] == 2 and listed[0]["key_hint"] == "…" + CONFIG_LIMITED_KEY[-4:]
    assert CONFIG_LIMITED_KEY.encode() not in resp.body
    path = f"{KEYS}/{listed[0]['id']}"
    for method, body in (("PATCH", {"name": "x"}), ("DELETE", None)):
        refused = admin(method, path, body)
        assert refused.status == 409 and "server.auth_keys" in refused.json["error"]["message"]
    assert admin("POST", f"{path}/rotate").status == 409
