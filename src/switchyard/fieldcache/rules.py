"""Field-cache rules: what to keep from an upstream's output and where to put it back.

A rule is data (loadable from a YAML/dict mapping, see :meth:`Rule.from_dict`)::

    name: anthropic.thinking              # unique; config overrides refer to it
    protocols: [anthropic]                # provider protocols it applies to
    mode: per_tool_call                   # see MODES
    scope: [provider, model, key_id, session]   # scope fields in the key (default: all four)
    ttl: 3600                             # seconds (default: the cache's TTL)
    max_values: 32                        # values kept per entry
    extract:
      source: response                    # response | request | stream
      path: "content[kind=reasoning]"     # path language: paths.py
      select:                             # keep a match if ANY alternative holds (all of its keys)
        - {signature_source: $protocol, signature: "*"}
        - {redacted: "*"}
      value: $                            # template of what is stored ($ = the match)
    inject:
      anchor: message                     # request | message | tool_call (default from the mode)
      path: "content[0]"                  # relative to the anchor
      op: insert                          # insert | set | merge
      unless:                             # skip an anchor that already holds such values
        - {path: "content[kind=reasoning]", select: [{signature_source: $protocol, signature: "*"}]}
      replace:                            # remove these list elements of the anchor when injecting
        - {path: "content[kind=reasoning]", select: [{signature: null, redacted: null}]}

Select and template values: ``$protocol`` is the provider protocol, ``"*"`` means "present and
not null/empty"; select keys may be paths (``extensions.thoughtSignature``). In a ``value``
template, ``$`` is the whole match, ``$.a.b`` a path inside it, ``$protocol`` the protocol; any
other value is literal.

Sources: ``response`` reads the upstream's Response (also the one a stream recorder folds from
the events, so one rule serves both); ``stream`` reads each stream event, with the path starting
at a one-element list holding the event (``[kind=message_start].extensions.x``); ``request``
reads what the client sent (recorded when the request passes through ``inject``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..core.model import ToolCallPart
from .neutral import copy_json
from .paths import MISSING, field, find, get_at, parse

MODES = ("last", "all", "last_user_turn", "last_assistant_turn", "per_tool_call")
"""- ``last``: the values of the latest output that had any, per scope; injected into every
  later request (anchor: the request).
- ``all``: every distinct value seen in the scope (newest ``max_values`` kept); injected into every
  later request (anchor: the request).
- ``last_user_turn``: the values of outputs that answered one user turn (the request's last user
  message, by hash); injected only while a later request still ends with that same user turn,
  i.e. during its tool loop (anchor: the request; ``message`` means that user message).
- ``last_assistant_turn``: keyed by a hash of the assistant output itself (its text and tool-call
  ids); injected into the assistant message of a later request with the same text and ids.
- ``per_tool_call``: keyed by tool-call id. A match inside a tool-call part is stored under that
  call's id only; any other match under every tool-call id of the same output. Injected into the
  assistant message holding that id (or the tool-call part itself, anchor ``tool_call``) after
  checking the call's name; ids a request does not hold are never looked at.
"""

SOURCES = ("response", "request", "stream")
OPS = ("insert", "set", "merge")
ANCHORS = ("request", "message", "tool_call")
SCOPE_FIELDS = ("provider", "model", "key_id", "session")
DEFAULT_ANCHOR = {
    "last": "request",
    "all": "request",
    "last_user_turn": "request",
    "last_assistant_turn": "message",
    "per_tool_call": "message",
}
ANY = "*"
PROTOCOL = "$protocol"

Select = tuple[tuple[tuple[str, Any], ...], ...]
"""Alternatives (any may hold), each a tuple of (key path, expected) that must all hold."""


def _normal(select: Select) -> Select:
    """Conditions of an alternative in key order (they all must hold: order carries no meaning)."""
    return tuple(tuple(sorted(alt, key=lambda kv: kv[0])) for alt in select)


class RuleError(ValueError):
    """A rule mapping that is not valid (the message names the rule and the field)."""


@dataclass(frozen=True, slots=True)
class Probe:
    """A path and select filter evaluated at the anchor: ``unless`` entries ask whether it already
    holds such a value; ``replace`` entries name list elements removed when injecting (e.g. the
    visible-only echo of reasoning that a client sent back as ``reasoning_content``)."""

    path: str = ""
    select: Select = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "select", _normal(self.select))


@dataclass(frozen=True, slots=True)
class Extract:
    source: str = "response"
    path: str = ""
    select: Select = ()
    value: Any = "$"

    def __post_init__(self) -> None:
        object.__setattr__(self, "select", _normal(self.select))


@dataclass(frozen=True, slots=True)
class Inject:
    path: str = ""
    op: str = "insert"
    anchor: str = ""
    unless: tuple[Probe, ...] = ()
    replace: tuple[Probe, ...] = ()


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    protocols: tuple[str, ...]
    mode: str
    extract: Extract
    inject: Inject
    scope: tuple[str, ...] = SCOPE_FIELDS
    ttl: float | None = None
    max_values: int = 32
    enabled: bool = True

    def __post_init__(self) -> None:
        where = f"rule {self.name!r}"
        if not self.name:
            raise RuleError("a rule needs a name")
        if self.mode not in MODES:
            raise RuleError(f"{where}: mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.extract.source not in SOURCES:
            raise RuleError(f"{where}: extract.source must be one of {', '.join(SOURCES)}")
        if self.inject.op not in OPS:
            raise RuleError(f"{where}: inject.op must be one of {', '.join(OPS)}")
        anchor = self.anchor
        if anchor not in ANCHORS:
            raise RuleError(f"{where}: inject.anchor must be one of {', '.join(ANCHORS)}")
        if anchor == "tool_call" and self.mode != "per_tool_call":
            raise RuleError(f"{where}: the tool_call anchor needs mode per_tool_call")
        if anchor == "message" and self.mode in ("last", "all"):
            raise RuleError(f"{where}: mode {self.mode} injects at the request, not a message")
        bad = [f for f in self.scope if f not in SCOPE_FIELDS]
        if bad or not self.scope:
            raise RuleError(f"{where}: scope lists fields of {', '.join(SCOPE_FIELDS)} (got {list(self.scope)})")
        if "provider" not in self.scope:
            raise RuleError(f"{where}: the scope must include provider")
        if self.max_values < 1:
            raise RuleError(f"{where}: max_values must be positive")
        if self.ttl is not None and self.ttl <= 0:
            raise RuleError(f"{where}: ttl must be positive")
        try:
            parse(self.extract.path)
            parse(self.inject.path)
            for probe in (*self.inject.unless, *self.inject.replace):
                parse(probe.path)
        except ValueError as exc:
            raise RuleError(f"{where}: {exc}") from None
        if self.inject.op != "merge" and not parse(self.inject.path):
            raise RuleError(f"{where}: inject.path is required for op {self.inject.op}")
        if self.inject.op == "insert" and parse(self.inject.path)[-1][0] != "index":
            raise RuleError(f"{where}: an insert path ends with [n] (e.g. content[0], content[-1])")

    @property
    def anchor(self) -> str:
        return self.inject.anchor or DEFAULT_ANCHOR[self.mode]

    # ---------------------------------------------------------------- mapping form (config)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Rule:
        """A rule from its mapping form (raises RuleError naming what is wrong)."""
        if not isinstance(raw, Mapping):
            raise RuleError("a rule must be a mapping")
        name = raw.get("name")
        where = f"rule {name!r}"
        if not isinstance(name, str) or not name:
            raise RuleError("a rule needs a non-empty string 'name'")
        known = {"name", "protocols", "mode", "extract", "inject", "scope", "ttl", "max_values", "enabled"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise RuleError(f"{where}: unknown field(s) {', '.join(unknown)}")
        ex = _mapping(raw.get("extract", {}), f"{where}: extract")
        inj = _mapping(raw.get("inject", {}), f"{where}: inject")
        _only(ex, {"source", "path", "select", "value"}, f"{where}: extract")
        _only(inj, {"path", "op", "anchor", "unless", "replace"}, f"{where}: inject")
        probes = {key: _probes(inj.get(key, []), f"{where}: inject.{key}") for key in ("unless", "replace")}
        ttl = raw.get("ttl")
        if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int | float)):
            raise RuleError(f"{where}: ttl must be a number of seconds")
        max_values = raw.get("max_values", 32)
        if isinstance(max_values, bool) or not isinstance(max_values, int):
            raise RuleError(f"{where}: max_values must be an integer")
        enabled = raw.get("enabled", True)
        if not isinstance(enabled, bool):
            raise RuleError(f"{where}: enabled must be true or false")
        return cls(
            name=name,
            protocols=tuple(_str(p, where) for p in raw_list(raw.get("protocols", []), f"{where}: protocols")),
            mode=_str(raw.get("mode", ""), where),
            extract=Extract(
                source=_str(ex.get("source", "response"), where),
                path=_str(ex.get("path", ""), where),
                select=_select(ex.get("select"), where),
                value=copy_json(ex.get("value", "$")),
            ),
            inject=Inject(
                path=_str(inj.get("path", ""), where),
                op=_str(inj.get("op", "insert"), where),
                anchor=_str(inj.get("anchor", ""), where),
                unless=probes["unless"],
                replace=probes["replace"],
            ),
            scope=tuple(_str(s, where) for s in raw_list(raw.get("scope", list(SCOPE_FIELDS)), f"{where}: scope")),
            ttl=float(ttl) if ttl is not None else None,
            max_values=max_values,
            enabled=enabled,
        )

    def to_dict(self) -> dict[str, Any]:
        """The mapping form (``Rule.from_dict(rule.to_dict()) == rule``)."""
        out: dict[str, Any] = {
            "name": self.name,
            "protocols": list(self.protocols),
            "mode": self.mode,
            "extract": {
                "source": self.extract.source,
                "path": self.extract.path,
                "select": _select_out(self.extract.select),
                "value": copy_json(self.extract.value),
            },
            "inject": {
                "path": self.inject.path,
                "op": self.inject.op,
                "anchor": self.inject.anchor,
                "unless": [{"path": p.path, "select": _select_out(p.select)} for p in self.inject.unless],
                "replace": [{"path": p.path, "select": _select_out(p.select)} for p in self.inject.replace],
            },
            "scope": list(self.scope),
            "max_values": self.max_values,
            "enabled": self.enabled,
        }
        if self.ttl is not None:
            out["ttl"] = self.ttl
        return out


def merge_rules(base: Iterable[Rule], overrides: Iterable[Mapping[str, Any]] | None) -> list[Rule]:
    """``base`` with config overrides applied, in order.

    An override naming an existing rule is merged over that rule's mapping (``extract`` and
    ``inject`` key by key), so ``{name: anthropic.thinking, enabled: false}`` turns it off and
    ``{name: gemini.tool_call_signature, ttl: 600}`` changes one field. Other names add rules
    (complete mappings). Disabled rules are left out of the result.
    """
    rules: dict[str, Rule] = {}
    for rule in base:
        rules[rule.name] = rule
    for raw in overrides or ():
        if not isinstance(raw, Mapping):
            raise RuleError("a field-cache rule override must be a mapping")
        name = raw.get("name")
        if isinstance(name, str) and name in rules:
            merged = rules[name].to_dict()
            for key, value in raw.items():
                if key in ("extract", "inject") and isinstance(value, Mapping):
                    merged[key] = {**merged[key], **value}
                else:
                    merged[key] = value
            rules[name] = Rule.from_dict(merged)
        else:
            rule = Rule.from_dict(raw)
            rules[rule.name] = rule
    return [r for r in rules.values() if r.enabled]


# ---------------------------------------------------------------- select and templates


def selected(obj: Any, select: Select, protocol: str) -> bool:
    """Whether ``obj`` passes the select filter (no alternatives: everything passes)."""
    if not select:
        return True
    return any(all(_holds(obj, key, want, protocol) for key, want in alt) for alt in select)


def _holds(obj: Any, key: str, want: Any, protocol: str) -> bool:
    found = find(obj, key)
    got = found[0][1] if found else MISSING
    if want == ANY:
        return got is not MISSING and got is not None and got != "" and got != [] and got != {}
    if want == PROTOCOL:
        want = protocol
    return got is not MISSING and got == want and isinstance(got, bool) == isinstance(want, bool)


def render(template: Any, match: Any, protocol: str) -> Any:
    """The stored value for one match: ``template`` with ``$``, ``$.path`` and ``$protocol`` filled in."""
    if isinstance(template, str):
        if template == "$":
            return copy_json(match)
        if template == PROTOCOL:
            return protocol
        if template.startswith("$."):
            found = find(match, template[2:])
            return copy_json(found[0][1]) if found else None
        return template
    if isinstance(template, dict):
        return {k: render(v, match, protocol) for k, v in template.items()}
    if isinstance(template, list):
        return [render(v, match, protocol) for v in template]
    return template


def extract(rule: Rule, holder: Any, protocol: str) -> list[tuple[Any, str | None]]:
    """(stored value, own tool-call id or None) for each match of ``rule`` in ``holder`` (a
    Response, Message or Request), in document order."""
    out = []
    for where, match in find(holder, rule.extract.path):
        if not selected(match, rule.extract.select, protocol):
            continue
        value = render(rule.extract.value, match, protocol)
        if value is None:
            continue
        own = None
        if len(where) >= 2 and where[0] == "content" and isinstance(where[1], int):
            part = get_at(holder, where[:2])
            if isinstance(part, ToolCallPart) or (isinstance(part, dict) and part.get("kind") == "tool_call"):
                own = field(part, "id") or None
        out.append((value, own))
    return out


# ---------------------------------------------------------------- mapping helpers


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RuleError(f"{where} must be a mapping")
    return value


def _only(value: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise RuleError(f"{where}: unknown field(s) {', '.join(unknown)}")


def raw_list(value: Any, where: str) -> list[Any]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise RuleError(f"{where} must be a list")
    return list(value)


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise RuleError(f"{where}: expected text, got {value!r}")
    return value


def _probes(raw: Any, where: str) -> tuple[Probe, ...]:
    out = []
    for i, item in enumerate(raw_list(raw, where)):
        pm = _mapping(item, f"{where}[{i}]")
        _only(pm, {"path", "select"}, f"{where}[{i}]")
        out.append(Probe(_str(pm.get("path", ""), where), _select(pm.get("select"), where)))
    return tuple(out)


def _select(raw: Any, where: str) -> Select:
    if raw is None:
        return ()
    alts = [raw] if isinstance(raw, Mapping) else raw_list(raw, f"{where}: select")
    out = []
    for alt in alts:
        if not isinstance(alt, Mapping) or not alt:
            raise RuleError(f"{where}: each select alternative is a non-empty mapping")
        for key in alt:
            if not isinstance(key, str):
                raise RuleError(f"{where}: select keys are paths (text)")
            try:
                parse(key)
            except ValueError as exc:
                raise RuleError(f"{where}: select: {exc}") from None
        out.append(tuple((k, copy_json(v)) for k, v in alt.items()))
    return tuple(out)


def _select_out(select: Select) -> list[dict[str, Any]]:
    return [{k: copy_json(v) for k, v in alt} for alt in select]
