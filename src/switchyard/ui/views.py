"""The dashboard's HTML, rendered on the server from plain Python (every value escaped).

Pages share :func:`layout` (navigation, the CSRF token for scripts, the stylesheet). The only
scripts are the package's own ``app.js`` and the vendored uPlot; no inline script or style, so the
Content-Security-Policy can allow ``'self'`` only.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import orjson

from ..core.errors import ErrorKind
from ..governance.model import WINDOWS
from .queries import RANGES
from .translate import CLIENT_PROTOCOLS

NAV = (
    ("overview", "Overview"),
    ("requests", "Requests"),
    ("keys", "Upstream keys"),
    ("client-keys", "Client keys"),
    ("translate", "Translate"),
    ("usage", "Usage"),
    ("config", "Config"),
)
USAGE_BY = ("model", "provider", "key", "client", "team", "day")
ERROR_CLASSES = (*(v for k, v in vars(ErrorKind).items() if k.isupper()), "client_gone")


def e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def usd(value: float | None) -> str:
    return "-" if value is None else f"${value:,.4f}"


def pretty(value: Any) -> str:
    return e(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def csrf_field(csrf: str) -> str:
    return f'<input type="hidden" name="csrf" value="{e(csrf)}">'


def action(url: str, label: str, csrf: str, fields: dict[str, str] | None = None, cls: str = "") -> str:
    """A one-button POST form (a state-changing action, with its CSRF token)."""
    hidden = "".join(f'<input type="hidden" name="{e(k)}" value="{e(v)}">' for k, v in (fields or {}).items())
    return (
        f'<form method="post" action="{e(url)}" class="inline">{csrf_field(csrf)}{hidden}'
        f'<button type="submit" class="{e(cls)}">{e(label)}</button></form>'
    )


def table(headers: Iterable[str], rows: Iterable[Iterable[str]], id_: str = "", empty: str = "nothing yet") -> str:
    """A table of already-escaped cells."""
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    body = body or f'<tr><td colspan="99" class="muted">{e(empty)}</td></tr>'
    return f'<table id="{e(id_)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def options(values: Iterable[str], selected: str | None, blank: str | None = None) -> str:
    out = [f'<option value="">{e(blank)}</option>'] if blank is not None else []
    out += [f'<option value="{e(v)}"{" selected" if v == selected else ""}>{e(v)}</option>' for v in values]
    return "".join(out)


def layout(title: str, page: str, csrf: str, body: str, scripts: tuple[str, ...] = ()) -> str:
    nav = "".join(
        f'<a href="/ui/{name}"{" class=current" if name == page else ""}>{e(label)}</a>' for name, label in NAV
    )
    tags = "".join(f'<script src="/ui/static/{e(s)}"></script>' for s in scripts)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)} · Switchyard</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="csrf" content="{e(csrf)}">
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/static/uPlot.min.css"><link rel="stylesheet" href="/ui/static/app.css">
</head><body data-page="{e(page)}">
<header><strong>Switchyard</strong><nav>{nav}</nav>{action("/ui/logout", "Sign out", csrf, cls="link")}</header>
<main><h1>{e(title)}</h1>{body}</main>{tags}</body></html>"""


def login(error: str | None = None) -> str:
    message = f'<p class="error" id="login-error">{e(error)}</p>' if error else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · Switchyard</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="/ui/static/app.css"></head><body class="login">
<main><h1>Switchyard</h1>{message}
<form method="post" action="/ui/login"><label>Admin key <input type="password" name="key" id="key"
autocomplete="off" required autofocus></label><button type="submit">Sign in</button></form></main></body></html>"""


def ranges(base: str, current: str, extra: dict[str, str] | None = None) -> str:
    links = "".join(
        f'<a href="{e(base)}?{e(urlencode({**(extra or {}), "range": r}))}"'
        f"{' class=current' if r == current else ''}>{e(r)}</a>"
        for r in RANGES
    )
    return f'<nav class="ranges">{links}</nav>'


def overview(csrf: str, range_name: str) -> str:
    cards = "".join(
        f'<div class="card"><span>{e(label)}</span><b id="total-{e(name)}">…</b></div>'
        for name, label in (
            ("requests", "Requests"),
            ("rps", "Requests/s"),
            ("error_rate", "Error rate"),
            ("p50", "p50 latency"),
            ("p95", "p95 latency"),
            ("ttfb_p95", "p95 TTFB"),
            ("tokens", "Tokens"),
            ("cost", "Cost"),
        )
    )
    charts = "".join(
        f'<section class="chart"><h2>{e(label)}</h2><div id="chart-{e(name)}"></div></section>'
        for name, label in (
            ("rps", "Requests/s"),
            ("errors", "Error rate"),
            ("latency", "Latency (ms)"),
            ("ttfb", "Time to first byte (ms)"),
            ("tokens", "Tokens"),
            ("cost", "Cost (USD)"),
        )
    )
    tops = "".join(
        f'<section><h2>Top {e(label)}s</h2><table id="top-{e(name)}"><thead><tr><th>{e(label.capitalize())}</th>'
        f"<th>Requests</th><th>Errors</th><th>Cost</th></tr></thead><tbody></tbody></table></section>"
        for name, label in (("model", "model"), ("provider", "provider"), ("client", "client key"))
    )
    body = (
        f'{ranges("/ui/overview", range_name)}<div id="overview" data-range="{e(range_name)}">'
        f'<div class="cards">{cards}</div><p class="muted" id="updated"></p><div class="charts">{charts}</div>'
        f'<div class="tops">{tops}</div></div>'
    )
    return layout("Overview", "overview", csrf, body, ("uPlot.iife.min.js", "app.js"))


def requests_log(csrf: str, page: dict[str, Any], filters: dict[str, str], values: dict[str, list[str]]) -> str:
    f = filters
    form = f"""<form method="get" action="/ui/requests" class="filters" id="filters">
<label>Range <select name="range">{options(RANGES, f.get("range") or "24h")}</select></label>
<label>Status <select name="status">{options(("ok", "error", "400", "401", "403", "404", "429", "500", "502", "503"), f.get("status"), "any")}</select></label>
<label>Model <select name="model">{options(values.get("model", []), f.get("model"), "any")}</select></label>
<label>Provider <select name="provider">{options(values.get("provider", []), f.get("provider"), "any")}</select></label>
<label>Client key id <input name="client_key" value="{e(f.get("client_key"))}" size="14"></label>
<label>Error <select name="error">{options(ERROR_CLASSES, f.get("error"), "any")}</select></label>
<button type="submit">Filter</button></form>"""
    rows = [
        (
            f'<a href="/ui/requests/{e(r["request_id"])}">{e(when(r["ts"]))}</a>',
            e(r["client_protocol"]),
            e(r["model_requested"]),
            e(f"{r['provider'] or '-'}/{r['model_served'] or '-'}"),
            f'<span class="status s{e(str(r["status"])[0])}">{e(r["status"])}</span>',
            e(r["error"] or ""),
            e(r["attempts"]),
            num((r["input_tokens"] or 0) + (r["cache_read_tokens"] or 0) + (r["cache_write_tokens"] or 0)),
            num(r["output_tokens"]),
            usd(r["cost"]),
            num(r["latency_ms"]),
            e(r["client_key_name"] or ""),
        )
        for r in page["data"]
    ]
    more = ""
    if page["next"] is not None:
        query = urlencode({**{k: v for k, v in f.items() if v and k != "before"}, "before": repr(page["next"])})
        more = f'<p><a id="older" href="/ui/requests?{e(query)}">Older →</a></p>'
    headers = ("Time (UTC)", "Protocol", "Model", "Served by", "Status", "Error", "Attempts", "In", "Out", "Cost")
    body = form + table((*headers, "Latency ms", "Client key"), rows, "requests", "no requests match") + more
    return layout("Requests", "requests", csrf, body)


TRACE_COLUMNS = (
    ("client", "What the client sent"),
    ("upstream_request", "What the upstream received"),
    ("upstream_response", "What came back"),
    ("client_response", "What the client got"),
)
_TRACE_COLUMN = {
    "client_request": "client",
    "neutral_request": "upstream_request",
    "upstream_request": "upstream_request",
    "upstream_response": "upstream_response",
    "upstream_frame": "upstream_response",
    "client_response": "client_response",
    "client_frame": "client_response",
}


def traced_data(data: Any) -> str:
    """A trace entry's data, escaped: JSON (also JSON text) indented, anything else (SSE frames) as is."""
    if isinstance(data, str):
        try:
            data = orjson.loads(data)
        except orjson.JSONDecodeError:
            return e(data)
    return pretty(data)


def request_page(csrf: str, row: dict[str, Any], attempts: list[dict[str, Any]], trace: list[dict[str, Any]]) -> str:
    facts = (
        ("Request id", row["request_id"]),
        ("Time (UTC)", when(row["ts"])),
        ("Client protocol", row["client_protocol"]),
        ("Model requested", row["model_requested"]),
        ("Served by", f"{row['provider'] or '-'}/{row['model_served'] or '-'}"),
        ("Status", row["status"]),
        ("Error", row["error"] or "-"),
        ("Stream", "yes" if row["stream"] else "no"),
        ("Client key", f"{row['client_key_name']} ({row['client_key_id']})" if row["client_key_id"] else "-"),
        ("Cost", usd(row["cost"])),
    )
    summary = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in facts)
    usage = table(
        ("Input", "Cache read", "Cache write", "Output", "Reasoning"),
        [
            [
                num(row[k])
                for k in (
                    "input_tokens",
                    "cache_read_tokens",
                    "cache_write_tokens",
                    "output_tokens",
                    "reasoning_tokens",
                )
            ]
        ],
        "usage",
    )
    timings = table(
        ("TTFB ms", "Latency ms", "Gateway overhead ms"),
        [[num(row["ttfb_ms"], 1), num(row["latency_ms"], 1), num(row["overhead_ms"], 2)]],
        "timings",
    )
    tried = table(
        ("Target", "Key", "Status", "Error", "Latency ms"),
        [
            (e(a["target"]), e(a["key_id"] or "-"), e(a["status"] or "-"), e(a["error"] or "ok"), num(a["latency_ms"]))
            for a in attempts
        ],
        "attempts",
        "no attempt recorded (answered before any upstream was tried)",
    )
    columns: dict[str, list[str]] = {name: [] for name, _ in TRACE_COLUMNS}
    for entry in trace:
        stage = str(entry.get("stage", ""))
        column = _TRACE_COLUMN.get(stage, "upstream_request" if stage.startswith("adapter:") else "client_response")
        columns[column].append(f"<h3>{e(stage)}</h3><pre>{traced_data(entry.get('data'))}</pre>")
    if trace:
        cells = "".join(
            f'<div class="trace-col" id="trace-{e(name)}"><h2>{e(label)}</h2>{"".join(columns[name])}</div>'
            for name, label in TRACE_COLUMNS
        )
        traced = f'<div class="trace" id="trace">{cells}</div>'
    else:
        traced = '<p class="muted" id="trace">no trace for this request (observability.trace is off)</p>'
    body = (
        f'<table class="facts" id="summary">{summary}</table><h2>Attempts</h2>{tried}'
        f"<h2>Usage</h2>{usage}<h2>Timings</h2>{timings}<h2>Trace</h2>{traced}"
    )
    return layout(f"Request {row['request_id']}", "requests", csrf, body)


def upstream_keys(csrf: str, pools: dict[str, list[dict[str, Any]]]) -> str:
    sections = []
    for provider, keys in pools.items():
        rows = []
        for k in keys:
            fields = {"provider": provider, "key": k["key"]}
            actions = ""
            if k["status"] == "disabled":
                actions += action("/ui/keys/enable", "Re-enable", csrf, fields)
            if k["status"].startswith("cooling"):
                actions += action("/ui/keys/clear", "Clear cooldown", csrf, fields)
            cooling = ", ".join(f"{m} {s}s" for m, s in k["cooling_models_s"].items())
            rows.append(
                (
                    e(k["key"]),
                    f'<span class="state {e(k["status"].split()[0])}">{e(k["status"])}</span>',
                    e(f"{k['cooling_for_s']}s" if k["cooling_for_s"] else cooling or "-"),
                    e(k["disabled_reason"] or "-"),
                    e(k["in_flight"]),
                    e(k["served"]),
                    e(k["failures"]),
                    e(k["last_error"] or "-"),
                    actions,
                )
            )
        headers = ("Key", "State", "Cooling", "Disabled because", "In flight", "Served", "Failures", "Last error", "")
        sections.append(f"<section><h2>{e(provider)}</h2>{table(headers, rows, f'pool-{provider}')}</section>")
    return layout("Upstream keys", "keys", csrf, "".join(sections))


def key_fields(key: dict[str, Any] | None = None) -> str:
    """The inputs of the create and edit forms (an edit starts from the key's values)."""
    key = key or {}
    budget, limits = key.get("budget") or {}, key.get("limits") or {}
    models = ", ".join(key.get("models") or [])
    return (
        f'<label>Models <input name="models" value="{e(models)}" placeholder="all"></label>'
        f'<label>Budget USD <input name="budget_usd" value="{e(budget.get("usd"))}" size="8"></label>'
        f'<label>per <select name="budget_window">{options(WINDOWS, budget.get("window") or "30d")}</select></label>'
        + "".join(
            f'<label>{e(name)} <input name="{e(name)}" value="{e(limits.get(name))}" size="6"></label>'
            for name in ("rpm", "tpm", "max_parallel")
        )
    )


def client_keys(csrf: str, keys: list[dict[str, Any]], created: dict[str, Any] | None, error: str | None) -> str:
    notice = ""
    if created is not None:
        notice = (
            f'<div class="notice" id="created"><p>Key <b>{e(created["name"])}</b> created. Copy it now: it is not '
            f'shown again.</p><output id="new-key">{e(created["key"])}</output></div>'
        )
    if error:
        notice += f'<p class="error" id="form-error">{e(error)}</p>'
    create = (
        f'<form method="post" action="/ui/client-keys" class="filters" id="create-key">{csrf_field(csrf)}'
        f'<label>Name <input name="name" required></label><label>Team <input name="team" size="10"></label>'
        f'{key_fields()}<button type="submit">Create key</button></form>'
    )
    rows = []
    for k in keys:
        budget, spend = k.get("budget"), (k.get("spend") or {}).get("usd", 0.0)
        bar = "-"
        if budget:
            bar = (
                f'<progress max="{e(budget["usd"])}" value="{e(min(spend, budget["usd"]))}"></progress> '
                f"{e(usd(spend))} of {e(usd(budget['usd']))} / {e(budget['window'])}"
            )
        limits = ", ".join(f"{n} {v}" for n, v in (k.get("limits") or {}).items() if v is not None) or "-"
        state = "revoked" if k.get("revoked_at") else "active"
        manage = ""
        if state == "active" and k.get("source", "api") == "api":
            manage = (
                f'<details><summary>Edit</summary><form method="post" action="/ui/client-keys/{e(k["id"])}/edit">'
                f'{csrf_field(csrf)}{key_fields(k)}<button type="submit">Save</button></form></details>'
                + action(f"/ui/client-keys/{k['id']}/revoke", "Revoke", csrf, cls="danger")
            )
        rows.append(
            (
                e(k["name"]),
                f"<code>{e(k['id'])}</code>",
                e(k.get("key_hint")),
                e(k.get("team") or "-"),
                e(", ".join(k.get("models") or []) or "all"),
                bar,
                e(limits),
                f'<span class="state {state}">{state}</span>',
                manage,
            )
        )
    headers = ("Name", "Id", "Key", "Team", "Models", "Spend vs budget", "Limits", "State", "")
    body = (
        notice + "<h2>New key</h2>" + create + "<h2>Keys</h2>" + table(headers, rows, "client-keys", "no client keys")
    )
    return layout("Client keys", "client-keys", csrf, body)


def translate(
    csrf: str, targets: list[str], form: dict[str, str], result: dict[str, Any] | None, error: str | None
) -> str:
    inputs = (
        f'<form method="post" action="/ui/translate" id="translate-form">{csrf_field(csrf)}'
        f'<label>Client protocol <select name="protocol" id="protocol">{options(CLIENT_PROTOCOLS, form.get("protocol"))}</select></label>'
        f'<label>Target <select name="target" id="target">{options(targets, form.get("target"))}</select></label>'
        f'<label class="wide">Request body (JSON)<textarea name="body" id="body" rows="14">{e(form.get("body"))}</textarea></label>'
        f'<label><span><input type="checkbox" name="run" value="1" id="run"{" checked" if form.get("run") else ""}>'
        f" and send it (a real request, logged and priced)</span></label>"
        f'<button type="submit">Show the upstream request</button></form>'
    )
    out = f'<p class="error" id="translate-error">{e(error)}</p>' if error else ""
    if result is not None:
        how = "same protocol: forwarded with the model rewritten" if result["fast"] else "translated"
        out += (
            f'<div class="trace" id="translation"><div class="trace-col"><h2>Client request ({e(form.get("protocol"))})</h2>'
            f'<pre id="client-body">{e(form.get("body"))}</pre></div><div class="trace-col"><h2>Upstream request '
            f'({e(result["provider_protocol"])}, {e(how)})</h2><p id="upstream-target">POST <code>{e(result["path"])}</code>'
            f'</p><pre id="upstream-headers">{pretty(result["headers"])}</pre><pre id="upstream-body">'
            f"{pretty(result['body'])}</pre></div></div>"
        )
        out += f"<details><summary>Neutral request</summary><pre>{pretty(result['neutral'])}</pre></details>"
        answer = result.get("answer")
        if answer is not None:
            out += (
                f'<h2>The answer: {e(answer["status"])} (<a id="answer-request" href="/ui/requests/'
                f'{e(answer["request_id"])}">request {e(answer["request_id"])}</a>)</h2><pre id="answer">{e(answer["body"])}</pre>'
            )
    return layout("Translate", "translate", csrf, inputs + out)


def usage(csrf: str, rows: list[dict[str, Any]], range_name: str, by: str) -> str:
    form = (
        f'<form method="get" action="/ui/usage" class="filters" id="usage-form"><label>Range <select name="range">'
        f'{options(RANGES, range_name)}</select></label><label>Group by <select name="by">{options(USAGE_BY, by)}'
        f'</select></label><button type="submit">Show</button> <a id="csv" href="/ui/usage.csv?'
        f'{e(urlencode({"range": range_name, "by": by}))}">Export CSV</a></form>'
    )
    cells = [
        (
            e(r["group"]),
            num(r["requests"]),
            num(r["errors"]),
            num(r["input_tokens"]),
            num(r["cache_read_tokens"]),
            num(r["output_tokens"]),
            usd(r["cost"]),
            num(r["unpriced"]),
            num(r["avg_latency_ms"]),
        )
        for r in rows
    ]
    headers = (by, "Requests", "Errors", "Input", "Cache read", "Output", "Cost", "Unpriced", "Avg latency ms")
    return layout("Usage", "usage", csrf, form + table(headers, cells, "usage-table", "no requests in this range"))


def config(csrf: str, effective: dict[str, Any], findings: str) -> str:
    body = (
        f'<h2>switchyard check</h2><pre id="check">{e(findings)}</pre>'
        f'<h2>Effective configuration (secrets masked)</h2><pre id="effective">{pretty(effective)}</pre>'
    )
    return layout("Config", "config", csrf, body)


def message(csrf: str, title: str, text: str) -> str:
    return layout(title, "", csrf, f'<p class="error">{e(text)}</p>')
