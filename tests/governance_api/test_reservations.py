"""What a budgeted request reserves and how it is settled, one request at a time: the reservation
bounds the request's cost (every choice it asks for; the model's output limit when it sets none),
it is visible while the request runs, and it becomes the real cost — or nothing — when the
request ends, fails upstream or loses its client."""

from __future__ import annotations

import http.client
import time

import orjson
import pytest
from gateway_harness import call
from gov_harness import BOTH_BACKENDS, CHAT_PATH, KEYS, Admin, bearer, chat, in_flight
from mock_upstreams import fixture_reply

pytestmark = BOTH_BACKENDS

REQUEST_COST = (11 * 10.0 + 9 * 100.0) / 1_000_000
GEMINI_PATH = "/v1beta/models/gm/gov-priced:generateContent"


@pytest.fixture(scope="module")
def admin(gw) -> Admin:
    return Admin(gw)


def test_a_request_for_several_choices_reserves_each_of_them(admin, gw, upstreams):
    key = admin.create_key("choices", budget={"usd": 0.01, "window": "1d"})["key"]
    assert chat(gw, key, n=1).status == 200
    many = chat(gw, key, n=10)  # up to 10 x 20 output tokens: $0.02
    assert many.status == 429 and many.json["error"]["code"] == "budget_exceeded"
    gemini = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"maxOutputTokens": 20}}
    assert call(gw.url + GEMINI_PATH, "POST", gemini, {"x-goog-api-key": key}).status == 200
    gemini["generationConfig"]["candidateCount"] = 10
    refused = call(gw.url + GEMINI_PATH, "POST", gemini, {"x-goog-api-key": key})
    assert refused.status == 429 and refused.json["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert len(upstreams["openai_chat"].requests) == 1 and len(upstreams["gemini"].requests) == 1


def test_a_request_without_max_tokens_reserves_the_models_output_limit(admin, gw):
    key = admin.create_key("no-max-tokens", budget={"usd": 0.004, "window": "1d"})["key"]
    unbounded = chat(gw, key, max_tokens=None)  # max_output 50 tokens: $0.005
    assert unbounded.status == 429 and "may cost more than is left" in unbounded.json["error"]["message"]
    assert chat(gw, key, max_tokens=5).status == 200


def test_the_reservation_is_held_while_the_request_runs_and_settled_to_the_real_cost(admin, gw, upstreams):
    created = admin.create_key("in-flight", budget={"usd": 1, "window": "1d"})
    with in_flight(gw, upstreams["openai_chat"], created["key"]):
        during = admin.show_key(created["id"])
    assert during["in_flight"] == 1 and during["reserved_usd"] >= REQUEST_COST and during["spend"]["usd"] == 0
    after = admin.settled(f"{KEYS}/{created['id']}")
    assert after["spend"]["usd"] == pytest.approx(REQUEST_COST)


def test_a_request_that_fails_upstream_releases_its_reservation(admin, gw):
    created = admin.create_key("fails", budget={"usd": 1, "window": "1d"})
    assert chat(gw, created["key"], "dead/gov-priced").status == 502
    assert admin.settled(f"{KEYS}/{created['id']}")["spend"]["usd"] == 0


def test_a_client_that_goes_away_mid_stream_releases_its_reservation(admin, gw, upstreams):
    created = admin.create_key("goes-away", budget={"usd": 1, "window": "1d"})
    slow = fixture_reply("openai_chat/stream_include_usage.sse", chunk_size=64, delay=0.05)
    upstreams["openai_chat"].queue(slow)
    body = {"model": "oc/gov-priced", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
    try:
        conn.request(
            "POST", CHAT_PATH, orjson.dumps(body), {"content-type": "application/json", **bearer(created["key"])}
        )
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read1(64)
    finally:
        conn.close()
    deadline = time.monotonic() + 5
    while not upstreams["openai_chat"].disconnects:
        assert time.monotonic() < deadline, "the upstream stream was not cancelled"
        time.sleep(0.02)
    settled = admin.settled(f"{KEYS}/{created['id']}")  # nothing reserved or in flight is left
    # no usage reached the gateway: the spend is the gateway's estimate of what was generated
    # before the cut (the same figure as the usage log's row), far below the reservation
    assert 0 < settled["spend"]["usd"] < REQUEST_COST * 10


def test_a_continued_response_reserves_for_the_conversation_it_replays(admin, gw):
    """``previous_response_id`` (and ``item_reference``) make the gateway send the stored
    conversation upstream: the reservation bounds that prompt, not the small body the client sent."""
    created = admin.create_key("continuer", budget={"usd": 1, "window": "1d"})
    key, path = bearer(created["key"]), f"{KEYS}/{created['id']}"
    long_turn = {"model": "or/gov-priced", "input": "word " * 4000, "max_output_tokens": 16}  # ~20 KB stored
    first = call(gw.url + "/v1/responses", "POST", long_turn, key)
    assert first.status == 200
    spent = admin.settled(path)["spend"]["usd"]
    admin.ok("PATCH", path, {"budget": {"usd": spent + 0.05, "window": "1d"}})  # room for a short request only
    follow_up = {"model": "or/gov-priced", "input": "and then?", "max_output_tokens": 16, "store": False}
    assert call(gw.url + "/v1/responses", "POST", follow_up, key).status == 200  # it fits
    continued = {**follow_up, "previous_response_id": first.json["id"]}
    refused = call(gw.url + "/v1/responses", "POST", continued, key)
    assert refused.status == 429 and refused.json["error"]["code"] == "budget_exceeded"
    assert admin.settled(f"{KEYS}/{created['id']}")["reserved_usd"] == 0
