"""Provider state across turns: keep opaque values from upstream output, re-attach them later.

Multi-turn tool use breaks when the client protocol cannot carry a provider's opaque state: an
OpenAI Chat client drops Anthropic thinking signatures, Gemini thought signatures and Responses
``encrypted_content``. The field cache keeps them on the gateway and puts them back into the
next request to the same provider, model, credential and session.

The API the server pipeline calls::

    cache = FieldCache(kv: KVStore, rules: list[Rule], ttl: float = 3600)

    req2 = await cache.inject(req: Request, protocol: str, scope: Scope) -> Request
        # before build_request for the provider's protocol; never mutates req (returns req
        # itself when nothing applies)
    await cache.record_response(resp: Response, protocol: str, scope: Scope)
        # after parse_response of a non-streamed upstream answer
    rec = cache.stream_recorder(protocol, scope)
    rec.feed(event)          # each core event of the upstream stream, in order (cheap)
    await rec.finish()       # at the end; saves nothing after a StreamError or without MessageStop

    BUILTIN_RULES: dict[str, list[Rule]]     # by provider protocol (builtin_rules() flattens)
    merge_rules(base, overrides)             # config overrides (mappings) over the built-ins

``protocol`` is the provider's (upstream) protocol; ``Scope(provider, model, key_id, session)``
names the configured provider, the upstream model, the credential's id and the client session.
A rule whose scope fields are not all present does nothing (fail closed). Values go through the
:class:`~switchyard.store.KVStore` interface (bounded by entries, bytes and TTL; memory by
default, Redis for multi-replica deployments).

The session comes from a session header, else a body signal, else the caller's own gateway
identity (OpenAI Chat clients such as Cursor, opencode and the openai SDK often send neither);
the server keeps a tool loop on one key by the same signals. ``Scope.other_keys`` names the
provider's other credentials: a value missing under ``key_id`` is looked up under them (state
issued by one key of a provider is accepted by its other keys), so a loop whose key is no longer
usable goes on with its state on another.
A deployment may instead configure ``scope: [provider, model, key_id]`` on ``per_tool_call``
rules: tool-call ids are unique, so conversations do not mix, but callers sharing one upstream
key are then kept apart only by the unguessability of those ids.

Rules are data: :mod:`.rules` documents the format and the modes (``last``, ``all``,
``last_user_turn``, ``last_assistant_turn``, ``per_tool_call``), :mod:`.paths` the path language,
:mod:`.neutral` the JSON form of the core model the paths run on, :mod:`.builtin` the rules
shipped for Anthropic, Gemini and OpenAI Responses. In the adapter chain the cache is the stage
``field_cache`` (:mod:`switchyard.adapters`).
"""

from .builtin import BUILTIN_RULES, builtin_rules
from .cache import DEFAULT_TTL, FieldCache
from .keys import Scope, assistant_turn_key, user_turn_key
from .neutral import from_json, to_json
from .paths import PathError
from .rules import MODES, Extract, Inject, Probe, Rule, RuleError, merge_rules
from .stream import StreamRecorder

__all__ = [
    "BUILTIN_RULES",
    "DEFAULT_TTL",
    "MODES",
    "Extract",
    "FieldCache",
    "Inject",
    "PathError",
    "Probe",
    "Rule",
    "RuleError",
    "Scope",
    "StreamRecorder",
    "assistant_turn_key",
    "builtin_rules",
    "from_json",
    "merge_rules",
    "to_json",
    "user_turn_key",
]
