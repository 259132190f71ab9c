"""Model resolution: the name a client sends -> an ordered list of (provider, model) targets.

Order of precedence, first match wins:

1. ``<provider>/<model>`` where ``<provider>`` is a configured provider;
2. an alias spelled exactly (its list is a fallback group, tried in order);
3. a bare model name declared (``models:``) by exactly one provider (several: 400 ambiguous);
4. an alias pattern with ``*`` wildcards (``claude-*``); the most specific pattern wins — the one
   with the most literal characters; ties go to the pattern listed first.

Anything else is a 404 ``not_found``. The tables are built once at start-up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..config import Config
from ..core.errors import ErrorKind, GatewayError
from ..prompt_cache import PromptCache


@dataclass(frozen=True, slots=True)
class Target:
    provider: str
    model: str
    prompt_cache: PromptCache | None = field(default=None, compare=False)
    """The ``prompt_cache`` of the alias this target came from (None: its provider's)."""

    def __str__(self) -> str:
        return f"{self.provider}/{self.model}"


def _targets(specs: list[str], prompt_cache: PromptCache | None = None) -> tuple[Target, ...]:
    return tuple(Target(*spec.split("/", 1), prompt_cache=prompt_cache) for spec in specs)


class ModelResolver:
    def __init__(self, config: Config) -> None:
        self._providers = set(config.providers)
        self._exact: dict[str, tuple[Target, ...]] = {}
        patterns: list[tuple[int, int, re.Pattern[str], tuple[Target, ...]]] = []
        for position, (alias, specs) in enumerate(config.models.items()):
            targets = _targets(specs, config.alias_prompt_cache.get(alias))
            if "*" in alias:
                regex = re.compile("^" + ".*".join(re.escape(p) for p in alias.split("*")) + "$")
                patterns.append((-len(alias.replace("*", "")), position, regex, targets))
            else:
                self._exact[alias] = targets
        self._patterns = [(regex, targets) for _, _, regex, targets in sorted(patterns, key=lambda p: p[:2])]
        declared: dict[str, list[Target]] = {}
        for name, provider in config.providers.items():
            for model in provider.models:
                declared.setdefault(model, []).append(Target(name, model))
        self._declared = declared
        self._configured = frozenset(
            [t for targets in self._exact.values() for t in targets]
            + [t for _, targets in self._patterns for t in targets]
            + [t for targets in declared.values() for t in targets]
        )

    def configured(self, target: Target) -> bool:
        """Whether the config names ``target`` (an alias target or a declared model), as opposed
        to a ``<provider>/<anything>`` a client made up."""
        return target in self._configured

    def resolve(self, name: str) -> tuple[Target, ...]:
        if not name:
            raise GatewayError(ErrorKind.INVALID_REQUEST, "missing model name", param="model")
        provider, sep, model = name.partition("/")
        if sep and model and provider in self._providers:
            return (Target(provider, model),)
        exact = self._exact.get(name)
        if exact is not None:
            return exact
        declared = self._declared.get(name)
        if declared is not None:
            if len(declared) > 1:
                choices = ", ".join(str(t) for t in declared)
                raise GatewayError(
                    ErrorKind.INVALID_REQUEST,
                    f"model '{name}' is ambiguous: it is served by {choices}; name one of them",
                    param="model",
                )
            return (declared[0],)
        for regex, targets in self._patterns:
            if regex.match(name):
                return targets
        raise GatewayError(
            ErrorKind.NOT_FOUND,
            f"model '{name}' is not known: use '<provider>/<model>' with a configured provider, "
            "an alias, or a model a provider declares",
            param="model",
        )

    def listed(self) -> list[str]:
        """Model ids to advertise: aliases (without wildcards) and declared provider/model pairs."""
        names = list(self._exact)
        for targets in self._declared.values():
            names.extend(str(t) for t in targets)
        return list(dict.fromkeys(names))
