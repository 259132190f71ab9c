"""The governance records' contract (keys, teams, the spend ledger) on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from pg_support import TcpProxy
from switchyard.config import Config, GovernanceConfig, ObservabilityConfig, ServerConfig
from switchyard.governance import Records, SqliteRecords, open_records
from switchyard.governance.model import Budget, ClientKey, Limits, Team
from switchyard.governance.records_pg import PostgresRecords


class Backend:
    def __init__(self, kind: str, data_dir: Path, dsn: str | None) -> None:
        self.kind = kind
        self.data_dir = data_dir
        self.dsn = dsn

    def records(self) -> Records:
        """A new handle on the same records (another one stands for another process)."""
        return SqliteRecords(self.data_dir) if self.dsn is None else PostgresRecords(self.dsn)

    def run(self, fn: Callable[..., Awaitable[Any]], handles: int = 1) -> Any:
        async def main() -> Any:
            opened = [self.records() for _ in range(handles)]
            for records in opened:
                await records.open()
            try:
                return await fn(*opened)
            finally:
                for records in opened:
                    await records.close()

        return asyncio.run(main())


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    dsn = request.getfixturevalue("pg_dsn") if request.param == "postgres" else None
    return Backend(request.param, tmp_path, dsn)


def a_key(n: int, **kw: Any) -> ClientKey:
    base: dict[str, Any] = {
        "created_at": 1_700_000_000.0 + n,
        "budget": Budget(12.5, "month"),
        "limits": Limits(rpm=60, tpm=None, max_parallel=4),
        "id": f"ck_{n}",
        "name": f"key {n}",
        "hash": f"{n:064x}",
        "hint": "a1b2",
        "team": "web",
        "models": ["gpt-*", "sonnet"],
        "expires_at": 1_800_000_000.0,
        "metadata": {"owner": "ana@example.com", "n": n},
    }
    return ClientKey(**{**base, **kw})


def test_empty_records_load_nothing(backend):
    assert backend.run(lambda r: r.load()) == ([], [])


def test_keys_and_teams_round_trip_and_replace(backend):
    team = Team(created_at=1.0, budget=Budget(100.0, "7d"), limits=Limits(rpm=10), name="web", metadata={"k": "v"})

    async def write(records: Records) -> None:
        await records.put_team(team)
        await records.put_key(a_key(1))
        await records.put_key(a_key(2, budget=None, team=None, models=None, expires_at=None))
        await records.put_key(a_key(1, hash="f" * 64, revoked_at=5.0, updated_at=5.0))  # rotated, then revoked

    backend.run(write)
    keys, teams = backend.run(lambda r: r.load())  # a new handle: what another process reads
    assert sorted(keys, key=lambda k: k.id) == [
        a_key(1, hash="f" * 64, revoked_at=5.0, updated_at=5.0),
        a_key(2, budget=None, team=None, models=None, expires_at=None),
    ]
    assert teams == [team]


def test_delete_team_says_whether_it_existed(backend):
    async def run(records: Records) -> tuple[bool, bool, list[Team]]:
        await records.put_team(Team(created_at=1.0, budget=None, limits=Limits(), name="ops"))
        first = await records.delete_team("ops")
        second = await records.delete_team("ops")
        return first, second, (await records.load())[1]

    assert backend.run(run) == (True, False, [])


def test_add_spend_adds_to_what_is_there(backend):
    async def run(records: Records) -> dict:
        await records.add_spend([("key:ck_1", "2026-12", 1_000, 1), ("team:web", "2026-12", 1_000, 1)], "b1")
        await records.add_spend([("key:ck_1", "2026-12", 250, 2), ("key:ck_1", "2026-11", 7, 1)], "b2")
        return await records.spend([("key:ck_1", "2026-12"), ("key:ck_1", "2026-11"), ("key:ck_9", "total")])

    assert backend.run(run) == {("key:ck_1", "2026-12"): (1_250, 3), ("key:ck_1", "2026-11"): (7, 1)}
    assert backend.run(lambda r: r.spend([("team:web", "2026-12")])) == {("team:web", "2026-12"): (1_000, 1)}


def test_a_retried_spend_batch_is_added_once(backend):
    """A batch whose write failed after its commit (the answer lost) is retried under the same id,
    by the same process or after a reload in another handle: the ledger has it once."""

    async def run(first: Records, second: Records) -> dict:
        batch = [("key:ck_1", "2026-12", 400, 1)]
        await first.add_spend(batch, "batch-1")
        await first.add_spend(batch, "batch-1")
        await second.add_spend(batch, "batch-1")
        await second.add_spend(batch, "batch-2")
        return await first.spend([("key:ck_1", "2026-12")])

    assert backend.run(run, handles=2) == {("key:ck_1", "2026-12"): (800, 2)}


def test_concurrent_add_spend_from_several_processes_is_exact(backend):
    async def run(*handles: Records) -> dict:
        async def writer(records: Records) -> None:
            for _ in range(40):
                await records.add_spend([("key:ck_1", "total", 3, 1), ("team:web", "total", 5, 1)], uuid.uuid4().hex)

        await asyncio.gather(*(writer(r) for r in handles))
        return await handles[0].spend([("key:ck_1", "total"), ("team:web", "total")])

    spent = backend.run(run, handles=3)
    assert spent == {("key:ck_1", "total"): (360, 120), ("team:web", "total"): (600, 120)}


def test_the_records_follow_the_usage_logs_dsn_unless_governance_names_one(tmp_path):
    def config(usage_dsn: str | None, governance_dsn: str | None, usage_log: bool = True) -> Config:
        obs = ObservabilityConfig(usage_log=usage_log, usage_backend="postgres" if usage_dsn else "sqlite")
        obs.usage_dsn = usage_dsn
        return Config(
            server=ServerConfig(data_dir=tmp_path),
            observability=obs,
            governance=GovernanceConfig(dsn=governance_dsn),
        )

    usage, own = "postgresql://u@127.0.0.1/usage", "postgresql://u@127.0.0.1/gov"
    assert isinstance(open_records(config(None, None)), SqliteRecords)
    assert open_records(config(usage, None)).where == "postgresql://u@127.0.0.1/usage"  # type: ignore[attr-defined]
    assert open_records(config(usage, own)).where == "postgresql://u@127.0.0.1/gov"  # type: ignore[attr-defined]
    assert open_records(config(None, own)).where == "postgresql://u@127.0.0.1/gov"  # type: ignore[attr-defined]
    assert isinstance(open_records(config(usage, None, usage_log=False)), SqliteRecords)


def test_postgres_records_out_of_reach_raise_what_the_service_retries(pg_dsn):
    proxy = TcpProxy()

    async def main() -> tuple[list, list]:
        records = PostgresRecords(proxy.dsn(pg_dsn))
        await records.open()  # out of reach: not an error at start (the service retries)
        with pytest.raises(records.unavailable):
            await records.load()
        proxy.up()
        try:
            await records.put_team(Team(created_at=1.0, budget=None, limits=Limits(), name="ops"))
            proxy.down()  # the connection is cut
            with pytest.raises(records.unavailable):
                await records.load()
            proxy.up()
            return await records.load()  # a new connection
        finally:
            await records.close()

    try:
        keys, teams = asyncio.run(main())
    finally:
        proxy.close()
    assert keys == [] and [t.name for t in teams] == ["ops"]
    assert SqliteRecords.unavailable == ()  # a local file's errors are not waited out
