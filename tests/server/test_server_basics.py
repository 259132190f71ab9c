"""Endpoints that need no translation: health, warm-up, listings, unknown paths, response headers,
and the Gemini same-protocol fast path at the byte level."""

from __future__ import annotations

import time

import orjson
from gateway_harness import CLIENT_KEY, UPSTREAM_KEY, call
from mock_upstreams import fixture_bytes

AUTH = {"authorization": f"Bearer {CLIENT_KEY}"}


def test_health_needs_no_key_and_carries_request_headers(gateway, upstreams):
    resp = call(gateway.url + "/health", "GET")
    assert resp.status == 200 and resp.json == {"status": "ok"}
    assert resp.headers["x-request-id"].startswith("req_")
    assert float(resp.headers["x-switchyard-overhead-ms"]) >= 0
    assert resp.headers["server"] == "switchyard"  # no server library or Python version disclosed


def test_request_ids_are_unique(gateway, upstreams):
    ids = {call(gateway.url + "/health", "GET").headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5


def test_head_root_warm_up_answers_quickly_without_a_key(gateway, upstreams):
    started = time.monotonic()
    resp = call(gateway.url + "/", "HEAD")
    assert resp.status == 200 and resp.body == b""
    assert time.monotonic() - started < 1


def test_unknown_path_is_a_json_404(gateway, upstreams):
    resp = call(gateway.url + "/v2/nothing", "POST", {"a": 1}, AUTH)
    assert resp.status == 404
    assert "no such endpoint" in resp.json["error"]["message"]
    assert resp.headers["content-type"] == "application/json"


def test_wrong_method_on_a_known_path_is_405(gateway, upstreams):
    resp = call(gateway.url + "/v1/chat/completions", "GET", headers=AUTH)
    assert resp.status == 405


def test_models_list_serves_openai_and_anthropic_fields(gateway, upstreams):
    resp = call(gateway.url + "/v1/models", "GET", headers=AUTH)
    assert resp.status == 200
    body = resp.json
    ids = [m["id"] for m in body["data"]]
    assert "group-dead-first" in ids and "both" in ids and "mock/mock-1" in ids
    assert "claude-*" not in ids  # wildcard patterns are not model names
    assert body["object"] == "list" and body["has_more"] is False
    assert body["first_id"] == ids[0] and body["last_id"] == ids[-1]
    model = body["data"][0]
    assert {"id", "object", "created", "owned_by", "type", "display_name", "created_at"} <= set(model)


def test_models_list_needs_the_client_key(gateway, upstreams):
    assert call(gateway.url + "/v1/models", "GET").status == 401


def test_model_retrieve_by_id_with_a_slash(gateway, upstreams):
    resp = call(gateway.url + "/v1/models/oc/gpt-anything", "GET", headers=AUTH)
    assert resp.status == 200 and resp.json["id"] == "oc/gpt-anything" and resp.json["owned_by"] == "oc"
    assert call(gateway.url + "/v1/models/nope-model", "GET", headers=AUTH).status == 404


def test_gemini_models_list(gateway, upstreams):
    resp = call(gateway.url + "/v1beta/models", "GET", headers={"x-goog-api-key": CLIENT_KEY})
    assert resp.status == 200
    names = [m["name"] for m in resp.json["models"]]
    assert "models/mock/mock-1" in names
    assert all("generateContent" in m["supportedGenerationMethods"] for m in resp.json["models"])
    one = call(gateway.url + "/v1beta/models/mock/mock-1", "GET", headers={"x-goog-api-key": CLIENT_KEY})
    assert one.status == 200 and one.json["name"] == "models/mock/mock-1"


def test_gemini_same_protocol_stream_is_relayed_byte_for_byte(gateway, upstreams):
    body = orjson.loads(fixture_bytes("gemini/request_stream_plain_text.json"))
    raw = orjson.dumps(body)
    resp = call(
        gateway.url + "/v1beta/models/gm/gemini-renamed:streamGenerateContent?alt=sse",
        "POST",
        raw,
        {"x-goog-api-key": CLIENT_KEY},
    )
    assert resp.status == 200, resp.body
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.body == fixture_bytes("gemini/stream_plain_text.sse")
    seen = upstreams["gemini"].last
    assert seen.path == "/v1beta/models/gemini-renamed:streamGenerateContent"
    assert seen.query == "alt=sse"
    assert seen.body == raw  # the body is untouched; only the URL names the upstream model
    assert seen.headers["x-goog-api-key"] == UPSTREAM_KEY["gemini"]
    assert CLIENT_KEY not in str(seen.headers)


def test_gemini_same_protocol_json_is_relayed_as_is(gateway, upstreams):
    body = orjson.loads(fixture_bytes("gemini/request_plain_text.json"))
    resp = call(
        gateway.url + "/v1beta/models/gm/gemini-x:generateContent", "POST", body, {"x-goog-api-key": CLIENT_KEY}
    )
    assert resp.status == 200
    assert resp.body == fixture_bytes("gemini/response_plain_text.json")
    assert resp.headers["x-switchyard-upstream"] == "gm/gemini-x"


def test_gemini_stream_without_alt_sse_is_refused(gateway, upstreams):
    resp = call(
        gateway.url + "/v1beta/models/gm/gemini-x:streamGenerateContent",
        "POST",
        {"contents": []},
        {"x-goog-api-key": CLIENT_KEY},
    )
    assert resp.status == 400
    assert "alt=sse" in resp.json["error"]["message"]
    assert upstreams["gemini"].requests == []
