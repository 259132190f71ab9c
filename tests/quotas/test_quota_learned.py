"""Limits learned from upstream headers and Gemini quota errors (pure parsing)."""

from __future__ import annotations

from datetime import UTC, datetime

from switchyard.core.errors import ErrorKind, GatewayError
from switchyard.protocols.gemini.errors import parse_error
from switchyard.quotas.learned import Learned, from_error, from_headers

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC).timestamp()


def test_openai_headers() -> None:
    headers = {
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "6m0s",
        "x-ratelimit-limit-tokens": "150000",
        "x-ratelimit-remaining-tokens": "149984",
        "x-ratelimit-reset-tokens": "20ms",
    }
    assert from_headers(headers, NOW) == [
        Learned("requests", 60, 0, NOW + 360),
        Learned("tokens", 150000, 149984, NOW + 0.02),
    ]


def test_anthropic_headers_with_input_and_output_tokens() -> None:
    reset = "2026-07-01T12:00:30Z"
    headers = {
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-remaining": "49",
        "anthropic-ratelimit-requests-reset": reset,
        "anthropic-ratelimit-input-tokens-limit": "20000",
        "anthropic-ratelimit-input-tokens-remaining": "0",
        "anthropic-ratelimit-input-tokens-reset": "2026-07-01T13:00:00Z",
        "anthropic-ratelimit-output-tokens-remaining": "4000",
        "anthropic-ratelimit-output-tokens-reset": "not a time",
    }
    assert from_headers(headers, NOW) == [
        Learned("requests", 50, 49, NOW + 30),
        Learned("input-tokens", 20000, 0, NOW + 3600),
    ]


def test_no_rate_limit_headers_learn_nothing() -> None:
    assert from_headers({"content-type": "application/json", "x-ratelimit-remaining-requests": "3"}, NOW) == []


def gemini_quota_error(quota_id: str, delay: str) -> GatewayError:
    body = {
        "error": {
            "code": 429,
            "message": "You exceeded your current quota, please check your plan and billing details.",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [
                        {
                            "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                            "quotaId": quota_id,
                            "quotaDimensions": {"location": "global", "model": "gemini-2.5-pro"},
                            "quotaValue": "50",
                        }
                    ],
                },
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay},
            ],
        }
    }
    import orjson

    return parse_error(429, orjson.dumps(body))


def test_gemini_per_day_quota_resets_at_midnight_pacific() -> None:
    error = gemini_quota_error("GenerateRequestsPerDayPerProjectPerModel-FreeTier", "43s")
    assert error.kind == ErrorKind.QUOTA and error.retry_after == 43.0
    learned = from_error(error, NOW)
    assert learned is not None
    # 12:00 UTC on 1 July is 05:00 PDT: the day's window ends at 07:00 UTC on 2 July
    expected = datetime(2026, 7, 2, 7, 0, tzinfo=UTC).timestamp()
    assert learned == Learned("requests", 50, 0, expected, "GenerateRequestsPerDayPerProjectPerModel-FreeTier")


def test_gemini_per_minute_quota_resets_after_the_retry_delay() -> None:
    learned = from_error(gemini_quota_error("GenerateRequestsPerMinutePerProjectPerModel", "7s"), NOW)
    assert learned is not None and learned.reset_at == NOW + 7 and learned.remaining == 0


def test_an_error_without_quota_details_learns_nothing() -> None:
    assert from_error(GatewayError(ErrorKind.QUOTA, "insufficient_quota"), NOW) is None
