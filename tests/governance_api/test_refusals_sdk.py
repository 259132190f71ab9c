"""Every governance refusal in each client protocol's own error shape, through the official SDKs
(openai Chat and Responses, anthropic, google-genai), streamed and not: a refusal comes before
any upstream call, so a streamed request gets an HTTP error, never a broken stream."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import anthropic
import openai
import pytest
from gateway_harness import PROTOCOLS, Gateway
from google.genai import errors as genai_errors
from gov_harness import BOTH_BACKENDS, KEYS, Admin, governance_config, in_flight, model
from sdk_clients import client

pytestmark = BOTH_BACKENDS

PROMPT = "Say hello to the gateway"
OPENAI_FAMILY = ("openai_chat", "openai_responses")

cases = pytest.mark.parametrize(
    ("protocol", "stream"),
    [(p, s) for p in PROTOCOLS for s in (False, True)],
    ids=[f"{p}-{'stream' if s else 'json'}" for p in PROTOCOLS for s in (False, True)],
)

# what each refusal looks like on the wire: (OpenAI type, Anthropic type, Gemini status)
FORBIDDEN = ("permission_error", "permission_error", "PERMISSION_DENIED")
RATE_LIMITED = ("rate_limit_error", "rate_limit_error", "RESOURCE_EXHAUSTED")
OVER_BUDGET = ("insufficient_quota", "rate_limit_error", "RESOURCE_EXHAUSTED")
SDK_ERRORS = {
    403: (openai.PermissionDeniedError, anthropic.PermissionDeniedError),
    429: (openai.RateLimitError, anthropic.RateLimitError),
}


@dataclass
class Refused:
    status: int
    type: str
    """The error type (OpenAI, Anthropic) or canonical status (Gemini)."""
    code: str | None
    message: str
    headers: Mapping[str, str]
    retry_delay: str | None = None
    """Gemini: the RetryInfo detail's ``retryDelay``."""


def refused(gw: Gateway, protocol: str, key: str, name: str, stream: bool, status: int) -> Refused:
    """Send one request through ``protocol``'s SDK and return the refusal the SDK raised."""
    sdk = client(protocol, gw.url, key)
    if protocol == "gemini":
        with pytest.raises(genai_errors.ClientError) as gemini:
            sdk.ask(name, PROMPT, stream=stream)
        err = gemini.value
        details = err.details["error"].get("details", [])
        delay = next((d["retryDelay"] for d in details if d["@type"].endswith("RetryInfo")), None)
        return Refused(err.code, err.status, None, err.message, err.response.headers, delay)
    with pytest.raises(SDK_ERRORS[status][protocol == "anthropic"]) as info:
        sdk.ask(name, PROMPT, stream=stream)
    exc = info.value
    body = exc.body["error"] if protocol == "anthropic" else exc.body  # openai gives the inner object
    return Refused(exc.status_code, body["type"], body.get("code"), body["message"], exc.response.headers)


def wire_type(protocol: str, shape: tuple[str, str, str]) -> str:
    return shape[0] if protocol in OPENAI_FAMILY else shape[1] if protocol == "anthropic" else shape[2]


def assert_shape(seen: Refused, protocol: str, status: int, shape: tuple[str, str, str], code: str | None) -> None:
    assert seen.status == status
    assert seen.type == wire_type(protocol, shape)
    if protocol in OPENAI_FAMILY:
        assert seen.code == code


def nothing_reached_the_upstreams(upstreams) -> None:
    assert not any(u.requests for u in upstreams.values()), "a refusal must come before any upstream call"


@pytest.fixture(scope="module")
def admin(gw) -> Admin:
    return Admin(gw)


@pytest.fixture(scope="module")
def allow_unpriced(upstream_host, state, tmp_path_factory) -> Iterator[Gateway]:
    base = tmp_path_factory.mktemp("allow")
    config = governance_config(upstream_host, base, governance={"unpriced": "allow"}, state=state)
    gateway = Gateway(config).start()
    yield gateway
    gateway.stop()


@cases
def test_a_model_the_key_may_not_use_is_403_naming_it(admin, gw, upstreams, protocol, stream):
    key = admin.create_key(f"refuse-model-{protocol}-{stream}", models=["oc/only-this-one", "claude-*"])["key"]
    name = model(protocol, "forbidden-model")
    seen = refused(gw, protocol, key, name, stream, 403)
    assert_shape(seen, protocol, 403, FORBIDDEN, None)
    assert f"'{name}'" in seen.message
    nothing_reached_the_upstreams(upstreams)


@cases
def test_rpm_over_the_limit_is_429_with_retry_after_and_rate_limit_headers(
    admin, gw, upstreams, clock, protocol, stream
):
    key = admin.create_key(f"refuse-rpm-{protocol}-{stream}", limits={"rpm": 1})["key"]
    client(protocol, gw.url, key).ask(model(protocol), PROMPT, stream=stream)
    upstreams[protocol].reset()
    seen = refused(gw, protocol, key, model(protocol), stream, 429)
    assert_shape(seen, protocol, 429, RATE_LIMITED, "rate_limit_exceeded")
    assert "1 of 1 requests" in seen.message
    assert int(seen.headers["retry-after"]) == 30  # the clock is in the middle of a 60 s window
    assert seen.retry_delay == ("30s" if protocol == "gemini" else None)
    assert seen.headers["x-ratelimit-limit-requests"] == "1"
    assert seen.headers["x-ratelimit-remaining-requests"] == "0"
    assert seen.headers["x-ratelimit-reset-requests"] == "30.000s"
    nothing_reached_the_upstreams(upstreams)


@cases
def test_tpm_over_the_limit_is_429_with_the_token_headers(admin, gw, upstreams, clock, protocol, stream):
    key = admin.create_key(f"refuse-tpm-{protocol}-{stream}", limits={"tpm": 10, "rpm": 100})["key"]
    seen = refused(gw, protocol, key, model(protocol), stream, 429)
    assert_shape(seen, protocol, 429, RATE_LIMITED, "rate_limit_exceeded")
    assert "tokens per 60 s" in seen.message
    assert seen.headers["x-ratelimit-limit-tokens"] == "10"
    assert seen.headers["x-ratelimit-reset-tokens"] == "30.000s"
    assert "x-ratelimit-remaining-tokens" in seen.headers
    # a request over the limit on its own: no window would ever admit it, so the SDKs must not retry
    assert "this request alone" in seen.message and seen.headers["x-should-retry"] == "false"
    assert "retry-after" not in seen.headers
    nothing_reached_the_upstreams(upstreams)


@cases
def test_budget_that_cannot_cover_the_request_is_429_naming_the_reset_time(admin, gw, upstreams, protocol, stream):
    created = admin.create_key(f"refuse-budget-{protocol}-{stream}", budget={"usd": 0.001, "window": "1d"})
    resets = admin.show_key(created["id"])["spend"]["window_resets_at"]
    seen = refused(gw, protocol, created["key"], model(protocol), stream, 429)
    assert_shape(seen, protocol, 429, OVER_BUDGET, "budget_exceeded")
    assert "budget exceeded" in seen.message and f"resets at {resets}" in seen.message
    assert 86_000 < int(seen.headers["retry-after"]) <= 86_400
    assert seen.headers["x-should-retry"] == "false"  # the SDKs would otherwise retry at once
    assert admin.show_key(created["id"])["reserved_usd"] == 0
    nothing_reached_the_upstreams(upstreams)


@cases
def test_max_parallel_over_the_limit_is_429(admin, gw, upstreams, protocol, stream):
    created = admin.create_key(f"refuse-parallel-{protocol}-{stream}", limits={"max_parallel": 1})
    with in_flight(gw, upstreams["openai_chat"], created["key"]):
        seen = refused(gw, protocol, created["key"], model(protocol), stream, 429)
    assert_shape(seen, protocol, 429, RATE_LIMITED, "rate_limit_exceeded")
    assert "max_parallel 1" in seen.message and "retry-after" in seen.headers
    admin.settled(f"{KEYS}/{created['id']}")  # nothing leaks
    assert sum(len(u.requests) for u in upstreams.values()) == 1


@cases
def test_an_unpriced_model_under_a_budget_is_403(admin, gw, upstreams, protocol, stream):
    key = admin.create_key(f"refuse-unpriced-{protocol}-{stream}", budget={"usd": 10, "window": "1d"})["key"]
    name = model(protocol, "model-nobody-prices")
    seen = refused(gw, protocol, key, name, stream, 403)
    assert_shape(seen, protocol, 403, FORBIDDEN, None)
    assert f"'{name}' has no known price" in seen.message and "governance.unpriced" in seen.message
    nothing_reached_the_upstreams(upstreams)


@cases
def test_an_unpriced_model_is_admitted_when_unpriced_is_allow(allow_unpriced, upstreams, protocol, stream):
    admin = Admin(allow_unpriced)
    created = admin.create_key(f"allow-unpriced-{protocol}-{stream}", budget={"usd": 10, "window": "1d"})
    result = client(protocol, allow_unpriced.url, created["key"]).ask(
        model(protocol, "model-nobody-prices"), PROMPT, stream=stream
    )
    assert result.text
    assert len(upstreams[protocol].requests) == 1
    assert admin.settled(f"{KEYS}/{created['id']}")["spend"]["usd"] == 0
