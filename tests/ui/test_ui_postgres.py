"""The dashboard on a PostgreSQL usage log: two gateway processes (each with its own data_dir, so
no usage.db to fall back on) share one PostgreSQL usage log, and the dashboard of either shows
both processes' requests — overview, request log pages, a request's detail, usage and its CSV —
over real HTTP, and in Chromium; a PostgreSQL out of reach is reported as such."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gateway_harness import CLIENT_KEY, Gateway, call, closed_port, config_from_yaml
from gateway_process import GatewayProcess
from playwright.sync_api import expect, sync_playwright
from test_ui_browser import ARGS, CHROMIUM
from ui_harness import ADMIN_KEY, Session, chat, wait_for

from pg_support import fetch_sync, fresh_schema, with_port

SERVED = {0: 40, 1: 25}
"""Requests to mock-1 per process (process 0 in OpenAI Chat, process 1 in Anthropic Messages)."""
TOTAL = sum(SERVED.values()) + 2  # and one to an unknown model on each


def config(data_dir: Path, dsn: str) -> str:
    return f"""
server:
  auth_keys: ["{CLIENT_KEY}"]
  admin_keys: ["{ADMIN_KEY}"]
  data_dir: {data_dir}
observability:
  usage_log: {{backend: postgres, dsn: "{dsn}"}}
governance:
  unpriced: allow
"""


def messages(url: str) -> Any:
    body = {"model": "mock-1", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
    return call(url + "/v1/messages", body=body, headers={"x-api-key": CLIENT_KEY})


class Pair:
    def __init__(self, urls: list[str], dsn: str, ids: dict[str, int], missing: list[str]) -> None:
        self.urls = urls
        self.dsn = dsn
        self.ids = ids
        """request id -> the process that served it."""
        self.missing = missing
        """The ids of the requests to an unknown model (404)."""


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, pg_database: str) -> Iterator[Pair]:
    with fresh_schema(pg_database) as dsn:
        gateways = []
        for i in range(2):
            folder = tmp_path_factory.mktemp(f"gateway{i}")
            (folder / "switchyard.yaml").write_text(config(folder / "data", dsn))
            gateways.append(GatewayProcess(folder / "switchyard.yaml"))
        try:
            for gateway in gateways:
                gateway.start()
            ids: dict[str, int] = {}
            missing: list[str] = []
            for i, send in enumerate((chat, messages)):
                for _ in range(SERVED[i]):
                    answer = send(gateways[i].url)
                    assert answer.status == 200, answer.body
                    ids[answer.headers["x-request-id"]] = i
                refused = chat(gateways[i].url, model="no-such-model")
                assert refused.status == 404
                ids[refused.headers["x-request-id"]] = i
                missing.append(refused.headers["x-request-id"])
            yield Pair([g.url for g in gateways], dsn, ids, missing)
        finally:
            for gateway in gateways:
                gateway.stop()


def get_json(session: Session, path: str) -> Any:
    resp = session.get(path)
    assert resp.status == 200, resp.body
    return resp.json


@pytest.fixture(scope="module")
def sessions(pair: Pair) -> list[Session]:
    """A dashboard session on each process, once both processes' rows are all written."""
    made = [Session(url) for url in pair.urls]
    total = lambda: get_json(made[0], "/ui/api/overview?range=1h")["totals"]["requests"]  # noqa: E731
    assert wait_for(lambda: total() == TOTAL, timeout=20), total()
    return made


def test_the_overview_of_either_process_counts_both(sessions: list[Session]) -> None:
    for session in sessions:
        data = get_json(session, "/ui/api/overview?range=1h")
        assert data["totals"]["requests"] == TOTAL and data["totals"]["errors"] == 2
        assert data["totals"]["p50"] is not None and data["totals"]["tokens"] > 0
        assert sum(data["series"]["rps"]) * 60 == pytest.approx(TOTAL, rel=0.01)
        top = {row["name"]: row["requests"] for row in data["top"]["model"]}
        assert top == {"mock-1": sum(SERVED.values()), "no-such-model": 2}


def test_the_request_log_pages_through_both_processes_requests(pair: Pair, sessions: list[Session]) -> None:
    for session in sessions:
        seen: list[dict[str, Any]] = []
        path, pages = "/ui/api/requests?range=1h", 0
        while path:
            page = get_json(session, path)
            seen += page["data"]
            pages += 1
            path = f"/ui/api/requests?range=1h&before={page['next']!r}" if page["next"] is not None else ""
        assert pages == 2 and sorted(r["request_id"] for r in seen) == sorted(pair.ids)
        assert [r["ts"] for r in seen] == sorted((r["ts"] for r in seen), reverse=True)
        errors = get_json(session, "/ui/api/requests?range=1h&status=error")["data"]
        assert sorted(r["request_id"] for r in errors) == sorted(pair.missing)
        html = session.get("/ui/requests?range=1h&model=mock-1").body.decode()
        assert "openai_chat" in html and "anthropic" in html


def test_a_request_served_by_the_other_process_has_its_detail(pair: Pair, sessions: list[Session]) -> None:
    for mine, session in enumerate(sessions):
        other = next(i for i, served_by in pair.ids.items() if served_by != mine)
        detail = get_json(session, f"/ui/api/requests/{other}")
        assert detail["request"]["request_id"] == other and detail["attempts"]
        page = session.get(f"/ui/requests/{other}")
        assert page.status == 200 and other in page.body.decode()


def test_usage_and_its_csv_equal_the_shared_log(pair: Pair, sessions: list[Session]) -> None:
    rows = fetch_sync(pair.dsn, "SELECT model_requested, COUNT(*), SUM(output_tokens) FROM requests GROUP BY 1")
    expected = {r[0]: (r[1], int(r[2])) for r in rows}
    for session in sessions:
        usage = get_json(session, "/ui/api/usage?range=24h&by=model")
        assert {r["group"]: (r["requests"], r["output_tokens"]) for r in usage} == expected
        exported = session.get("/ui/usage.csv?range=24h&by=provider")
        assert exported.status == 200 and exported.headers["content-type"].startswith("text/csv")
        table = {r["group"]: int(r["requests"]) for r in csv.DictReader(io.StringIO(exported.body.decode()))}
        assert table == {"mock": sum(SERVED.values()), "-": 2}


def test_the_overview_page_in_chromium_shows_both_processes_requests(pair: Pair, sessions: list[Session]) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"the browser tests need Chromium at {CHROMIUM}: apt-get install -y chromium (.ci/run does)")
    name, _, value = sessions[1].cookie.partition("=")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context()
            context.add_cookies([{"name": name, "value": value, "url": pair.urls[1]}])
            page = context.new_page()
            page.goto(pair.urls[1] + "/ui/overview?range=1h")
            expect(page.locator("#total-requests")).to_have_text(str(TOTAL))
            expect(page.locator("#top-model")).to_contain_text("no-such-model")
        finally:
            browser.close()


def test_a_usage_log_postgres_out_of_reach_is_reported_and_the_rest_of_the_dashboard_works(tmp_path: Path) -> None:
    dsn = with_port("postgresql://postgres@127.0.0.1/switchyard", closed_port())  # nothing listens there
    gateway = Gateway(config_from_yaml(config(tmp_path, dsn))).start()
    try:
        session = Session(gateway.url)
        for path in ("/ui/api/overview?range=1h", "/ui/api/requests", "/ui/api/usage", "/ui/usage.csv"):
            answer = session.get(path)
            assert answer.status == 503 and "does not answer" in answer.json["error"], (path, answer.body)
        page = session.get("/ui/requests")
        assert page.status == 503 and "does not answer" in page.body.decode()
        assert session.get("/ui/keys").status == 200 and session.get("/ui/api/config").status == 200
    finally:
        gateway.stop()
