"""The dashboard in a real browser: Playwright driving Debian's Chromium (``/usr/bin/chromium``;
``.ci/run`` installs it). Each test asserts on the DOM and that the page logged no console error,
and saves a screenshot of every page it visits to ``$SWITCHYARD_SCREENSHOTS`` (default: the
test's temporary directory)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest
from gateway_harness import CLIENT_KEY, Gateway, call
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright
from ui_harness import ADMIN_KEY, SECRETS, chat, wait_for

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CLAUDE_CODE = Path(__file__).parents[1] / "server" / "fixtures" / "clients" / "claude_code" / "hello"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"the browser tests need Chromium at {CHROMIUM}: apt-get install -y chromium (.ci/run does)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("SWITCHYARD_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def signed_in(browser: Browser, gw: Gateway, shots: Path) -> Iterator[Page]:
    """A page signed in through the form (every test of the module shares its session)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(gw.url + "/ui/overview")
    expect(page).to_have_url(gw.url + "/ui/login")
    page.fill("#key", CLIENT_KEY)
    page.click("button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("not an admin key")
    page.screenshot(path=shots / "login.png")
    page.fill("#key", ADMIN_KEY)
    page.click("button[type=submit]")
    expect(page).to_have_url(gw.url + "/ui/overview")
    yield page
    context.close()


@pytest.fixture
def page(signed_in: Page) -> Iterator[Page]:
    """The signed-in page; the test fails if the page logged a console error or threw."""
    errors: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            errors.append(msg.text)

    def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    signed_in.on("console", on_console)
    signed_in.on("pageerror", on_error)
    yield signed_in
    signed_in.remove_listener("console", on_console)
    signed_in.remove_listener("pageerror", on_error)
    assert errors == []


def no_secret(page: Page) -> None:
    content = page.content()
    for secret in SECRETS:
        assert secret not in content


def test_requests_in_several_protocols_show_in_overview_and_log(page: Page, gw: Gateway, shots: Path) -> None:
    oai = openai.OpenAI(base_url=gw.url + "/v1", api_key=CLIENT_KEY, max_retries=0)
    oai.chat.completions.create(model="mock-1", messages=[{"role": "user", "content": "hello from chat"}])
    oai.responses.create(model="mock-1", input="hello from responses")
    claude = anthropic.Anthropic(base_url=gw.url, api_key=CLIENT_KEY, max_retries=0)
    claude.messages.create(model="mock-1", max_tokens=64, messages=[{"role": "user", "content": "hello from claude"}])
    gemini = call(
        gw.url + "/v1beta/models/mock-1:generateContent",
        body={"contents": [{"role": "user", "parts": [{"text": "hello from gemini"}]}]},
        headers={"x-goog-api-key": CLIENT_KEY},
    )
    assert gemini.status == 200
    assert chat(gw.url, model="no-such-model").status == 404

    def logged() -> bool:
        page.goto(gw.url + "/ui/overview?range=1h")
        page.wait_for_function("document.getElementById('total-requests').textContent !== '…'")
        return int(page.inner_text("#total-requests").replace(",", "")) >= 5

    assert wait_for(logged, timeout=15)
    expect(page.locator("#chart-rps canvas")).to_have_count(1)
    expect(page.locator("#chart-latency canvas")).to_have_count(1)
    expect(page.locator("#top-model")).to_contain_text("mock-1")
    expect(page.locator("#top-provider")).to_contain_text("mock")
    assert page.inner_text("#total-error_rate") != "-"
    page.screenshot(path=shots / "overview.png", full_page=True)

    page.goto(gw.url + "/ui/requests?range=1h")
    table = page.locator("#requests")
    for protocol in ("openai_chat", "openai_responses", "anthropic", "gemini"):
        expect(table).to_contain_text(protocol)
    page.screenshot(path=shots / "requests.png", full_page=True)
    page.select_option("select[name=status]", "error")
    page.click("#filters button[type=submit]")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("no-such-model")
    no_secret(page)


def test_a_request_page_shows_attempts_and_trace(page: Page, gw: Gateway, shots: Path) -> None:
    page.goto(gw.url + "/ui/requests?range=1h&model=mock-1")
    row = page.locator("#requests tbody tr", has_text="anthropic").first
    row.locator("a").click()
    expect(page).to_have_url(re.compile(r"/ui/requests/req_"))
    expect(page.locator("#attempts")).to_contain_text("mock/mock-1")
    expect(page.locator("#trace-client")).to_contain_text("hello from claude")
    expect(page.locator("#trace-client_response")).to_contain_text("client_response")
    expect(page.locator("#usage")).to_be_visible()
    page.screenshot(path=shots / "request.png", full_page=True)
    no_secret(page)


def test_client_key_created_used_from_the_openai_sdk_and_revoked(page: Page, gw: Gateway, shots: Path) -> None:
    page.goto(gw.url + "/ui/client-keys")
    form = page.locator("#create-key")
    form.locator("input[name=name]").fill("browser-key")
    form.locator("input[name=budget_usd]").fill("2")
    form.locator("button[type=submit]").click()
    secret = page.inner_text("#new-key")
    page.screenshot(path=shots / "client-key-created.png", full_page=True)
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=secret, max_retries=0)
    answer = client.chat.completions.create(model="mock-1", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content
    page.goto(gw.url + "/ui/client-keys")
    assert secret not in page.content()
    row = page.locator("#client-keys tbody tr", has_text="browser-key")
    expect(row.locator("progress")).to_have_count(1)
    row.locator("button.danger").click()
    expect(page.locator("#client-keys tbody tr", has_text="browser-key")).to_contain_text("revoked")
    page.screenshot(path=shots / "client-keys.png", full_page=True)
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="mock-1", messages=[{"role": "user", "content": "hi"}])


def test_a_disabled_upstream_key_is_re_enabled_from_the_page(page: Page, gw: Gateway, shots: Path) -> None:
    assert chat(gw.url, model="refused-model").status == 502
    page.goto(gw.url + "/ui/keys")
    pool = page.locator("#pool-refusing")
    expect(pool).to_contain_text("disabled")
    page.screenshot(path=shots / "upstream-keys.png", full_page=True)
    pool.locator("button", has_text="Re-enable").click()
    expect(page.locator("#pool-refusing")).to_contain_text("healthy")
    no_secret(page)


def test_translate_a_claude_code_request_for_openai_chat(page: Page, gw: Gateway, shots: Path) -> None:
    page.goto(gw.url + "/ui/translate")
    page.select_option("#protocol", "anthropic")
    page.select_option("#target", "chat-alias")
    page.fill("#body", (CLAUDE_CODE / "02_v1_messages.body.json").read_text())
    page.click("#translate-form button[type=submit]")
    expect(page.locator("#upstream-target")).to_contain_text("/v1/chat/completions")
    body = page.locator("#upstream-body")
    expect(body).to_contain_text('"model": "gpt-4o-mini"')
    expect(body).to_contain_text('"role": "system"')
    expect(body).to_contain_text('"tools"')
    expect(page.locator("#client-body")).to_contain_text("claude-opus-4-8")
    page.screenshot(path=shots / "translate.png", full_page=False)
    no_secret(page)
    page.select_option("#target", "mock/mock-1")
    page.check("#run")
    page.click("#translate-form button[type=submit]")
    expect(page.locator("#answer")).to_contain_text('"type":"message"')
    request_page = gw.url + str(page.get_attribute("#answer-request", "href"))
    assert wait_for(lambda: page.request.get(request_page.replace("/ui/requests/", "/ui/api/requests/")).ok)
    page.click("#answer-request")
    expect(page.locator("#summary")).to_contain_text("anthropic")


def test_usage_and_config_pages(page: Page, gw: Gateway, shots: Path) -> None:
    page.goto(gw.url + "/ui/usage?range=24h&by=model")
    expect(page.locator("#usage-table")).to_contain_text("mock-1")
    page.select_option("select[name=by]", "provider")
    page.click("#usage-form button[type=submit]")
    expect(page.locator("#usage-table")).to_contain_text("mock")
    page.screenshot(path=shots / "usage.png", full_page=True)
    page.goto(gw.url + "/ui/config")
    expect(page.locator("#check")).to_contain_text("configuration OK")
    expect(page.locator("#effective")).to_contain_text("refusing")
    page.screenshot(path=shots / "config.png", full_page=True)
    no_secret(page)
