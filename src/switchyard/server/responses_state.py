"""Stored Responses: ``store``, ``previous_response_id``, retrieve, delete and input items.

- ``store`` defaults to true, as in OpenAI's API. A stored response is written once, when it has
  ended (completed, incomplete or failed; a stream the client abandoned is stored as incomplete
  with the output finished so far), in one atomic put — never half-written. ``store: false``
  stores nothing, and such a response cannot be continued (404, as OpenAI answers).
- ``previous_response_id`` is resolved by the gateway whatever the upstream protocol: the stored
  lineage (each ancestor's input and output items, function calls with their outputs and
  reasoning items included) is replayed in front of the request's own input, and the field is
  not sent upstream. ``instructions`` are not inherited, as in OpenAI's API.
- ``item_reference`` input items (``{"type": "item_reference", "id": "msg_..."}``, as the Vercel
  AI SDK sends earlier output items when ``store`` is on) are resolved by the gateway from the
  store, whatever the upstream protocol, before anything else: the stored item takes the
  reference's place. An unknown id is a 404 naming the item.
- Stored responses belong to the caller that stored them (its gateway key, or the credential it
  presented when client auth is off: :func:`switchyard.server.auth.caller`): retrieve, delete,
  input items, ``previous_response_id`` and ``item_reference`` find only the caller's own, and
  another caller's id is "not found", as an unknown one is.
- Responses the gateway translated get a gateway-made id (``resp_`` + the request id), unique per
  request; same-protocol responses keep the upstream's id.
- ``background`` and ``conversation`` are not implemented: a clear 400 names the field.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson

from ..core.errors import ErrorKind, GatewayError, RequestError
from ..core.sse import SSEDecoder
from ..store import ResponseStore, StoredResponse, effective_input, input_as_items
from ..store.base import with_item_ids
from .context import Exchange

UNSUPPORTED = ("background", "conversation")
ECHOED = (
    "tools", "tool_choice", "text", "reasoning", "temperature", "top_p", "max_output_tokens",
    "parallel_tool_calls", "incomplete_details", "error", "truncation", "service_tier", "user",
)  # fmt: skip
TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})


def not_found(response_id: str, what: str = "Response") -> GatewayError:
    return GatewayError(ErrorKind.NOT_FOUND, f"{what} with id '{response_id}' not found.")


class ResponsesState:
    def __init__(self, store: ResponseStore) -> None:
        self.store = store

    async def prepare(self, ctx: Exchange) -> None:
        """Before routing: refuse what is not implemented, expand ``previous_response_id``."""
        body = ctx.body or {}
        for name in UNSUPPORTED:
            if body.get(name) not in (None, False):
                raise RequestError(f"'{name}' is not supported by this gateway", param=name)
        ctx.store_response = body.get("store") is not False
        ctx.response_id = "resp_" + ctx.id.removeprefix("req_")
        items = body.get("input")
        if isinstance(items, list) and any(_reference(item) for item in items):
            body = {**body, "input": await self._resolve(items, ctx.caller)}
            ctx.body, ctx.raw = body, orjson.dumps(body)
        previous = body.get("previous_response_id")
        if previous is None:
            return
        if not isinstance(previous, str) or not previous:
            raise RequestError("'previous_response_id' must be a response id", param="previous_response_id")
        chain = await self.store.lineage(previous)
        if not chain or chain[-1].id != previous or chain[-1].caller != ctx.caller:
            err = not_found(previous, "Previous response")
            err.param = "previous_response_id"
            raise err
        history = [*effective_input(chain), *chain[-1].output]
        expanded = {k: v for k, v in body.items() if k != "previous_response_id"}
        expanded["input"] = history + input_as_items(body.get("input"))
        ctx.body, ctx.raw = expanded, orjson.dumps(expanded)
        ctx.previous_response_id = previous
        ctx.own_input = input_as_items(body.get("input"))

    async def _resolve(self, items: list[Any], caller: str) -> list[Any]:
        """``items`` with each ``item_reference`` replaced by the caller's stored item it names."""
        out = []
        for i, item in enumerate(items):
            if _reference(item):
                ref = item.get("id")
                if not isinstance(ref, str) or not ref:
                    raise RequestError(f"field 'input[{i}].id' must be an item id", param=f"input[{i}].id")
                found = await self.store.find_item(ref)
                if found is None or found[0].caller != caller:
                    err = not_found(ref, "Item")
                    err.param = f"input[{i}]"
                    raise err
                item = found[1]
            out.append(item)
        return out

    async def save(self, ctx: Exchange, response: dict[str, Any] | None) -> None:
        """After the answer ended: store it (once) unless the client said ``store: false``."""
        if not ctx.store_response or ctx.target is None:
            return
        if response is None:  # the client went away, or the upstream failed mid-stream
            response = {"id": ctx.stream_response_id or ctx.response_id, "status": "incomplete", "output": []}
        body = ctx.body or {}
        own_input = ctx.own_input if ctx.own_input is not None else input_as_items(body.get("input"))
        record = StoredResponse(
            id=str(response.get("id") or ctx.response_id),
            created_at=float(response.get("created_at") or time.time()),
            model=ctx.model,
            served_model=str(response.get("model") or ctx.target.model),
            status=str(response.get("status") or "completed"),
            input_items=own_input,
            instructions=body.get("instructions"),
            output=list(response.get("output") or []),
            usage=response.get("usage"),
            metadata=body.get("metadata"),
            previous_response_id=ctx.previous_response_id,
            caller=ctx.caller,
            extra={k: response[k] for k in ECHOED if k in response},
        )
        await asyncio.shield(self.store.put(with_item_ids(record)))

    async def _own(self, response_id: str, caller: str) -> StoredResponse | None:
        """The stored response if ``caller`` stored it."""
        record = await self.store.get(response_id)
        return record if record is not None and record.caller == caller else None

    async def retrieve(self, response_id: str, caller: str) -> dict[str, Any]:
        record = await self._own(response_id, caller)
        if record is None:
            raise not_found(response_id)
        return as_response(record)

    async def delete(self, response_id: str, caller: str) -> dict[str, Any]:
        if await self._own(response_id, caller) is None or not await self.store.delete(response_id):
            raise not_found(response_id)
        return {"id": response_id, "object": "response.deleted", "deleted": True}

    async def input_items(self, response_id: str, caller: str, query: dict[str, str]) -> dict[str, Any]:
        try:
            limit = int(query.get("limit", "20"))
        except ValueError:
            raise RequestError("'limit' must be an integer", param="limit") from None
        order = query.get("order", "desc")
        if not 1 <= limit <= 100:
            raise RequestError("'limit' must be between 1 and 100", param="limit")
        if order not in ("asc", "desc"):
            raise RequestError("'order' must be asc or desc", param="order")
        if await self._own(response_id, caller) is None:
            raise not_found(response_id)
        page = await self.store.input_items(response_id, limit=limit, order=order, after=query.get("after"))  # type: ignore[arg-type]
        if page is None:
            raise not_found(response_id)
        return page.to_dict()


def _reference(item: Any) -> bool:
    return isinstance(item, dict) and item.get("type") == "item_reference"


def as_response(record: StoredResponse) -> dict[str, Any]:
    """A stored record as the Responses object ``GET /v1/responses/{id}`` returns."""
    return {
        "id": record.id,
        "object": "response",
        "created_at": int(record.created_at),
        "status": record.status,
        "error": None,
        "incomplete_details": None,
        "instructions": record.instructions,
        "model": record.served_model or record.model,
        "output": record.output,
        "previous_response_id": record.previous_response_id,
        "store": True,
        "usage": record.usage,
        "metadata": record.metadata or {},
        **record.extra,
    }


class TerminalCapture:
    """Finds the final Response in a relayed Responses stream (same-protocol fast path)."""

    __slots__ = ("created_id", "decoder", "response")

    def __init__(self) -> None:
        self.decoder = SSEDecoder()
        self.response: dict[str, Any] | None = None
        self.created_id: str | None = None

    def feed(self, chunk: bytes) -> None:
        for frame in self.decoder.feed(chunk):
            if not frame.data or (
                frame.event is not None and frame.event not in TERMINAL and frame.event != "response.created"
            ):
                continue
            try:
                data = orjson.loads(frame.data)
            except orjson.JSONDecodeError:
                continue
            kind = data.get("type") if isinstance(data, dict) else None
            response = data.get("response") if isinstance(data, dict) else None
            if not isinstance(response, dict):
                continue
            if kind in TERMINAL:
                self.response = response
            elif kind == "response.created":
                self.created_id = response.get("id")
