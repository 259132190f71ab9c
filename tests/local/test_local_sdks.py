"""The official SDKs through Switchyard to a real llama.cpp server (llama-cpp-python's, serving the
tiny model of :mod:`tinymodel`), streamed and not.

- The token limit is honoured: the server generates exactly as many tokens as asked (it ignores
  ``max_completion_tokens``, so the gateway must send ``max_tokens``), and the stop reason is the
  server's.
- The usage a client gets is the server's own count; its streams carry none (it ignores
  ``stream_options.include_usage``), so there the usage is the gateway's estimate, marked
  ``usage_estimated`` in the usage log — the output count exact, since the server streams one
  token per chunk; never 0.
- A client that goes away stops the generation on the server.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import anthropic
import openai
import pytest
from gateway_harness import Gateway, call, usage_row
from google import genai
from google.genai import types as gtypes
from tinymodel import MARKER, MODEL, SENTENCE, SENTENCE_TOKENS
from tinymodel import answer as expected_text

KEY = "any-key"  # the gateway has no client keys configured
PROTOCOLS = ("anthropic", "openai_chat", "openai_responses", "gemini")


@dataclass
class Answer:
    text: str
    stop: str
    input_tokens: int | None  # None: the client got no usage
    output_tokens: int | None


# what each protocol says for "stopped by the limit" and "ended by itself"
STOPS = {
    "anthropic": ("max_tokens", "end_turn"),
    "openai_chat": ("length", "stop"),
    "openai_responses": ("max_output_tokens", "completed"),
    "gemini": ("MAX_TOKENS", "STOP"),
}


def ask(gw: Gateway, protocol: str, prompt: str, limit: int, stream: bool, tag: str) -> Answer:
    """One request with a token limit, the way each SDK's users send it; the model name (which the
    gateway's aliases catch) ends with ``tag``, so its usage row can be found (:func:`row_of`)."""
    if protocol == "anthropic":
        client = anthropic.Anthropic(base_url=gw.url, api_key=KEY, max_retries=0, timeout=60)
        kwargs: dict[str, Any] = {
            "model": f"claude-sonnet-4-5-{tag}",
            "max_tokens": limit,
            "messages": [{"role": "user", "content": prompt}],
        }
        if stream:
            with client.messages.stream(**kwargs) as s:
                msg = s.get_final_message()
        else:
            msg = client.messages.create(**kwargs)
        text = "".join(b.text for b in msg.content if b.type == "text")
        return Answer(text, str(msg.stop_reason), msg.usage.input_tokens, msg.usage.output_tokens)
    if protocol == "openai_chat":
        oai = openai.OpenAI(base_url=gw.url + "/v1", api_key=KEY, max_retries=0, timeout=60)
        chat: dict[str, Any] = {
            "model": f"gpt-5-{tag}",
            "max_completion_tokens": limit,  # what the SDK documents; llama.cpp reads max_tokens
            "messages": [{"role": "user", "content": prompt}],
        }
        if stream:  # (the SDK's stream helper refuses an answer cut by the limit: read the chunks)
            text, finish, usage = "", None, None
            for chunk in oai.chat.completions.create(**chat, stream=True, stream_options={"include_usage": True}):
                for choice in chunk.choices:
                    text += choice.delta.content or ""
                    finish = choice.finish_reason or finish
                usage = chunk.usage or usage
        else:
            done = oai.chat.completions.create(**chat)
            text, finish, usage = done.choices[0].message.content or "", done.choices[0].finish_reason, done.usage
        return Answer(
            text, str(finish), usage.prompt_tokens if usage else None, usage.completion_tokens if usage else None
        )
    if protocol == "openai_responses":
        oai = openai.OpenAI(base_url=gw.url + "/v1", api_key=KEY, max_retries=0, timeout=60)
        resp_kwargs: dict[str, Any] = {
            "model": f"gpt-5-{tag}",
            "input": prompt,
            "max_output_tokens": limit,
            "store": False,
        }
        if stream:  # (the SDK's stream helper wants response.completed; a cut answer ends response.incomplete)
            ends = ("response.completed", "response.incomplete")
            resp = next(e.response for e in oai.responses.create(**resp_kwargs, stream=True) if e.type in ends)
        else:
            resp = oai.responses.create(**resp_kwargs)
        stop = resp.incomplete_details.reason if resp.status == "incomplete" else resp.status
        usage = resp.usage
        return Answer(
            resp.output_text, str(stop), usage.input_tokens if usage else None, usage.output_tokens if usage else None
        )
    client_g = genai.Client(
        api_key=KEY,
        http_options=gtypes.HttpOptions(
            base_url=gw.url, api_version="v1beta", timeout=60_000, retry_options=gtypes.HttpRetryOptions(attempts=1)
        ),
    )
    config = gtypes.GenerateContentConfig(max_output_tokens=limit)
    if stream:
        chunks = list(
            client_g.models.generate_content_stream(model=f"gemini-3-pro-{tag}", contents=prompt, config=config)
        )
    else:
        chunks = [client_g.models.generate_content(model=f"gemini-3-pro-{tag}", contents=prompt, config=config)]
    text = "".join(c.text or "" for c in chunks)
    finish = next(c.candidates[0].finish_reason for c in reversed(chunks) if c.candidates[0].finish_reason)
    meta = chunks[-1].usage_metadata
    return Answer(
        text,
        str(finish.value),
        meta.prompt_token_count if meta else None,
        meta.candidates_token_count if meta else None,
    )


def server_count(llama, prompt: str, limit: int) -> tuple[int, int]:
    """The server's own (prompt, completion) count for the same request, asked directly."""
    body = {"model": MODEL, "messages": [{"role": "user", "content": prompt}], "max_tokens": limit}
    usage = call(llama.url + "/v1/chat/completions", "POST", body, timeout=60).json["usage"]
    return usage["prompt_tokens"], usage["completion_tokens"]


def row_of(gw: Gateway, tag: str, timeout: float = 10.0) -> dict[str, Any]:
    """The usage row of the request whose model name ends with ``tag`` (rows are written in batches)."""
    return usage_row(gw, "model_requested LIKE ?", (f"%-{tag}",), timeout)


CASES = [
    # (prompt, limit, tokens the server generates, stopped by the limit)
    pytest.param("hi", 2, 2, True, id="limit-2"),
    pytest.param("hi", 40, SENTENCE_TOKENS, False, id="ends-by-itself"),
    pytest.param(f"say it again {MARKER}", 40, 40, True, id="limit-40-long-answer"),
]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(("prompt", "limit", "generated", "cut"), CASES)
def test_limit_stop_reason_and_usage(gateway, llama, protocol, stream, prompt, limit, generated, cut):
    own_input, own_output = server_count(llama, prompt, limit)
    assert own_output == generated
    tag = uuid.uuid4().hex[:12]
    answer = ask(gateway, protocol, prompt, limit, stream, tag)
    row = row_of(gateway, tag)

    assert answer.text == expected_text(own_output)
    assert answer.stop == STOPS[protocol][0 if cut else 1]
    assert row["output_tokens"] == own_output  # what the server generated, counted exactly
    assert row["error"] is None and row["provider"] == "llama"

    relayed_stream = stream and protocol == "openai_chat"  # the same-protocol fast path: as the server sent it
    if not stream:
        assert (answer.input_tokens, answer.output_tokens) == (own_input, own_output)  # the server's own count
        assert row["usage_estimated"] == 0 and row["input_tokens"] == own_input
    elif relayed_stream:
        assert answer.output_tokens is None  # the server sent no usage, and the gateway invents none
        assert row["usage_estimated"] == 1 and row["input_tokens"] > 0
    else:  # the server reports no usage in streams: the gateway's estimate, never 0
        assert answer.output_tokens == own_output and answer.input_tokens and answer.input_tokens > 0
        assert row["usage_estimated"] == 1 and row["input_tokens"] == answer.input_tokens


def test_long_answers_are_cut_by_the_limit_not_the_context(gateway, llama):
    """The issue's case: a limit of 40 once generated until the context was full (8,162 tokens)."""
    started = time.monotonic()
    answer = ask(gateway, "anthropic", f"{MARKER} talk", 40, stream=True, tag=uuid.uuid4().hex[:12])
    assert answer.output_tokens == 40 and answer.stop == "max_tokens"
    assert answer.text.count("tiny model.") == 40 // SENTENCE_TOKENS
    assert time.monotonic() - started < 30


def test_a_client_that_goes_away_stops_the_generation(gateway, llama):
    """A stream of 4,000 tokens (several seconds), left after 20 text deltas: the server must stop
    generating at once — it generates one answer at a time, so the next request is answered without
    waiting for the rest of the abandoned one."""
    long = 4000
    timed = time.monotonic()
    body = {"model": MODEL, "messages": [{"role": "user", "content": f"{MARKER} 1"}], "max_tokens": 1000}
    call(llama.url + "/v1/chat/completions", "POST", body, timeout=120)
    per_token = (time.monotonic() - timed) / 1000

    client = anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0, timeout=60)
    tag = uuid.uuid4().hex[:12]
    log_before = len(llama.output())
    seen = 0
    ask_long = {
        "model": f"claude-opus-4-1-{tag}",
        "max_tokens": long,
        "messages": [{"role": "user", "content": f"{MARKER} go"}],
    }
    with client.messages.stream(**ask_long) as s:
        for event in s:
            if event.type == "content_block_delta":
                seen += 1
                if seen == 20:
                    break  # leaving the with-block closes the connection
    left = time.monotonic()
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}
    answer = call(llama.url + "/v1/chat/completions", "POST", body, timeout=120).json
    waited = time.monotonic() - left
    remaining = (long - seen) * per_token  # what the abandoned stream would still have taken
    print(f"left after {seen} deltas; next answer after {waited:.3f}s; the rest would have taken ~{remaining:.1f}s")
    assert answer["choices"][0]["message"]["content"] == SENTENCE
    assert waited < remaining / 4, f"waited {waited:.2f}s; the rest of the abandoned stream takes ~{remaining:.1f}s"
    assert "Disconnected from client" in llama.output()[log_before:]
    row = row_of(gateway, tag)
    assert row["error"] == "client_gone" and row["usage_estimated"] == 1
    assert seen <= row["output_tokens"] < long / 2
