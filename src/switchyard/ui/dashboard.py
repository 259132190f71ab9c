"""The dashboard at ``/ui``: pages, JSON endpoints, sign-in and the actions, behind one handler.

The gateway hands every ``/ui`` request to :meth:`Dashboard.handle`. ``/ui/static/*`` (the
package's own assets) and the sign-in form are public; everything else needs a session, else a
page redirects to the sign-in form and a JSON endpoint (``/ui/api/*``, the CSV export) or an
action answers 401. Every POST but the sign-in must carry the session's CSRF token (a ``csrf``
form field or an ``x-csrf-token`` header), else 403. Only an admin key (``server.admin_keys``)
signs in. The usage log is read where the gateway writes it (:func:`.usage_reader.open_reader`).
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote

import orjson

from ..core.errors import GatewayError
from ..providers import mask_key
from ..server.http import JSON, Conn, Headers, json_object
from ..store import KVStore
from . import queries, views
from .sessions import Session, SessionStore, cookie_header, cookie_token
from .translate import dry_run, exchange, run, targets
from .usage_reader import NoLog, Unreachable, open_reader

if TYPE_CHECKING:
    from ..server.app import App

log = logging.getLogger("switchyard.ui")

PREFIX = "/ui"
HTML = b"text/html; charset=utf-8"
STATIC_TYPES = {".js": b"text/javascript; charset=utf-8", ".css": b"text/css; charset=utf-8"}
SECURITY_HEADERS: Headers = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


@dataclass(slots=True)
class Answer:
    status: int = 200
    body: bytes = b""
    content_type: bytes = HTML
    headers: Headers = field(default_factory=list)


@dataclass(slots=True)
class Call:
    """One dashboard request, read."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    raw: bytes
    session: Session


def html(text: str, status: int = 200) -> Answer:
    return Answer(status, text.encode())


def json(payload: Any, status: int = 200) -> Answer:
    return Answer(status, orjson.dumps(payload), JSON)


def redirect(location: str, headers: Headers | None = None) -> Answer:
    return Answer(303, b"", HTML, [(b"location", location.encode()), *(headers or [])])


Handler = Callable[["Dashboard", Call], Awaitable[Answer]]
PAGES: dict[tuple[str, str], Handler] = {}
"""(method, path under /ui) -> handler; a trailing ``/*`` takes the rest of the path as an argument."""


def route(method: str, path: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        PAGES[(method, path)] = handler
        return handler

    return register


def find(method: str, path: str) -> tuple[Handler | None, str]:
    handler = PAGES.get((method, path))
    if handler is not None:
        return handler, ""
    head, _, rest = path.rpartition("/")
    handler = PAGES.get((method, head + "/*"))
    if handler is not None and rest:
        return handler, rest
    base, _, ident = head.rpartition("/")  # /client-keys/{id}/edit
    handler = PAGES.get((method, f"{base}/*/{rest}"))
    return (handler, ident) if handler is not None and ident else (None, "")


class Dashboard:
    def __init__(self, app: App) -> None:
        self.app = app
        self.sessions = SessionStore(self._kv)
        self.usage = open_reader(app.config)

    def _kv(self) -> KVStore:
        if self.app.stores is None:
            raise RuntimeError("the state store is not open")
        return self.app.stores.kv

    async def handle(self, conn: Conn) -> None:
        try:
            answer = await self.answer(conn)
        except Exception:
            log.exception("dashboard: %s %s failed", conn.method, conn.path)
            answer = html("<p>the dashboard failed on this request; see the gateway's log</p>", 500)
        await conn.respond(answer.status, SECURITY_HEADERS + answer.headers, answer.body, answer.content_type)

    async def answer(self, conn: Conn) -> Answer:
        method, path = conn.method, conn.path.removeprefix(PREFIX) or "/"
        if method == "GET" and path.startswith("/static/"):
            return static(path.removeprefix("/static/"))
        if path == "/login":
            return await self.login(conn) if method == "POST" else html(views.login())
        session = await self.sessions.get(cookie_token(conn.header(b"cookie")))
        api = path.startswith("/api/") or path.endswith(".csv") or method != "GET"
        if session is None:
            return json({"error": "sign in to the dashboard first"}, 401) if api else redirect("/ui/login")
        handler, arg = find(method, path)
        if handler is None:
            return json({"error": f"no such dashboard endpoint: {method} {path}"}, 404)
        raw = await conn.body(self.app.max_body) if method == "POST" else b""
        form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)) if _is_form(conn) else {}
        if method == "POST" and not session.csrf_ok(form.get("csrf") or _text(conn.header(b"x-csrf-token"))):
            return json({"error": "missing or wrong CSRF token"}, 403)
        query = dict(parse_qsl(conn.query_string.decode("latin-1")))
        call = Call(method, arg, query, form, raw, session)
        try:
            return await handler(self, call)
        except (ValueError, NoLog, Unreachable) as exc:
            text = f"the usage log is not there yet ({exc})" if isinstance(exc, NoLog) else str(exc)
            status = 503 if isinstance(exc, Unreachable) else 400
            if api:
                return json({"error": text}, status)
            return html(views.message(session.csrf, "Not available", text), status)

    async def login(self, conn: Conn) -> Answer:
        form = dict(parse_qsl((await conn.body(64 * 1024)).decode("utf-8", "replace")))
        key = form.get("key", "").strip().encode()
        try:
            principal = await self.app.auth.identify([(b"authorization", b"Bearer " + key)])
        except GatewayError:
            principal = None
        if principal is None or principal.kind != "admin":
            return html(views.login("that is not an admin key (server.admin_keys)"), 401)
        session = await self.sessions.create()
        return redirect("/ui/overview", [(b"set-cookie", cookie_header(session, conn.secure))])

    async def read(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        return await fn(self.usage, *args)

    async def close(self) -> None:
        await self.usage.close()

    # ------------------------------------------------------------------ pages and their JSON

    @route("GET", "/")
    async def home(self, call: Call) -> Answer:
        return redirect("/ui/overview")

    @route("POST", "/logout")
    async def logout(self, call: Call) -> Answer:
        await self.sessions.end(call.session.token)
        return redirect("/ui/login", [(b"set-cookie", cookie_header(None, False))])

    @route("GET", "/overview")
    async def overview_page(self, call: Call) -> Answer:
        range_name = call.query.get("range", "1h")
        queries.window(range_name)  # an unknown range is refused here too
        return html(views.overview(call.session.csrf, range_name))

    @route("GET", "/api/overview")
    async def overview_json(self, call: Call) -> Answer:
        return json(await self.read(queries.overview, call.query.get("range", "1h")))

    @route("GET", "/requests")
    async def requests_page(self, call: Call) -> Answer:
        page = await self.read(queries.requests_page, call.query)
        values = await self.read(queries.filter_values, call.query.get("range") or "24h")
        return html(views.requests_log(call.session.csrf, page, call.query, values))

    @route("GET", "/api/requests")
    async def requests_json(self, call: Call) -> Answer:
        return json(await self.read(queries.requests_page, call.query))

    async def request_detail(self, request_id: str) -> dict[str, Any] | None:
        row = await self.read(queries.request_row, request_id)
        if row is None:
            return None
        attempts = orjson.loads(row.pop("attempt_log") or "[]")
        return {"request": row, "attempts": attempts, "trace": await self.trace(request_id)}

    async def trace(self, request_id: str) -> list[dict[str, Any]]:
        tracer = self.app.tracer
        if tracer.enabled:
            await tracer.flush()
        path = tracer.path_for(request_id)
        if not path.exists():
            return []
        lines = await asyncio.to_thread(path.read_bytes)
        return [orjson.loads(line) for line in lines.splitlines() if line.strip()]

    @route("GET", "/requests/*")
    async def request_page(self, call: Call) -> Answer:
        detail = await self.request_detail(call.path)
        if detail is None:
            return html(views.message(call.session.csrf, "Not found", f"no request {call.path} in the log"), 404)
        return html(views.request_page(call.session.csrf, detail["request"], detail["attempts"], detail["trace"]))

    @route("GET", "/api/requests/*")
    async def request_json(self, call: Call) -> Answer:
        detail = await self.request_detail(call.path)
        return json(detail) if detail is not None else json({"error": f"no request {call.path}"}, 404)

    def pools(self) -> dict[str, list[dict[str, Any]]]:
        return {name: pool.snapshot() for name, pool in self.app.pipeline.pools.items()}

    @route("GET", "/keys")
    async def keys_page(self, call: Call) -> Answer:
        return html(views.upstream_keys(call.session.csrf, self.pools()))

    @route("GET", "/api/keys")
    async def keys_json(self, call: Call) -> Answer:
        return json(self.pools())

    @route("POST", "/keys/enable")
    async def enable_key(self, call: Call) -> Answer:
        return self.key_action(call, "enable")

    @route("POST", "/keys/clear")
    async def clear_key(self, call: Call) -> Answer:
        return self.key_action(call, "clear_cooldown")

    def key_action(self, call: Call, name: str) -> Answer:
        pool = self.app.pipeline.pools.get(call.form.get("provider", ""))
        try:
            if pool is None:
                raise KeyError(call.form.get("provider"))
            getattr(pool, name)(call.form.get("key", ""))
        except KeyError:
            return json({"error": "no such provider or key"}, 404)
        log.info("dashboard: %s on %s key %s", name, pool.provider, call.form.get("key"))
        return redirect("/ui/keys")

    async def client_key_list(self) -> list[dict[str, Any]]:
        gov = self.app.governance
        listed = (await gov.list_keys())["data"]
        return [await gov.show_key(k["id"]) if not k["revoked_at"] else k for k in listed]

    async def client_keys_view(self, call: Call, created: dict | None = None, error: str | None = None) -> Answer:
        page = views.client_keys(call.session.csrf, await self.client_key_list(), created, error)
        return html(page, 400 if error else 200)

    @route("GET", "/client-keys")
    async def client_keys_page(self, call: Call) -> Answer:
        return await self.client_keys_view(call)

    @route("GET", "/api/client-keys")
    async def client_keys_json(self, call: Call) -> Answer:
        return json({"data": await self.client_key_list()})

    @route("POST", "/client-keys")
    async def create_client_key(self, call: Call) -> Answer:
        try:
            created = await self.app.governance.create_key(key_body(call.form, create=True))
        except (GatewayError, ValueError) as exc:
            return await self.client_keys_view(call, error=_message(exc))
        return await self.client_keys_view(call, created=created)

    @route("POST", "/client-keys/*/edit")
    async def edit_client_key(self, call: Call) -> Answer:
        try:
            await self.app.governance.update_key(call.path, key_body(call.form, create=False))
        except (GatewayError, ValueError) as exc:
            return await self.client_keys_view(call, error=_message(exc))
        return redirect("/ui/client-keys")

    @route("POST", "/client-keys/*/revoke")
    async def revoke_client_key(self, call: Call) -> Answer:
        try:
            await self.app.governance.revoke_key(call.path)
        except GatewayError as exc:
            return await self.client_keys_view(call, error=_message(exc))
        return redirect("/ui/client-keys")

    def translate_view(self, call: Call, form: dict[str, str], result: Any = None, error: str | None = None) -> Answer:
        page = views.translate(call.session.csrf, targets(self.app.pipeline), form, result, error)
        return html(page, 400 if error else 200)

    @route("GET", "/translate")
    async def translate_page(self, call: Call) -> Answer:
        return self.translate_view(call, {"protocol": "anthropic", "target": "", "body": ""})

    async def translation(self, protocol: str, raw: bytes, target: str, send: bool) -> dict[str, Any]:
        """The dry run, and with ``send`` the real request's answer too (``answer``)."""
        result = await dry_run(self.app.pipeline, exchange(protocol, raw, target))
        if send:
            result["answer"] = await run(self.app, exchange(protocol, raw, target))
        return result

    @route("POST", "/translate")
    async def translate_form(self, call: Call) -> Answer:
        form = call.form
        try:
            result = await self.translation(
                form.get("protocol", ""), form.get("body", "").encode(), form.get("target", ""), bool(form.get("run"))
            )
        except GatewayError as exc:
            return self.translate_view(call, form, error=_message(exc))
        return self.translate_view(call, form, result)

    @route("POST", "/api/translate")
    async def translate_json(self, call: Call) -> Answer:
        try:
            ask = json_object(call.raw or b"{}")
            result = await self.translation(
                str(ask.get("protocol")), orjson.dumps(ask.get("body")), str(ask.get("target")), ask.get("run") is True
            )
        except GatewayError as exc:
            return json({"error": _message(exc)}, exc.status)
        return json(result)

    @route("GET", "/usage")
    async def usage_page(self, call: Call) -> Answer:
        range_name, by = call.query.get("range", "24h"), call.query.get("by", "model")
        rows = await self.read(queries.usage, range_name, by)
        return html(views.usage(call.session.csrf, rows, range_name, by))

    @route("GET", "/api/usage")
    async def usage_json(self, call: Call) -> Answer:
        return json(await self.read(queries.usage, call.query.get("range", "24h"), call.query.get("by", "model")))

    @route("GET", "/usage.csv")
    async def usage_csv(self, call: Call) -> Answer:
        range_name, by = call.query.get("range", "24h"), call.query.get("by", "model")
        rows = await self.read(queries.usage, range_name, by)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=queries.USAGE_KEYS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        disposition = f'attachment; filename="switchyard-usage-{quote(by)}-{quote(range_name)}.csv"'
        return Answer(
            200, out.getvalue().encode(), b"text/csv; charset=utf-8", [(b"content-disposition", disposition.encode())]
        )

    @route("GET", "/config")
    async def config_page(self, call: Call) -> Answer:
        from ..cli import summary

        return html(views.config(call.session.csrf, effective_config(self.app), summary(self.app.config)))

    @route("GET", "/api/config")
    async def config_json(self, call: Call) -> Answer:
        return json(effective_config(self.app))


def effective_config(app: App) -> dict[str, Any]:
    """The running configuration as JSON, every key and secret masked."""
    from ..observability.redact import redact

    config = app.config
    value = orjson.loads(orjson.dumps(dataclasses.asdict(config), default=str))
    server = value["server"]
    server["auth_keys"] = [mask_key(k) for k in config.server.auth_keys]
    server["admin_keys"] = [mask_key(k) for k in config.server.admin_keys]
    server["key_specs"] = {mask_key(k): spec for k, spec in config.server.key_specs.items()}
    for name, provider in config.providers.items():
        value["providers"][name]["api_keys"] = [mask_key(k) for k in provider.api_keys]
    secrets = [k for p in config.providers.values() for k in p.api_keys]
    return redact(value, secrets + config.server.auth_keys + config.server.admin_keys)


def key_body(form: dict[str, str], *, create: bool) -> dict[str, Any]:
    """An admin API body from the client-key form (ValueError for a number that is not one)."""
    body: dict[str, Any] = {}
    if create:
        body["name"] = form.get("name", "").strip()
        if form.get("team", "").strip():
            body["team"] = form["team"].strip()
    models = [m.strip() for m in form.get("models", "").split(",") if m.strip()]
    usd = form.get("budget_usd", "").strip()
    limits = {n: int(form[n]) for n in ("rpm", "tpm", "max_parallel") if form.get(n, "").strip()}
    fields = {
        "models": models or None,
        "budget": {"usd": float(usd), "window": form.get("budget_window") or "30d"} if usd else None,
        "limits": limits or None,
    }
    body |= {k: v for k, v in fields.items() if v is not None or not create}  # an edit clears what is emptied
    return body


def static(name: str) -> Answer:
    if "/" in name or name.startswith(".") or Path(name).suffix not in STATIC_TYPES:
        return json({"error": "no such asset"}, 404)
    asset = resources.files("switchyard.ui").joinpath("static", name)
    if not asset.is_file():
        return json({"error": "no such asset"}, 404)
    return Answer(200, asset.read_bytes(), STATIC_TYPES[Path(name).suffix])


def _is_form(conn: Conn) -> bool:
    return (conn.header(b"content-type") or b"").startswith(b"application/x-www-form-urlencoded")


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None


def _message(exc: Exception) -> str:
    return exc.message if isinstance(exc, GatewayError) else str(exc)
