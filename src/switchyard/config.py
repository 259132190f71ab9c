"""Configuration: one YAML file plus the environment.

``${VAR}`` (or ``${VAR:-default}``) in any string of the file is replaced from the environment.
Without a file, providers are made from the environment (:func:`providers_from_env`). A built-in
``mock`` provider is always present. Every problem is reported with its location
(``file:line: path: message``); secrets are never printed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .accounting.pricing import default_pricing
from .adapters import ADAPTERS, AdapterChain, AdapterError
from .core.errors import GatewayError
from .fieldcache import RuleError, builtin_rules, merge_rules
from .governance.model import KEY_FIELDS, parse_fields
from .prompt_cache import PromptCache, parse_setting
from .providers import MAX_TOKENS_FIELDS, PROVIDER_TYPES
from .providers import max_tokens_field as default_max_tokens_field
from .providers import unsupported_params as default_unsupported_params
from .quotas.rules import QuotaRule, parse_rule

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
ROTATIONS = ("balanced", "sequential")
CREDENTIAL_MODES = ("pool", "passthrough", "either")
CREDENTIAL_HEADERS = ("authorization", "x-api-key", "x-goog-api-key")
"""The request headers a client's credential comes in (and ``?key=``)."""
MOCK_MODELS = ["mock-1"]


@dataclass(slots=True)
class Timeouts:
    first_byte: float = 30.0
    stall: float = 60.0
    request: float = 600.0


@dataclass(slots=True)
class Cooldown:
    base: float = 5.0
    max: float = 300.0


@dataclass(slots=True)
class RoutingConfig:
    """Retry, timeout and key-rotation policy (global, overridable per provider)."""

    retries: int = 2
    timeouts: Timeouts = field(default_factory=Timeouts)
    heartbeat: float = 15.0
    rotation: str = "balanced"
    session_affinity: bool = True
    cooldown: Cooldown = field(default_factory=Cooldown)
    fair_cycle: bool = False
    """A key spent on a long quota window stays out until every key is spent or its window resets."""


@dataclass(slots=True)
class EmbeddingBatch:
    """``providers.<name>.embedding_batch``: merge concurrent small embedding requests."""

    max_inputs: int = 64
    max_wait_ms: float = 10.0


@dataclass(slots=True)
class ProviderConfig:
    name: str
    type: str
    base_url: str
    api_keys: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    max_concurrency: int | None = None
    """Requests one key may have in flight at once (None: no limit); more wait within the deadline."""
    adapters: list[Any] | None = None
    """The provider's adapter chain (None: its protocol's default chain)."""
    max_tokens_field: str | None = None
    """Chat Completions providers: the field the token limit is sent in (None: by who serves it,
    :func:`switchyard.providers.max_tokens_field`)."""
    unsupported_params: list[str] | None = None
    """Request fields the provider does not take, left out of the requests the gateway builds
    (None: by who serves it, :func:`switchyard.providers.unsupported_params`)."""
    credentials: str = "pool"
    """Whose credential goes upstream: ``pool`` (``api_keys``), ``passthrough`` (the client's own)
    or ``either`` (the client's when it brings one, else the pool)."""
    prompt_cache: PromptCache | None = None
    """Anthropic providers: automatic ``cache_control`` breakpoints (None: off; an alias's wins)."""
    embedding_batch: EmbeddingBatch | None = None
    """Opt-in batching of embedding requests (None: each request is its own upstream call)."""
    quotas: list[QuotaRule] = field(default_factory=list)
    """Declared quota windows per key (:mod:`switchyard.quotas.rules`)."""

    @property
    def protocol(self) -> str:
        return PROVIDER_TYPES[self.type].protocol

    @property
    def token_limit_field(self) -> str | None:
        """The Chat Completions field for ``max_tokens``, declared or by default (None: not Chat)."""
        if self.protocol != "openai_chat":
            return None
        return self.max_tokens_field or default_max_tokens_field(self.type, self.base_url)

    @property
    def dropped_params(self) -> list[str]:
        """``unsupported_params``, declared or by default."""
        if self.unsupported_params is not None:
            return list(self.unsupported_params)
        return list(default_unsupported_params(self.type, self.base_url))


@dataclass(slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 4000
    auth_keys: list[str] = field(default_factory=list)
    key_specs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """``auth_keys`` written as mappings: key -> its name, team, models, budget and limits."""
    admin_keys: list[str] = field(default_factory=list)
    data_dir: Path = field(default_factory=lambda: Path(".switchyard").resolve())
    max_body_mb: float = 32.0
    drain_timeout: float = 25.0
    """Seconds in-flight requests get after SIGTERM before they are cut (under Kubernetes' 30 s grace)."""
    client_key_header: str = "x-switchyard-key"
    """Where a client whose auth header carries its own upstream credential sends its gateway key."""


@dataclass(slots=True)
class StateConfig:
    """Where durable state lives: ``sqlite`` (default, ``data_dir/state.db``), ``memory`` (lost on
    exit) or ``redis`` (shared by several replicas)."""

    backend: str = "sqlite"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "switchyard:"
    """Every Redis key the gateway writes starts with this (several gateways may share a Redis)."""
    on_unavailable: str = "local"
    """Redis unreachable: ``local`` (each process counts limits on its own view, loudly) or
    ``fail_closed`` (requests that need shared limits get a 503)."""


@dataclass(slots=True)
class GovernanceConfig:
    """Client keys, budgets and limits (records in ``data_dir/governance.db``; counters in memory,
    or in Redis with ``state.backend: redis``)."""

    unpriced: str = "deny"
    """A budgeted key's request to a model with no known price: ``deny`` (403) or ``allow`` (charged 0)."""
    rate_window: float = 60.0
    """Seconds per rate window: ``rpm`` and ``tpm`` count requests and tokens per window."""
    lease_seconds: float = 120.0
    """How long a request's hold on the counters lasts unless renewed (its process died)."""
    dsn: str | None = None
    """PostgreSQL for the keys, teams and ledger (default: the usage log's ``dsn``, if any)."""


@dataclass(slots=True)
class FieldCacheConfig:
    """Provider state kept between turns (thinking signatures, thought signatures, encrypted
    reasoning): how long, and rule overrides over the built-in rules."""

    ttl: float = 3600.0
    rules: list[Any] = field(default_factory=list)


@dataclass(slots=True)
class ObservabilityConfig:
    usage_log: bool = True
    usage_backend: str = "sqlite"
    """Where the usage log goes: ``sqlite`` (``data_dir/usage.db``) or ``postgres`` (``usage_dsn``)."""
    usage_dsn: str | None = None
    trace: bool = False
    trace_max_file_mb: float = 4.0


@dataclass(slots=True)
class UIConfig:
    enabled: bool | None = None
    """The dashboard at /ui (None: on when server.admin_keys has a key)."""


@dataclass(slots=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    providers: dict[str, ProviderConfig] = field(default_factory=dict)
    models: dict[str, list[str]] = field(default_factory=dict)
    alias_prompt_cache: dict[str, PromptCache] = field(default_factory=dict)
    """``prompt_cache`` of the aliases that set one (over their targets' providers')."""
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    observability: ObservabilityConfig = field(default_factory=ObservabilityConfig)
    state: StateConfig = field(default_factory=StateConfig)
    field_cache: FieldCacheConfig = field(default_factory=FieldCacheConfig)
    governance: GovernanceConfig = field(default_factory=GovernanceConfig)
    ui: UIConfig = field(default_factory=UIConfig)
    pricing: dict[str, Any] = field(default_factory=dict)
    """Price overrides and additions per model (USD per million tokens), over the built-in table."""
    source: str | None = None


class ConfigError(Exception):
    """The configuration has problems; ``problems`` lists each with its location."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n" + "\n".join(f"  {p}" for p in problems))
        self.problems = problems


# ---------------------------------------------------------------------------- YAML with line numbers


def _compose(text: str, source: str) -> tuple[Any, dict[tuple, int]]:
    """Parse YAML into plain values plus a map from each value's path to its line (1-based)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise ConfigError([f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    lines: dict[tuple, int] = {}
    scalars = yaml.constructor.SafeConstructor()

    def build(node: yaml.Node, path: tuple) -> Any:
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value)
                out[key] = build(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [build(item, (*path, i)) for i, item in enumerate(node.value)]
        return scalars.construct_object(node)

    return (build(root, ()) if root is not None else {}), lines


class _Checker:
    """Collects problems while reading a raw config mapping."""

    def __init__(self, source: str, lines: dict[tuple, int], env: Mapping[str, str]) -> None:
        self.source = source
        self.lines = lines
        self.env = env
        self.problems: list[str] = []

    def problem(self, path: tuple, message: str) -> None:
        line = None
        probe = path
        while probe and line is None:
            line = self.lines.get(probe)
            probe = probe[:-1]
        where = f"{self.source}:{line}" if line else self.source
        dotted = ".".join(str(p) for p in path) or "(top level)"
        self.problems.append(f"{where}: {dotted}: {message}")

    def expand(self, value: Any, path: tuple) -> Any:
        if isinstance(value, str):
            return self._expand_str(value, path)
        if isinstance(value, list):
            return [self.expand(v, (*path, i)) for i, v in enumerate(value)]
        if isinstance(value, dict):
            return {k: self.expand(v, (*path, k)) for k, v in value.items()}
        return value

    def _expand_str(self, value: str, path: tuple) -> str:
        def sub(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in self.env:
                return self.env[name]
            if default is not None:
                return default
            self.problem(path, f"environment variable {name} is not set")
            return ""

        return ENV_REF.sub(sub, value)

    def mapping(self, value: Any, path: tuple, known: tuple[str, ...]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(path, f"must be a mapping, got {_type(value)}")
            return {}
        for key in value:
            if key not in known:
                self.problem((*path, key), f"unknown key (expected one of: {', '.join(known)})")
        return value

    def typed(self, raw: dict[str, Any], key: str, path: tuple, kind: type | tuple, default: Any) -> Any:
        if key not in raw or raw[key] is None:
            return default
        value = raw[key]
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            self.problem((*path, key), f"must be {_kind_name(kind)}, got {_type(value)}")
            return default
        if not isinstance(value, kind):
            self.problem((*path, key), f"must be {_kind_name(kind)}, got {_type(value)}")
            return default
        return value

    def string_list(self, raw: dict[str, Any], key: str, path: tuple) -> list[str]:
        value = raw.get(key)
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem((*path, key), "must be a list of strings")
            return []
        return value

    def positive(self, raw: dict[str, Any], key: str, path: tuple, default: float, allow_zero: bool = False) -> float:
        value = self.typed(raw, key, path, (int, float), default)
        if value < 0 or (value == 0 and not allow_zero):
            self.problem((*path, key), "must be a positive number")
            return default
        return float(value)


def _type(value: Any) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        type(None): "nothing",
    }.get(type(value), type(value).__name__)


def _kind_name(kind: type | tuple) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "a boolean",
        list: "a list",
        dict: "a mapping",
    }
    return " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in kinds))


# ---------------------------------------------------------------------------- sections


def _routing(ck: _Checker, raw: Any, path: tuple, base: RoutingConfig) -> RoutingConfig:
    known = ("retries", "timeouts", "heartbeat", "rotation", "session_affinity", "cooldown", "fair_cycle")
    raw = ck.mapping(raw, path, known)
    out = RoutingConfig(
        retries=base.retries,
        timeouts=Timeouts(base.timeouts.first_byte, base.timeouts.stall, base.timeouts.request),
        heartbeat=base.heartbeat,
        rotation=base.rotation,
        session_affinity=base.session_affinity,
        cooldown=Cooldown(base.cooldown.base, base.cooldown.max),
        fair_cycle=base.fair_cycle,
    )
    retries = ck.typed(raw, "retries", path, int, out.retries)
    if retries < 0:
        ck.problem((*path, "retries"), "must be 0 or more")
    else:
        out.retries = retries
    tpath = (*path, "timeouts")
    traw = ck.mapping(raw.get("timeouts"), tpath, ("first_byte", "stall", "request"))
    out.timeouts.first_byte = ck.positive(traw, "first_byte", tpath, out.timeouts.first_byte)
    out.timeouts.stall = ck.positive(traw, "stall", tpath, out.timeouts.stall)
    out.timeouts.request = ck.positive(traw, "request", tpath, out.timeouts.request)
    out.heartbeat = ck.positive(raw, "heartbeat", path, out.heartbeat, allow_zero=True)
    rotation = ck.typed(raw, "rotation", path, str, out.rotation)
    if rotation not in ROTATIONS:
        ck.problem((*path, "rotation"), f"must be one of {', '.join(ROTATIONS)}")
    else:
        out.rotation = rotation
    out.session_affinity = ck.typed(raw, "session_affinity", path, bool, out.session_affinity)
    out.fair_cycle = ck.typed(raw, "fair_cycle", path, bool, out.fair_cycle)
    cpath = (*path, "cooldown")
    craw = ck.mapping(raw.get("cooldown"), cpath, ("base", "max"))
    out.cooldown.base = ck.positive(craw, "base", cpath, out.cooldown.base)
    out.cooldown.max = ck.positive(craw, "max", cpath, out.cooldown.max)
    return out


def _server(ck: _Checker, raw: Any, base_dir: Path) -> ServerConfig:
    path = ("server",)
    known = ("host", "port", "auth_keys", "admin_keys", "data_dir", "max_body_mb", "drain_timeout", "client_key_header")
    raw = ck.mapping(raw, path, known)
    out = ServerConfig()
    out.host = ck.typed(raw, "host", path, str, out.host)
    port = ck.typed(raw, "port", path, int, out.port)
    if not 0 < port < 65536:
        ck.problem((*path, "port"), "must be between 1 and 65535")
    else:
        out.port = port
    out.auth_keys, out.key_specs = _auth_keys(ck, raw.get("auth_keys"), (*path, "auth_keys"))
    admin = ck.string_list(raw, "admin_keys", path)
    for i, key in enumerate(admin):
        if not key.strip():
            ck.problem((*path, "admin_keys", i), "is empty (an unset variable?)")
    out.admin_keys = [k for k in admin if k.strip()]
    data_dir = ck.typed(raw, "data_dir", path, str, None)
    out.data_dir = (base_dir / data_dir).resolve() if data_dir else (base_dir / ".switchyard").resolve()
    out.max_body_mb = ck.positive(raw, "max_body_mb", path, out.max_body_mb)
    out.drain_timeout = ck.positive(raw, "drain_timeout", path, out.drain_timeout, allow_zero=True)
    header = ck.typed(raw, "client_key_header", path, str, out.client_key_header).strip().lower()
    if not re.fullmatch(r"[a-z0-9!#$%&'*+.^_`|~-]+", header) or header in CREDENTIAL_HEADERS:
        ck.problem((*path, "client_key_header"), f"must be a header name other than {', '.join(CREDENTIAL_HEADERS)}")
    else:
        out.client_key_header = header
    return out


def _auth_keys(ck: _Checker, raw: Any, path: tuple) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Client keys: strings, or mappings ``{key, name, team, models, expires_at, metadata, budget, limits}``."""
    if raw is None:
        return [], {}
    if not isinstance(raw, list):
        raw = [raw]
    keys: list[str] = []
    specs: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(raw):
        spec: dict[str, Any] = {}
        if isinstance(entry, dict):
            spec = dict(entry)
            entry = spec.pop("key", None)
            try:
                spec = parse_fields({"name": f"config key {i + 1}", **spec}, KEY_FIELDS, create=True)
            except GatewayError as exc:
                ck.problem((*path, i), exc.message)
        if not isinstance(entry, str):
            ck.problem((*path, i), "must be a key (a string) or a mapping with 'key' and its limits")
        elif not entry.strip():
            ck.problem((*path, i), "is empty (an unset variable?); remove it to disable client auth")
        else:
            keys.append(entry)
            if spec:
                specs[entry] = spec
    return keys, specs


def _governance(ck: _Checker, raw: Any) -> GovernanceConfig:
    path = ("governance",)
    raw = ck.mapping(raw, path, ("unpriced", "rate_window", "lease_seconds", "dsn"))
    out = GovernanceConfig()
    unpriced = ck.typed(raw, "unpriced", path, str, out.unpriced)
    if unpriced not in ("allow", "deny"):
        ck.problem((*path, "unpriced"), "must be allow or deny")
    else:
        out.unpriced = unpriced
    out.rate_window = ck.positive(raw, "rate_window", path, out.rate_window)
    out.lease_seconds = ck.positive(raw, "lease_seconds", path, out.lease_seconds)
    out.dsn = _dsn(ck, raw, path)
    return out


def _dsn(ck: _Checker, raw: dict[str, Any], path: tuple) -> str | None:
    dsn = ck.typed(raw, "dsn", path, str, None)
    if dsn is not None and not dsn.startswith(("postgresql://", "postgres://")):
        ck.problem((*path, "dsn"), "must be a PostgreSQL URL: postgresql://user:password@host:port/database")
        return None
    return dsn


def _providers(ck: _Checker, raw: Any, routing: RoutingConfig, groups: Any) -> dict[str, ProviderConfig]:
    path = ("providers",)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        ck.problem(path, f"must be a mapping of provider names, got {_type(raw)}")
        return {}
    known = (
        "type", "base_url", "api_keys", "api_key", "models", "headers", "routing", "max_concurrency", "adapters",
        "max_tokens_field", "unsupported_params", "credentials", "prompt_cache", "embedding_batch", "quotas",
    )  # fmt: skip
    out: dict[str, ProviderConfig] = {}
    for name, praw in raw.items():
        ppath = (*path, name)
        if not NAME_RE.match(name) or "/" in name:
            ck.problem(ppath, "provider names may hold letters, digits, '_', '.', '-' (no '/')")
        praw = ck.mapping(praw, ppath, known)
        ptype = ck.typed(praw, "type", ppath, str, None)
        if ptype is None:
            ck.problem(ppath, f"missing 'type' (one of: {', '.join(PROVIDER_TYPES)})")
            continue
        if ptype not in PROVIDER_TYPES:
            ck.problem((*ppath, "type"), f"unknown provider type {ptype!r} (one of: {', '.join(PROVIDER_TYPES)})")
            continue
        base_url = ck.typed(praw, "base_url", ppath, str, PROVIDER_TYPES[ptype].base_url)
        if ptype == "mock" and "base_url" in praw:
            ck.problem((*ppath, "base_url"), "the mock provider is answered inside the gateway: it has no base_url")
        elif not re.match(r"^https?://[^/\s]+", base_url or ""):
            ck.problem((*ppath, "base_url"), "must be an http:// or https:// URL")
        keys = ck.string_list(praw, "api_keys", ppath) + ck.string_list(praw, "api_key", ppath)
        for i, key in enumerate(keys):
            if not key.strip():
                ck.problem((*ppath, "api_keys", i), "is empty (an unset variable?)")
        headers = ck.typed(praw, "headers", ppath, dict, {})
        if not all(isinstance(v, str) for v in headers.values()):
            ck.problem((*ppath, "headers"), "header values must be strings")
            headers = {}
        max_concurrency = ck.typed(praw, "max_concurrency", ppath, int, None)
        if max_concurrency is not None and max_concurrency < 1:
            ck.problem((*ppath, "max_concurrency"), "must be 1 or more")
            max_concurrency = None
        credentials = _credentials(ck, praw, ppath, ptype, keys)
        if praw.get("quotas") and not keys:
            ck.problem((*ppath, "quotas"), "quotas count the provider's own api_keys, and it has none")
        out[name] = ProviderConfig(
            name=name,
            type=ptype,
            base_url=(base_url or "").rstrip("/"),
            api_keys=[k for k in keys if k.strip()],
            credentials=credentials,
            models=ck.string_list(praw, "models", ppath),
            headers={str(k).lower(): v for k, v in headers.items()},
            routing=_routing(ck, praw.get("routing"), (*ppath, "routing"), routing),
            max_concurrency=max_concurrency,
            adapters=_adapters(ck, praw.get("adapters"), (*ppath, "adapters"), PROVIDER_TYPES[ptype].protocol),
            max_tokens_field=_max_tokens_field(ck, praw, ppath, ptype),
            unsupported_params=_unsupported(ck, praw, ppath, ptype),
            prompt_cache=_prompt_cache(ck, praw, ppath, ptype),
            embedding_batch=_embedding_batch(ck, praw.get("embedding_batch"), (*ppath, "embedding_batch")),
            quotas=_quotas(ck, praw.get("quotas"), (*ppath, "quotas"), name, groups),
        )
    return out


def _embedding_batch(ck: _Checker, raw: Any, path: tuple) -> EmbeddingBatch | None:
    if raw is None:
        return None
    raw = ck.mapping(raw, path, ("max_inputs", "max_wait_ms"))
    max_inputs = ck.typed(raw, "max_inputs", path, int, 64)
    if max_inputs < 1:
        ck.problem((*path, "max_inputs"), "must be 1 or more")
        max_inputs = 64
    return EmbeddingBatch(max_inputs, ck.positive(raw, "max_wait_ms", path, 10.0, allow_zero=True))


def _quotas(ck: _Checker, raw: Any, path: tuple, provider: str, groups: Any) -> list[QuotaRule]:
    """``quotas: [{models, requests, tokens, window, reset}]``; a model group (an alias) in
    ``models`` stands for its targets on this provider."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        ck.problem(path, f"must be a list of quotas like {{requests: 100, window: 1d}}, got {_type(raw)}")
        return []
    mine: dict[str, list[str]] = {}
    for alias, targets in (groups if isinstance(groups, dict) else {}).items():
        targets = targets.get("targets") if isinstance(targets, dict) else targets  # the form with settings
        targets = [targets] if isinstance(targets, str) else targets
        if isinstance(targets, list):
            mine[alias] = [t.partition("/")[2] for t in targets if isinstance(t, str) and t.startswith(provider + "/")]
    rules = []
    for i, entry in enumerate(raw):
        try:
            rules.append(parse_rule(entry, mine))
        except ValueError as exc:
            ck.problem((*path, i), str(exc))
    return rules


def _max_tokens_field(ck: _Checker, raw: dict[str, Any], path: tuple, ptype: str) -> str | None:
    value = ck.typed(raw, "max_tokens_field", path, str, None)
    if value is None:
        return None
    if PROVIDER_TYPES[ptype].protocol != "openai_chat":
        ck.problem((*path, "max_tokens_field"), "only a type: openai provider (Chat Completions) takes it")
        return None
    if value not in MAX_TOKENS_FIELDS:
        ck.problem((*path, "max_tokens_field"), f"must be one of {', '.join(MAX_TOKENS_FIELDS)}")
        return None
    return value


def _unsupported(ck: _Checker, raw: dict[str, Any], path: tuple, ptype: str) -> list[str] | None:
    if raw.get("unsupported_params") is None:
        return None
    where = (*path, "unsupported_params")
    if ptype == "mock":
        ck.problem(where, "the mock provider takes every parameter")
        return None
    names = raw["unsupported_params"]
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        ck.problem(where, "must be a list of parameter names (like reasoning, top_k, extensions.seed)")
        return None
    if names:
        try:
            ADAPTERS["drop_params"].params({"params": names})
        except AdapterError as exc:
            ck.problem(where, str(exc))
            return None
    return list(names)


def _prompt_cache(ck: _Checker, raw: dict[str, Any], path: tuple, ptype: str | None = None) -> PromptCache | None:
    if raw.get("prompt_cache") is None:
        return None
    where = (*path, "prompt_cache")
    if ptype is not None and PROVIDER_TYPES[ptype].protocol != "anthropic":
        ck.problem(where, "only Anthropic providers (type: anthropic) take it")
        return None
    try:
        return parse_setting(raw["prompt_cache"])
    except ValueError as exc:
        ck.problem(where, str(exc))
        return None


def _credentials(ck: _Checker, raw: dict[str, Any], path: tuple, ptype: str, keys: list[str]) -> str:
    mode = ck.typed(raw, "credentials", path, str, "pool")
    if mode not in CREDENTIAL_MODES:
        ck.problem((*path, "credentials"), f"must be one of: {', '.join(CREDENTIAL_MODES)}")
    elif mode != "pool" and ptype == "mock":
        ck.problem((*path, "credentials"), "the mock provider takes no credentials")
    elif mode == "passthrough" and keys:
        ck.problem((*path, "credentials"), "passthrough uses the client's credential: drop api_keys, or use 'either'")
    elif mode == "either" and not keys:
        ck.problem((*path, "credentials"), "'either' needs api_keys for clients that bring no credential")
    else:
        return mode
    return "pool"


def _models(
    ck: _Checker, raw: Any, providers: dict[str, ProviderConfig], prompt_cache: dict[str, PromptCache]
) -> dict[str, list[str]]:
    """Aliases -> targets; an alias written ``{targets: [...], prompt_cache: ...}`` puts its
    setting in ``prompt_cache``."""
    path = ("models",)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        ck.problem(path, f"must be a mapping of alias -> targets, got {_type(raw)}")
        return {}
    out: dict[str, list[str]] = {}
    for alias, targets in raw.items():
        apath = (*path, alias)
        if isinstance(targets, dict):
            options = ck.mapping(targets, apath, ("targets", "prompt_cache"))
            setting = _prompt_cache(ck, options, apath)
            if setting is not None:
                prompt_cache[alias] = setting
            targets = options.get("targets")
        if isinstance(targets, str):
            targets = [targets]
        if not isinstance(targets, list) or not targets or not all(isinstance(t, str) for t in targets):
            ck.problem(apath, "must be a target 'provider/model' or a non-empty list of them")
            continue
        for i, target in enumerate(targets):
            provider, sep, model = target.partition("/")
            if not sep or not model:
                ck.problem((*apath, i), f"target {target!r} must be written 'provider/model'")
            elif provider not in providers:
                ck.problem((*apath, i), f"target {target!r} names an unknown provider {provider!r}")
        out[alias] = targets
    return out


def _observability(ck: _Checker, raw: Any) -> ObservabilityConfig:
    path = ("observability",)
    raw = ck.mapping(raw, path, ("usage_log", "trace", "trace_max_file_mb"))
    out = ObservabilityConfig()
    usage = raw.get("usage_log")
    if isinstance(usage, dict):
        upath = (*path, "usage_log")
        usage = ck.mapping(usage, upath, ("backend", "dsn"))
        out.usage_dsn = _dsn(ck, usage, upath)
        backend = ck.typed(usage, "backend", upath, str, "postgres" if out.usage_dsn else "sqlite")
        if backend not in ("sqlite", "postgres"):
            ck.problem((*upath, "backend"), "must be sqlite or postgres")
        elif (backend == "postgres") != (out.usage_dsn is not None):
            ck.problem(upath, "backend postgres needs a dsn (and a dsn needs backend postgres)")
        else:
            out.usage_backend = backend
    else:
        out.usage_log = ck.typed(raw, "usage_log", path, bool, out.usage_log)
    out.trace = ck.typed(raw, "trace", path, bool, out.trace)
    out.trace_max_file_mb = ck.positive(raw, "trace_max_file_mb", path, out.trace_max_file_mb)
    return out


def _ui(ck: _Checker, raw: Any) -> UIConfig:
    raw = ck.mapping(raw, ("ui",), ("enabled",))
    return UIConfig(enabled=ck.typed(raw, "enabled", ("ui",), bool, None))


def _adapters(ck: _Checker, raw: Any, path: tuple, protocol: str) -> list[Any] | None:
    if raw is None:
        return None
    try:
        AdapterChain.from_config(raw, protocol=protocol)
    except AdapterError as exc:
        ck.problem(path, str(exc))
        return None
    return list(raw)


def _field_cache(ck: _Checker, raw: Any) -> FieldCacheConfig:
    path = ("field_cache",)
    raw = ck.mapping(raw, path, ("ttl", "rules"))
    out = FieldCacheConfig()
    out.ttl = ck.positive(raw, "ttl", path, out.ttl)
    rules = raw.get("rules")
    if rules is not None:
        try:
            merge_rules(builtin_rules(), rules)
        except (RuleError, TypeError, ValueError) as exc:
            ck.problem((*path, "rules"), str(exc))
        else:
            out.rules = list(rules)
    return out


def _state(ck: _Checker, raw: Any) -> StateConfig:
    path = ("state",)
    raw = ck.mapping(raw, path, ("backend", "redis_url", "redis_prefix", "on_unavailable"))
    out = StateConfig()
    backend = ck.typed(raw, "backend", path, str, out.backend)
    if backend not in ("sqlite", "memory", "redis"):
        ck.problem((*path, "backend"), "must be one of sqlite, memory, redis")
    else:
        out.backend = backend
    out.redis_url = ck.typed(raw, "redis_url", path, str, out.redis_url)
    out.redis_prefix = ck.typed(raw, "redis_prefix", path, str, out.redis_prefix)
    on_unavailable = ck.typed(raw, "on_unavailable", path, str, out.on_unavailable)
    if on_unavailable not in ("local", "fail_closed"):
        ck.problem((*path, "on_unavailable"), "must be local or fail_closed")
    else:
        out.on_unavailable = on_unavailable
    return out


def _pricing(ck: _Checker, raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    try:
        default_pricing().with_overrides(raw)
    except ValueError as exc:
        ck.problem(("pricing",), str(exc))
        return {}
    return raw


# ---------------------------------------------------------------------------- entry points


def providers_from_env(env: Mapping[str, str]) -> dict[str, ProviderConfig]:
    """Providers made from environment variables (used when there is no config file).

    ``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``, ``GEMINI_API_KEY`` (or ``GOOGLE_API_KEY``) make the
    providers ``openai``, ``anthropic``, ``gemini``; numbered ``<NAME>_API_KEY_1 … _N`` add keys to
    the pool; ``<NAME>_API_BASE`` sets the base URL, and with a key (or alone, for local servers
    like vLLM) makes an OpenAI-compatible provider named ``<name>``.
    """
    pools: dict[str, list[tuple[int, str]]] = {}
    bases: dict[str, str] = {}
    for var, value in env.items():
        if not value:
            continue
        match = re.fullmatch(r"([A-Z][A-Z0-9_]*?)_API_KEY(?:_(\d+))?", var)
        if match:
            pools.setdefault(match.group(1), []).append((int(match.group(2) or 0), value))
            continue
        match = re.fullmatch(r"([A-Z][A-Z0-9_]*?)_API_BASE", var)
        if match:
            bases[match.group(1)] = value
    if "GOOGLE" in pools and "GEMINI" not in pools:
        pools["GEMINI"] = pools.pop("GOOGLE")
    builtin = {"OPENAI": "openai", "ANTHROPIC": "anthropic", "GEMINI": "gemini"}
    out: dict[str, ProviderConfig] = {}
    for prefix in sorted(set(pools) | set(bases)):
        if prefix in ("SWITCHYARD", "GOOGLE"):
            continue
        if prefix not in builtin and prefix not in bases:
            continue  # a stray *_API_KEY with no base URL is not a provider
        ptype = builtin.get(prefix, "openai")
        name = prefix.lower().replace("_", "-")
        keys = [value for _, value in sorted(pools.get(prefix, []))]
        base = bases.get(prefix, PROVIDER_TYPES[ptype].base_url).rstrip("/")
        out[name] = ProviderConfig(name=name, type=ptype, base_url=base, api_keys=list(dict.fromkeys(keys)))
    return out


def _with_mock(providers: dict[str, ProviderConfig]) -> dict[str, ProviderConfig]:
    if "mock" not in providers:
        mock = PROVIDER_TYPES["mock"]
        providers["mock"] = ProviderConfig(name="mock", type="mock", base_url=mock.base_url, models=list(MOCK_MODELS))
    return providers


def parse_config(text: str, source: str, env: Mapping[str, str], base_dir: Path) -> Config:
    """Parse and validate config text; raises ConfigError listing every problem."""
    raw, lines = _compose(text, source)
    ck = _Checker(source, lines, env)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError([f"{source}:1: (top level): must be a mapping"])
    raw = ck.expand(raw, ())
    ck.mapping(
        raw,
        (),
        (
            "server",
            "providers",
            "models",
            "routing",
            "observability",
            "pricing",
            "state",
            "field_cache",
            "governance",
            "ui",
        ),
    )
    routing = _routing(ck, raw.get("routing"), ("routing",), RoutingConfig())
    server = _server(ck, raw.get("server"), base_dir)
    providers = _providers(ck, raw.get("providers"), routing, raw.get("models"))
    alias_prompt_cache: dict[str, PromptCache] = {}
    models = _models(ck, raw.get("models"), _with_mock(dict(providers)), alias_prompt_cache)
    observability = _observability(ck, raw.get("observability"))
    pricing = _pricing(ck, raw.get("pricing"))
    state = _state(ck, raw.get("state"))
    field_cache = _field_cache(ck, raw.get("field_cache"))
    governance = _governance(ck, raw.get("governance"))
    ui = _ui(ck, raw.get("ui"))
    if ck.problems:
        raise ConfigError(ck.problems)
    return Config(
        server=server,
        providers=_with_mock(providers),
        models=models,
        alias_prompt_cache=alias_prompt_cache,
        routing=routing,
        observability=observability,
        state=state,
        field_cache=field_cache,
        governance=governance,
        ui=ui,
        pricing=pricing,
        source=source,
    )


def load_config(path: str | os.PathLike | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load the config from ``path`` (or ``$SWITCHYARD_CONFIG``); without one, from the environment."""
    env = os.environ if env is None else env
    path = path or env.get("SWITCHYARD_CONFIG") or None
    if path is None:
        return Config(providers=_with_mock(providers_from_env(env)))
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{file}: cannot read: {exc.strerror}"]) from None
    return parse_config(text, str(file), env, file.resolve().parent)
