"""Governance: client keys, teams, budgets and rate limits (see ``service.py`` for the contract
the pipeline uses, ``counters.py`` for the invariants of the shared counters)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .counters import Counters, MemoryCounters, Ticket
from .model import ClientKey, Limits, key_hash
from .records import Records, SqliteRecords
from .service import Governance

if TYPE_CHECKING:
    from ..accounting.pricing import Pricing
    from ..config import Config

__all__ = [
    "ClientKey",
    "Counters",
    "Governance",
    "MemoryCounters",
    "Records",
    "SqliteRecords",
    "Ticket",
    "config_keys",
    "open_governance",
    "open_records",
]


def config_keys(config: Config) -> list[ClientKey]:
    """The ``server.auth_keys`` written with limits, as read-only client keys (id from their hash;
    their budget windows count from the epoch: ``1d`` is the UTC day)."""
    out = []
    for secret, spec in config.server.key_specs.items():
        digest = key_hash(secret)
        out.append(
            ClientKey(
                created_at=0.0,
                budget=spec.get("budget"),
                limits=spec.get("limits") or Limits(),
                id="cfg_" + digest[:12],
                name=spec["name"],
                hash=digest,
                hint=secret[-4:] if len(secret) > 8 else "",
                team=spec.get("team"),
                models=spec.get("models"),
                expires_at=spec.get("expires_at"),
                metadata=spec.get("metadata") or {},
                source="config",
            )
        )
    return out


def records_dsn(config: Config) -> str | None:
    """The PostgreSQL of the governance records: ``governance.dsn``, else the usage log's."""
    obs = config.observability
    return config.governance.dsn or (obs.usage_dsn if obs.usage_log else None)


def open_records(config: Config) -> Records:
    """The governance records for ``config`` (not opened): PostgreSQL or ``data_dir/governance.db``."""
    dsn = records_dsn(config)
    if dsn is None:
        return SqliteRecords(config.server.data_dir)
    from .records_pg import PostgresRecords

    return PostgresRecords(dsn)


def open_governance(config: Config, pricing: Pricing) -> Governance:
    """The governance service for ``config`` (not started: ``await gov.start()``)."""
    state, settings = config.state, config.governance
    counters: Counters
    if state.backend == "redis":
        from ..store.redis import connect
        from .redis_counters import RedisCounters

        counters = RedisCounters(connect(state.redis_url), prefix=state.redis_prefix, rate_window=settings.rate_window)
    else:
        counters = MemoryCounters()
    return Governance(
        open_records(config),
        counters,
        pricing,
        unpriced=settings.unpriced,
        config_keys=config_keys(config),
        rate_window=settings.rate_window,
        lease_seconds=settings.lease_seconds,
        shared=state.backend == "redis",
        on_unavailable=state.on_unavailable,
    )
