"""The ``switchyard`` command line: ``serve``, ``check``, ``usage`` and ``keys``."""

from __future__ import annotations

import argparse
import sys
import urllib.request
from urllib.parse import urlsplit

import orjson

from . import __version__
from .config import Config, ConfigError, load_config


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="switchyard", description="Self-hosted LLM API gateway")
    parser.add_argument("--version", action="version", version=f"switchyard {__version__}")
    commands = parser.add_subparsers(dest="command")
    config_help = "YAML config file (default: $SWITCHYARD_CONFIG; without one, providers come from the environment)"

    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--config", metavar="FILE", help=config_help)
    serve.add_argument("--host", help="address to listen on (overrides server.host)")
    serve.add_argument("--port", type=int, help="port to listen on (overrides server.port)")

    check = commands.add_parser("check", help="validate a config and summarise it")
    check.add_argument("--config", metavar="FILE", help=config_help)

    usage = commands.add_parser("usage", help="totals from the usage log")
    usage.add_argument("--config", metavar="FILE", help=config_help)
    usage.add_argument("--since", help="only requests since: 24h, 7d, 30m, an ISO date or unix seconds")
    usage.add_argument("--by", choices=("model", "provider", "key", "day"), help="group the totals")
    usage.add_argument("--json", action="store_true", help="print JSON rows instead of a table")

    keys = commands.add_parser("keys", help="each upstream key's state in a running gateway")
    keys.add_argument("--config", metavar="FILE", help=config_help)
    keys.add_argument("--url", help="the gateway's base URL (default: from the config's server.host and port)")
    keys.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
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
    if args.port is not None and not 0 < args.port < 65536:
        parser.error("--port must be between 1 and 65535")
    from .server import serve

    serve(config, host=args.host, port=args.port)
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
    rows = query_usage(config.server.data_dir, since=start, by=by)  # type: ignore[arg-type]
    print(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() if as_json else format_table(rows, by))  # type: ignore[arg-type]
    return 0


def keys_command(config: Config, url: str | None, as_json: bool) -> int:
    host = "127.0.0.1" if config.server.host in ("0.0.0.0", "::") else config.server.host
    base = (url or f"http://{host}:{config.server.port}").rstrip("/")
    request = urllib.request.Request(f"{base}/admin/keys")
    if config.server.auth_keys:
        request.add_header("authorization", f"Bearer {config.server.auth_keys[0]}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            pools = orjson.loads(response.read())
    except (OSError, ValueError) as exc:
        print(f"switchyard: cannot read key states from {base}: {exc}", file=sys.stderr)
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
    return 0


def _public_url(url: str) -> str:
    """A base URL without user info or query (where a secret could hide)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


if __name__ == "__main__":
    sys.exit(main())
