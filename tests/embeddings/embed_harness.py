"""The gateway under test for the embeddings tests: its configuration against the mock embedding
upstreams, and the two SDK clients.

Providers: ``oe`` (OpenAI-compatible, two keys, sequential rotation), ``ge`` (Gemini), ``spare``
(OpenAI-compatible, the fallback of ``embed-group``), ``batched`` (OpenAI-compatible with
``embedding_batch``), ``gb`` (Gemini with ``embedding_batch``), ``an`` (Anthropic: no embeddings
endpoint), the built-in ``mock``. Client keys: :data:`gateway_harness.CLIENT_KEY` and
:data:`BUDGET_KEY`.
"""

from __future__ import annotations

import openai
from embed_upstreams import EmbedUpstream
from gateway_harness import CLIENT_KEY, Gateway, closed_port
from google import genai
from google.genai import types as gtypes

OE_KEYS = ("sk-oe-upstream-key-0001", "sk-oe-upstream-key-0002")
GE_KEY = "ge-upstream-key-0001"
BUDGET_KEY = "sy-budgeted-embedding-key"
"""A client key with a budget, allowed the models of ``oe`` and ``ge`` only."""
MAX_WAIT_MS = 250


def gateway_yaml(ups: dict[str, EmbedUpstream]) -> str:
    return f"""
server:
  auth_keys:
    - "{CLIENT_KEY}"
    - {{key: "{BUDGET_KEY}", name: embedder, models: ["oe/*", "ge/*"], budget: {{usd: 1, window: 1d}}}}
routing:
  retries: 2
  timeouts: {{first_byte: 5, stall: 5, request: 20}}
  cooldown: {{base: 0.01, max: 0.05}}
providers:
  oe:
    type: openai
    base_url: {ups["oe"].url}/v1
    api_keys: ["{OE_KEYS[0]}", "{OE_KEYS[1]}"]
    routing: {{rotation: sequential}}
  ge:
    type: gemini
    base_url: {ups["ge"].url}
    api_keys: ["{GE_KEY}"]
  spare:
    type: openai
    base_url: {ups["spare"].url}/v1
    api_keys: ["sk-spare-upstream-key-0001"]
  batched:
    type: openai
    base_url: {ups["batched"].url}/v1
    api_keys: ["sk-batched-upstream-key-0001"]
    embedding_batch: {{max_inputs: 64, max_wait_ms: {MAX_WAIT_MS}}}
  gb:
    type: gemini
    base_url: {ups["gb"].url}
    api_keys: ["gb-upstream-key-0001"]
    embedding_batch: {{max_inputs: 64, max_wait_ms: {MAX_WAIT_MS}}}
  an:
    type: anthropic
    base_url: http://127.0.0.1:{closed_port()}
    api_keys: ["sk-ant-upstream-key-0001"]
models:
  embed-group: [oe/group-model, spare/text-embedding-3-small]
  embed-fallback: [ge/fallback-model, spare/text-embedding-3-small]
"""


def openai_client(gw: Gateway, key: str = CLIENT_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0, timeout=30)


def genai_client(gw: Gateway) -> genai.Client:
    options = gtypes.HttpOptions(
        base_url=gw.url, api_version="v1beta", timeout=30_000, retry_options=gtypes.HttpRetryOptions(attempts=1)
    )
    return genai.Client(api_key=CLIENT_KEY, http_options=options)
