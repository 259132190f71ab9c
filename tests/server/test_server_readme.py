"""Issue 13 item 15 — the README's endpoints table said ``previous_response_id`` is refused with
a 400, while the Stored Responses section (and the gateway) continue a conversation with it. The
table is read here and checked against the behaviour, through the real gateway."""

from __future__ import annotations

import re
from pathlib import Path

from gateway_harness import CLIENT_KEY, call

README = Path(__file__).parents[2] / "README.md"
AUTH = {"authorization": f"Bearer {CLIENT_KEY}"}


def endpoint_rows() -> dict[str, str]:
    """The endpoints table: first cell -> second cell."""
    text = README.read_text()
    table = text.split("### Endpoints", 1)[1].split("\n\n", 2)[1]
    rows = {}
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = cells[1]
    return rows


def test_readme_endpoints_table_agrees_that_previous_response_id_works(gateway, upstreams):
    row = next(desc for path, desc in endpoint_rows().items() if "POST /v1/responses" in path)
    assert not re.search(r"refused|stateless", row), row
    assert "previous_response_id" in row
    first = call(gateway.url + "/v1/responses", "POST", {"model": "mock-1", "input": "remember heron"}, AUTH)
    assert first.status == 200
    body = {"model": "mock-1", "input": "what was it?", "previous_response_id": first.json["id"]}
    second = call(gateway.url + "/v1/responses", "POST", body, AUTH)
    assert second.status == 200, second.body  # not a 400, as the table used to say
    items = call(gateway.url + f"/v1/responses/{second.json['id']}/input_items?order=asc", "GET", None, AUTH)
    assert "remember heron" in items.body.decode()


def test_readme_endpoints_table_lists_only_routes_that_exist(gateway, upstreams):
    for cell in endpoint_rows():
        for method, path in re.findall(r"`(GET|POST|DELETE|HEAD)[^`]*? (/[^`]*)`", cell):
            concrete = path.replace("{model}", "mock-1").replace("{id}", "resp_none").replace("...", "mock-1")
            if ":" in concrete or "{" in concrete:
                continue
            resp = call(gateway.url + concrete, method, {} if method == "POST" else None, AUTH)
            assert b"no such endpoint" not in resp.body, (method, path, resp.status)
