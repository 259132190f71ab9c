"""The adapter chain: a provider's ordered, named, pure transforms on core objects.

::

    chain = AdapterChain.from_config(specs_or_None, protocol="anthropic", field_cache=cache)
    req2  = await chain.apply_request(req, trace, scope)      # stages in order
    resp2 = await chain.apply_response(resp, trace, scope)    # reverse order; the cache records
    s = chain.stream(trace, scope)
    events = s.feed(event)                                    # per upstream event (sync)
    events = await s.finish()                                 # flush; the cache saves
    chain.rewrites                                            # False: the fast path is safe

``trace`` is ``callable(stage, before_json, after_json)`` (the server wraps its TraceWriter);
``scope`` is the field cache's :class:`~switchyard.fieldcache.Scope`. Specs are names or
``{"name": ..., <params>}`` mappings, e.g.::

    adapters:
      - {name: max_tokens_clamp, max: 8192}
      - {name: drop_params, params: [top_k]}
      - {name: model_override, model: my-model}
      - {name: rename_field, from: metadata.user, to: metadata.user_id}
      - developer_to_system
      - reasoning_content_normalize
      - drop_empty_text
      - field_cache

Built-in adapters: :mod:`.builtin` and :mod:`.reasoning`; defaults per provider protocol:
:data:`DEFAULT_CHAINS`; the chain and its trace: :mod:`.chain`; writing an adapter: :mod:`.base`.
"""

from . import builtin as _builtin  # noqa: F401  (registers the built-in adapters)
from . import reasoning as _reasoning  # noqa: F401
from .base import ADAPTERS, Adapter, AdapterError, EventTransform, register
from .chain import DEFAULT_CHAINS, FIELD_CACHE, AdapterChain, ChainStream, Stage, Trace

__all__ = [
    "ADAPTERS",
    "DEFAULT_CHAINS",
    "FIELD_CACHE",
    "Adapter",
    "AdapterChain",
    "AdapterError",
    "ChainStream",
    "EventTransform",
    "Stage",
    "Trace",
    "register",
]
