"""Who spent what: usage rows carry the client key's id, name and team; ``switchyard usage --by
client|team`` prints them; ``switchyard client-keys …`` and ``switchyard teams …`` drive the
running gateway's admin API end to end (run as a user does: a subprocess with the config file)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from gateway_harness import CLIENT_KEY, Gateway, config_from_yaml
from gov_harness import CONFIG_LIMITED_KEY, CONFIG_LIMITED_NAME, KEYS, Admin, chat, governance_yaml
from test_server_cli import CLI, clean_env
from test_server_usage import row

PRINTED_KEY = re.compile(r"key \(shown this once; store it now\): (sk-sy-[A-Za-z0-9_-]+)")


@pytest.fixture(scope="module")
def gw(upstream_host, tmp_path_factory) -> Iterator[Gateway]:
    """The gateway, its config also written to ``switchyard.yaml`` in its base folder (same data_dir)."""
    base = tmp_path_factory.mktemp("usage-cli")
    text = governance_yaml(upstream_host)
    (base / "switchyard.yaml").write_text(text)
    gateway = Gateway(config_from_yaml(text, base_dir=base)).start()
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def admin(gw) -> Admin:
    return Admin(gw)


def switchyard(gw: Gateway, *args: str, url: bool = True) -> subprocess.CompletedProcess:
    """``switchyard <args> --config switchyard.yaml [--url <the gateway>]`` in the config's folder."""
    cwd = Path(gw.config.server.data_dir).parent
    extra = ["--config", "switchyard.yaml", *(["--url", gw.url] if url else [])]
    env = clean_env()
    env.pop("SWITCHYARD_ADMIN_KEY", None)
    return subprocess.run(
        [*CLI, *args, *extra], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def ok(gw: Gateway, *args: str) -> str:
    out = switchyard(gw, *args)
    assert out.returncode == 0, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    return out.stdout


def printed_key(stdout: str) -> str:
    keys = PRINTED_KEY.findall(stdout)
    assert len(keys) == 1 and stdout.count(keys[0]) == 1, stdout
    return keys[0]


def usage(gw: Gateway, by: str) -> list[dict[str, Any]]:
    out = switchyard(gw, "usage", "--by", by, "--json", url=False)
    assert out.returncode == 0, out.stderr
    return orjson.loads(out.stdout)


def test_usage_rows_carry_the_client_key_id_name_and_team(admin, gw, clock):
    admin.create_team("usage-team")
    member = admin.create_key("usage-member", team="usage-team", budget={"usd": 0.001, "window": "1d"})
    loner = admin.create_key("usage-loner")
    rows = {
        "member": row(gw, chat(gw, member["key"], max_tokens=1).headers["x-request-id"]),
        "refused": row(gw, chat(gw, member["key"]).headers["x-request-id"]),
        "loner": row(gw, chat(gw, loner["key"]).headers["x-request-id"]),
        "config": row(gw, chat(gw, CONFIG_LIMITED_KEY).headers["x-request-id"]),
        "plain": row(gw, chat(gw, CLIENT_KEY).headers["x-request-id"]),
    }
    seen = {name: (r["client_key_id"], r["client_key_name"], r["team"], r["status"]) for name, r in rows.items()}
    assert seen["member"] == (member["id"], "usage-member", "usage-team", 200)
    assert seen["refused"] == (member["id"], "usage-member", "usage-team", 429)
    assert seen["loner"] == (loner["id"], "usage-loner", None, 200)
    assert seen["config"][1:] == (CONFIG_LIMITED_NAME, None, 200) and seen["config"][0].startswith("cfg_")
    assert seen["plain"] == (None, None, None, 200)
    assert rows["member"]["cost"] > 0


def test_usage_by_client_and_by_team_print_them(admin, gw):
    admin.create_team("cli-usage-team")
    key = admin.create_key("cli-usage-key", team="cli-usage-team")
    ids = [chat(gw, key["key"]).headers["x-request-id"] for _ in range(3)]
    ids.append(chat(gw, CLIENT_KEY).headers["x-request-id"])
    for request_id in ids:
        row(gw, request_id)
    by_client = {r["group"]: r for r in usage(gw, "client")}
    mine = by_client[f"cli-usage-key ({key['id']})"]
    assert mine["requests"] == 3 and mine["cost"] > 0
    assert by_client["-"]["requests"] >= 1  # a config key without a name: no client key
    assert {r["group"]: r["requests"] for r in usage(gw, "team")}["cli-usage-team"] == 3
    table = switchyard(gw, "usage", "--by", "client", url=False).stdout
    assert "CLIENT KEY" in table and f"cli-usage-key ({key['id']})" in table
    teams = switchyard(gw, "usage", "--by", "team", url=False).stdout
    assert "TEAM" in teams and "cli-usage-team" in teams


def test_client_keys_cli_creates_lists_shows_updates_rotates_and_revokes(admin, gw):
    admin.create_team("cli-team")
    created = ok(
        gw, "client-keys", "create", "cli-person", "--team", "cli-team", "--models", "oc/*, an/gov-priced",
        "--budget", "2.5", "--window", "7d", "--rpm", "30", "--max-parallel", "2", "--meta", "owner=bob",
    )  # fmt: skip
    first = printed_key(created)
    key_id = created.split()[0]
    assert key_id.startswith("ck_") and "team=cli-team" in created and "budget=$2.5/7d" in created
    assert chat(gw, first).status == 200

    listing = ok(gw, "client-keys", "list")
    assert key_id in listing and "cli-person" in listing and first not in listing
    shown = orjson.loads(ok(gw, "client-keys", "show", key_id))
    assert shown["models"] == ["oc/*", "an/gov-priced"] and shown["metadata"] == {"owner": "bob"}
    assert shown["limits"] == {"rpm": 30, "tpm": None, "max_parallel": 2} and "spend" in shown
    assert "key" not in shown

    updated = ok(gw, "client-keys", "update", key_id, "--rpm", "5")
    assert "rpm=5" in updated and "max_parallel=2" in updated

    second = printed_key(ok(gw, "client-keys", "rotate", key_id))
    assert second != first
    assert chat(gw, first).status == 401 and chat(gw, second).status == 200

    revoked = ok(gw, "client-keys", "revoke", key_id)
    assert "REVOKED" in revoked and PRINTED_KEY.search(revoked) is None
    assert chat(gw, second).status == 401


def test_client_keys_cli_json_output_is_json_alone_with_the_key(admin, gw):
    created = orjson.loads(ok(gw, "client-keys", "create", "cli-json", "--rpm", "3", "--json"))
    assert created["key"].startswith("sk-sy-") and created["limits"]["rpm"] == 3
    rotated = orjson.loads(ok(gw, "client-keys", "rotate", created["id"], "--json"))
    assert rotated["id"] == created["id"] and rotated["key"] != created["key"]
    assert chat(gw, rotated["key"]).status == 200


def test_client_keys_cli_update_keeps_what_it_does_not_name(admin, gw):
    created = admin.create_key(
        "cli-partial", budget={"usd": 2.5, "window": "7d"}, limits={"rpm": 30, "max_parallel": 2}, metadata={"a": "1"}
    )
    path = f"{KEYS}/{created['id']}"
    ok(gw, "client-keys", "update", created["id"], "--tpm", "9000", "--budget", "3", "--meta", "b=2")
    shown = admin.ok("GET", path)
    assert shown["limits"] == {"rpm": 30, "tpm": 9000, "max_parallel": 2}
    assert shown["budget"] == {"usd": 3.0, "window": "7d"} and shown["metadata"] == {"a": "1", "b": "2"}
    ok(gw, "client-keys", "update", created["id"], "--window", "1d")
    assert admin.ok("GET", path)["budget"] == {"usd": 3.0, "window": "1d"}


def test_client_keys_cli_reports_errors_with_exit_code_1(gw):
    missing = switchyard(gw, "client-keys", "show", "ck_0000000000000000")
    assert missing.returncode == 1 and "404" in missing.stderr and "ck_0000000000000000" in missing.stderr
    invalid = switchyard(gw, "client-keys", "create", "bad", "--team", "no-such-team")
    assert invalid.returncode == 1 and "400" in invalid.stderr and "no-such-team" in invalid.stderr
    wrong = switchyard(gw, "client-keys", "list", "--admin-key", "not-the-admin-key")
    assert wrong.returncode == 1 and "401" in wrong.stderr
    for out in (missing, invalid, wrong):
        assert "Traceback" not in out.stderr and "sk-sy-" not in out.stdout


def test_teams_cli_creates_lists_shows_updates_and_deletes(admin, gw):
    created = ok(gw, "teams", "create", "cli-crew", "--budget", "5", "--window", "month", "--rpm", "10")
    assert created.startswith("cli-crew") and "budget=$5/month" in created and "rpm=10" in created
    assert PRINTED_KEY.search(created) is None
    assert "cli-crew" in ok(gw, "teams", "list")
    shown = orjson.loads(ok(gw, "teams", "show", "cli-crew"))
    assert shown["budget"] == {"usd": 5.0, "window": "month"} and shown["keys"] == []
    ok(gw, "teams", "update", "cli-crew", "--max-parallel", "2")
    assert admin.ok("GET", "/admin/teams/cli-crew")["limits"] == {"rpm": 10, "tpm": None, "max_parallel": 2}
    member = admin.create_key("cli-crew-member", team="cli-crew")
    busy = switchyard(gw, "teams", "delete", "cli-crew")
    assert busy.returncode == 1 and "409" in busy.stderr
    admin.ok("DELETE", f"{KEYS}/{member['id']}")
    ok(gw, "teams", "delete", "cli-crew")
    gone = switchyard(gw, "teams", "show", "cli-crew")
    assert gone.returncode == 1 and "404" in gone.stderr


def test_keys_cli_reads_the_upstream_keys_with_the_admin_key(gw):
    listing = ok(gw, "keys")
    assert "provider" in listing and "oc" in listing and "sk-oc-upstream-key-0001" not in listing
