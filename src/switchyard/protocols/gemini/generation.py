"""Gemini ``generationConfig`` <-> core generation settings.

- ``temperature``, ``topP``, ``topK``, ``maxOutputTokens``, ``stopSequences`` <-> the core fields.
- ``responseMimeType: application/json`` + ``responseJsonSchema`` (JSON Schema) or
  ``responseSchema`` (OpenAPI subset) <-> ``response_format`` ``json_schema`` named ``response``;
  both schemas are converted to plain JSON Schema (lower-case types, ``nullable`` folded: Gemini
  takes upper-case types in ``responseJsonSchema`` too, and the Gemini CLI sends them). JSON
  without a schema <-> ``json_object``. Other MIME types (``text/x.enum``) are native_only.
- ``thinkingConfig`` <-> Reasoning: ``thinkingBudget`` N > 0 -> ``budget_tokens``, 0 -> disabled,
  -1 (dynamic) -> ``adaptive``; ``thinkingLevel`` -> ``effort`` (lower-cased); ``includeThoughts``
  -> ``include_thoughts``. Builds from other protocols send ``thinkingLevel`` when an effort is
  known (``xhigh``/``max`` -> ``high``, ``none`` -> budget 0), else the budget; Gemini rejects
  both at once. (Gemini 2.5 models accept only ``thinkingBudget``: mapping an effort to a budget
  for them is an adapter's job.)
- Everything else (``seed``, ``presencePenalty``, ``frequencyPenalty``, ``responseModalities``,
  ``speechConfig``, ...) stays in ``Request.extensions["_generationConfig_extra"]`` for
  same-protocol builds; ``candidateCount`` > 1, non-text ``responseModalities``,
  ``responseLogprobs``, ``speechConfig`` and ``imageConfig`` change the kind of answer and are
  native_only.

Same-protocol builds send the original ``thinkingConfig`` / response-format fields back verbatim
when the core values still say the same thing (so ``"HIGH"`` stays upper-case).
"""

from __future__ import annotations

from typing import Any

from ...core.errors import RequestError
from ...core.model import Reasoning, Request
from .tools import openapi_to_json_schema
from .wire import as_object, normalized

_SCALARS = (
    ("temperature", "temperature", (int, float)),
    ("topP", "top_p", (int, float)),
    ("topK", "top_k", int),
    ("maxOutputTokens", "max_tokens", int),
)
_FORMAT_KEYS = ("responseMimeType", "responseSchema", "responseJsonSchema")
_THINKING_KEYS = ("includeThoughts", "thinkingBudget", "thinkingLevel")
_EFFORT_LEVEL = {"xhigh": "high", "max": "high"}


def parse_generation_config(raw: Any, req: Request) -> None:
    gc = as_object(raw, "generationConfig")
    req.extensions["_generationConfig"] = True
    extra: dict[str, Any] = {}
    for key, value in gc.items():
        if key in _FORMAT_KEYS or key in ("stopSequences", "thinkingConfig") or any(key == k for k, _, _ in _SCALARS):
            continue
        extra[key] = value
    for wire, attr, kind in _SCALARS:
        value = gc.get(wire)
        if value is not None:
            if not isinstance(value, kind) or isinstance(value, bool):
                raise RequestError(
                    f"field 'generationConfig.{wire}' has the wrong type", param=f"generationConfig.{wire}"
                )
            setattr(req, attr, value)
    stop = gc.get("stopSequences")
    if stop is not None:
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            raise RequestError(
                "field 'generationConfig.stopSequences' must be an array of strings",
                param="generationConfig.stopSequences",
            )
        req.stop = list(stop)
    _parse_response_format(gc, req)
    if gc.get("thinkingConfig") is not None:
        req.reasoning = _parse_thinking(as_object(gc["thinkingConfig"], "generationConfig.thinkingConfig"))
        req.reasoning.extensions["_raw"] = gc["thinkingConfig"]  # original spelling (the Python SDK sends snake_case)
    _mark_native(extra, req)
    if extra:
        req.extensions["_generationConfig_extra"] = extra


def _mark_native(extra: dict[str, Any], req: Request) -> None:
    count = extra.get("candidateCount")
    if isinstance(count, int) and count > 1:
        req.native_only.append("generationConfig.candidateCount")
    modalities = extra.get("responseModalities")
    if isinstance(modalities, list) and any(str(m).upper() != "TEXT" for m in modalities):
        req.native_only.append("generationConfig.responseModalities")
    if extra.get("responseLogprobs") is True:
        req.native_only.append("generationConfig.responseLogprobs")
    for key in ("speechConfig", "imageConfig"):
        if extra.get(key) is not None:
            req.native_only.append(f"generationConfig.{key}")


def _parse_response_format(gc: dict[str, Any], req: Request) -> None:
    raw = {k: gc[k] for k in _FORMAT_KEYS if k in gc}
    if not raw:
        return
    mime = raw.get("responseMimeType")
    if mime is not None and not isinstance(mime, str):
        raise RequestError(
            "field 'generationConfig.responseMimeType' must be a string", param="generationConfig.responseMimeType"
        )
    for key in ("responseSchema", "responseJsonSchema"):
        if raw.get(key) is not None and not isinstance(raw[key], dict | bool):
            raise RequestError(f"field 'generationConfig.{key}' must be an object", param=f"generationConfig.{key}")
    req.response_format = _format_from(raw)
    if mime not in (None, "text/plain", "application/json"):
        req.native_only.append("generationConfig.responseMimeType")
    req.extensions["_response_format"] = raw


def _format_from(raw: dict[str, Any]) -> dict[str, Any] | None:
    mime = raw.get("responseMimeType")
    schema = raw.get("responseJsonSchema")
    if schema is None:
        schema = raw.get("responseSchema")
    if mime != "application/json" and schema is None:
        return None
    if schema is None:
        return {"type": "json_object"}
    # Gemini accepts OpenAPI spellings (``"OBJECT"``, ``nullable``) in responseJsonSchema too, and
    # the Gemini CLI sends them there: other protocols need plain JSON Schema, and a name.
    return {"type": "json_schema", "name": "response", "schema": openapi_to_json_schema(schema)}


def _parse_thinking(tc: dict[str, Any]) -> Reasoning:
    budget = tc.get("thinkingBudget")
    level = tc.get("thinkingLevel")
    include = tc.get("includeThoughts")
    if budget is not None and (not isinstance(budget, int) or isinstance(budget, bool)):
        raise RequestError(
            "field 'generationConfig.thinkingConfig.thinkingBudget' must be an integer",
            param="generationConfig.thinkingConfig.thinkingBudget",
        )
    if level is not None and not isinstance(level, str):
        raise RequestError(
            "field 'generationConfig.thinkingConfig.thinkingLevel' must be a string",
            param="generationConfig.thinkingConfig.thinkingLevel",
        )
    if include is not None and not isinstance(include, bool):
        raise RequestError(
            "field 'generationConfig.thinkingConfig.includeThoughts' must be a boolean",
            param="generationConfig.thinkingConfig.includeThoughts",
        )
    r = Reasoning(include_thoughts=include)
    if level is not None:
        r.effort = level.lower()
    if budget == 0:
        r.enabled = False
    elif budget is not None and budget < 0:
        r.adaptive = True
    elif budget is not None:
        r.budget_tokens = budget
    return r


def _reasoning_key(r: Reasoning) -> tuple[Any, ...]:
    return (r.enabled, r.effort, r.budget_tokens, r.adaptive, r.include_thoughts)


def build_generation_config(req: Request, same: bool) -> dict[str, Any] | None:
    gc: dict[str, Any] = dict(req.extensions.get("_generationConfig_extra") or {}) if same else {}
    for wire, attr, _ in _SCALARS:
        value = getattr(req, attr)
        if value is not None:
            gc[wire] = value
    if req.stop:
        gc["stopSequences"] = list(req.stop)
    gc.update(_build_response_format(req, same))
    if req.reasoning is not None:
        thinking = _build_thinking(req.reasoning, same)
        if thinking:
            gc["thinkingConfig"] = thinking
    if gc or (same and req.extensions.get("_generationConfig")):
        return gc
    return None


def _build_response_format(req: Request, same: bool) -> dict[str, Any]:
    raw = req.extensions.get("_response_format") if same else None
    if raw is not None and _format_from(raw) == req.response_format:
        return dict(raw)
    rf = req.response_format
    if not rf or rf.get("type") not in ("json_schema", "json_object"):
        return {}
    out: dict[str, Any] = {"responseMimeType": "application/json"}
    if rf.get("type") == "json_schema" and rf.get("schema") is not None:
        out["responseJsonSchema"] = rf["schema"]
    return out


def _build_thinking(r: Reasoning, same: bool) -> dict[str, Any]:
    raw = r.extensions.get("_raw") if same else None
    if isinstance(raw, dict) and _reasoning_key(_parse_thinking(normalized(raw))) == _reasoning_key(r):
        return dict(raw)
    out: dict[str, Any] = {}
    include = r.include_thoughts
    if include is None and r.summary not in (None, "none"):
        include = True
    if include is not None:
        out["includeThoughts"] = include
    if not r.enabled or r.effort == "none":
        out["thinkingBudget"] = 0
    elif r.effort:
        out["thinkingLevel"] = _EFFORT_LEVEL.get(r.effort, r.effort)
    elif r.budget_tokens is not None:
        out["thinkingBudget"] = r.budget_tokens
    elif r.adaptive:
        out["thinkingBudget"] = -1
    return out
