"""The ``switchyard`` command line: ``serve`` and ``check``."""

from __future__ import annotations

import argparse
import sys
from urllib.parse import urlsplit

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
        lines.append(f"  {name:<{width}}  " + "  ".join(parts))
    lines += ["", "model aliases:" if config.models else "model aliases: none"]
    for alias, targets in config.models.items():
        lines.append(f"  {alias} -> {', '.join(targets)}")
    server = config.server
    auth = f"{len(server.auth_keys)} client key(s)" if server.auth_keys else "off"
    lines += ["", f"server: {server.host}:{server.port}  auth={auth}  max_body_mb={server.max_body_mb:g}"]
    return "\n".join(lines)


def _public_url(url: str) -> str:
    """A base URL without user info or query (where a secret could hide)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


if __name__ == "__main__":
    sys.exit(main())
