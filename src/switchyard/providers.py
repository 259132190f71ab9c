"""Provider types are declarations, not code paths.

A provider type names its native wire protocol (a codec in ``switchyard.protocols``), its default
base URL, how it authenticates, and static headers. The built-in ``mock`` is an OpenAI-compatible
upstream the transport answers in-process (:mod:`switchyard.mock_upstream`). An OpenAI-compatible server
(vLLM, Ollama, llama.cpp, OpenRouter, Groq, DeepSeek, ...) is ``type: openai`` with a ``base_url``.

What a ``type: openai`` provider understands depends on who serves it, and the declaration says so
(:func:`max_tokens_field`, :func:`unsupported_params`; both overridable per provider in the config):
OpenAI's own API (``api.openai.com``, Azure OpenAI) takes ``max_completion_tokens`` and
``reasoning_effort``; other OpenAI-compatible servers read ``max_tokens`` (llama.cpp, vLLM,
Ollama, OpenRouter, ...) and may not know ``reasoning_effort``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import urlsplit

from . import mock_upstream
from .protocols.gemini.wire import model_name


@dataclass(frozen=True, slots=True)
class ProviderType:
    name: str
    protocol: str
    base_url: str
    auth: str  # "bearer" | "x-api-key" | "x-goog-api-key" | "none"
    headers: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    credential_headers: tuple[str, ...] = ()
    """Client headers that belong to a client's own (passthrough) credential and go upstream with it."""
    counts_tokens: str | None = None
    """The protocol of the token-counting endpoint, when it is not the provider's own protocol's."""


_OPENAI_ACCOUNT = ("openai-organization", "openai-project")


PROVIDER_TYPES: dict[str, ProviderType] = {
    "openai": ProviderType(
        "openai", "openai_chat", "https://api.openai.com/v1", "bearer", credential_headers=_OPENAI_ACCOUNT
    ),
    "openai-responses": ProviderType(
        "openai-responses",
        "openai_responses",
        "https://api.openai.com/v1",
        "bearer",
        # Codex signed in with ChatGPT: the account header, and the ones its backend reads with it
        credential_headers=(*_OPENAI_ACCOUNT, "chatgpt-account-id", "openai-beta", "originator", "session_id"),
    ),
    "anthropic": ProviderType(
        "anthropic",
        "anthropic",
        "https://api.anthropic.com",
        "x-api-key",
        MappingProxyType({"anthropic-version": "2023-06-01"}),
    ),
    "gemini": ProviderType(
        "gemini",
        "gemini",
        "https://generativelanguage.googleapis.com",
        "x-goog-api-key",
        credential_headers=("x-goog-user-project",),
    ),
    "mock": ProviderType("mock", "openai_chat", mock_upstream.BASE_URL, "none", counts_tokens="openai_responses"),
}


MAX_TOKENS_FIELDS = ("max_tokens", "max_completion_tokens")
"""The Chat Completions fields a limit on generated tokens can be sent in."""
OPENAI_OWN_UNSUPPORTED: tuple[str, ...] = ()
COMPATIBLE_UNSUPPORTED: tuple[str, ...] = ("reasoning",)
"""What a translated request leaves out for an OpenAI-compatible server that is not OpenAI's own API:
``reasoning`` (sent as ``reasoning_effort``, e.g. ``high`` from Claude Code's thinking budget)."""


def is_openai_api(base_url: str) -> bool:
    """Whether ``base_url`` is OpenAI's own API (``api.openai.com``, or Azure OpenAI)."""
    host = (urlsplit(base_url).hostname or "").lower()
    return host == "api.openai.com" or host.endswith(".openai.azure.com")


def max_tokens_field(ptype: str, base_url: str) -> str | None:
    """The Chat Completions field a provider reads the token limit from (None: not a Chat provider):
    ``max_completion_tokens`` for OpenAI's own API, ``max_tokens`` for other compatible servers
    (llama.cpp's server and others ignore ``max_completion_tokens``: the limit would be lost)."""
    if PROVIDER_TYPES[ptype].protocol != "openai_chat":
        return None
    return "max_completion_tokens" if is_openai_api(base_url) else "max_tokens"


def unsupported_params(ptype: str, base_url: str) -> tuple[str, ...]:
    """Request fields (``drop_params`` names) a provider does not take by default."""
    if ptype == "openai" and not is_openai_api(base_url):
        return COMPATIBLE_UNSUPPORTED
    return OPENAI_OWN_UNSUPPORTED


def endpoint_path(protocol: str, model: str, stream: bool) -> str:
    """The path (and query) of the generate endpoint, appended to the provider's base URL."""
    if protocol == "openai_chat":
        return "/chat/completions"
    if protocol == "openai_responses":
        return "/responses"
    if protocol == "anthropic":
        return "/v1/messages"
    if protocol == "gemini":
        model_path = model if model.startswith(("models/", "tunedModels/")) else f"models/{model}"
        return (
            f"/v1beta/{model_path}:streamGenerateContent?alt=sse" if stream else f"/v1beta/{model_path}:generateContent"
        )
    raise ValueError(f"no HTTP endpoint for protocol {protocol!r}")


def count_tokens_path(protocol: str, model: str) -> str | None:
    """The upstream token-counting endpoint, where the protocol has one."""
    if protocol == "anthropic":
        return "/v1/messages/count_tokens"
    if protocol == "gemini":
        model_path = model if model.startswith(("models/", "tunedModels/")) else f"models/{model}"
        return f"/v1beta/{model_path}:countTokens"
    if protocol == "openai_responses":
        return "/responses/input_tokens"
    return None


def embeddings_path(protocol: str, model: str) -> str | None:
    """The upstream embeddings endpoint, where the protocol has one (Gemini: always the batch one)."""
    if protocol in ("openai_chat", "openai_responses"):
        return "/embeddings"
    if protocol == "gemini":
        return f"/v1beta/{model_name(model)}:batchEmbedContents"
    return None


def auth_headers(auth: str, key: str | None) -> dict[str, str]:
    """Upstream credential headers for one key."""
    if not key or auth == "none":
        return {}
    if auth == "bearer":
        return {"authorization": f"Bearer {key}"}
    return {auth: key}


# OAuth tokens go as ``Authorization: Bearer`` where the provider's API keys use another header
_BEARER_TOKENS = {"x-api-key": ("sk-ant-oat",), "x-goog-api-key": ("ya29.",)}
# credentials whose form names the protocol family they are for (others could be for anything)
_CREDENTIAL_FAMILIES = (("sk-ant-", ("anthropic",)), ("AIza", ("gemini",)), ("ya29.", ("gemini",)))


def passthrough_auth_headers(auth: str, credential: str) -> dict[str, str]:
    """Upstream credential headers for a client's own credential: the provider's scheme, except
    that an OAuth token (Anthropic ``sk-ant-oat…``, Google ``ya29.…``) is sent as a Bearer token."""
    if credential.startswith(_BEARER_TOKENS.get(auth, ())):
        return {"authorization": f"Bearer {credential}"}
    return auth_headers(auth, credential)


def credential_fits(protocol: str, credential: str) -> bool:
    """False when the credential's form says it is for another protocol family's upstream."""
    for prefix, protocols in _CREDENTIAL_FAMILIES:
        if credential.startswith(prefix):
            return protocol in protocols
    return True


def mask_key(key: str) -> str:
    """A key's id safe for logs and metrics: never more than its last four characters."""
    if len(key) <= 8:
        return "…" + "*" * 4
    return f"…{key[-4:]}"
