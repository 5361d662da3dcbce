"""The throwaway PostgreSQL server, and when the suite runs, skips or fails its tests."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import asyncpg
import pytest
from conftest import service_unavailable

from gateway.devtools import pgcluster


@pytest.fixture
def no_server_binaries(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(pgcluster, "SEARCH_GLOB", str(tmp_path / "nothing" / "*" / "bin"))
    monkeypatch.delenv("GATEWAY_TEST_POSTGRES_DSN", raising=False)


@pytest.mark.usefixtures("no_server_binaries")
def test_without_binaries_the_reason_says_what_helps() -> None:
    reason = pgcluster.why_unavailable()
    assert reason is not None
    assert "not installed" in reason
    assert "make test" in reason
    assert "GATEWAY_TEST_POSTGRES_DSN" in reason
    with pytest.raises(pgcluster.ClusterUnavailable):
        pgcluster.PgCluster.start()
    marker_reason = service_unavailable("postgres")
    assert marker_reason is not None
    assert marker_reason.startswith("needs postgres: $GATEWAY_TEST_POSTGRES_DSN is not set")


@pytest.mark.usefixtures("no_server_binaries")
def test_a_configured_server_needs_no_binaries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_TEST_POSTGRES_DSN", "postgresql://gw@db/postgres")
    assert service_unavailable("postgres") is None


def test_other_services_still_need_their_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWAY_TEST_SMTP", raising=False)
    assert service_unavailable("smtp") == (
        "needs smtp: $GATEWAY_TEST_SMTP is not set (`make test` starts it)")


def test_with_database_keeps_the_rest_of_the_dsn() -> None:
    assert pgcluster.with_database("postgresql://u:p@h:5/postgres?sslmode=disable", "x") == (
        "postgresql://u:p@h:5/x?sslmode=disable")


@pytest.mark.postgres
def test_a_cluster_starts_serves_and_leaves_nothing_behind() -> None:
    if pgcluster.why_unavailable() is not None:
        pytest.skip(str(pgcluster.why_unavailable()))
    with pgcluster.PgCluster.start() as cluster:
        base = cluster.base

        async def ask() -> str:
            conn = await asyncpg.connect(cluster.dsn())
            try:
                return str(await conn.fetchval("SHOW fsync"))
            finally:
                await conn.close()

        assert asyncio.run(ask()) == "off"
        assert (base / "data" / "postmaster.pid").exists()
    assert not base.exists()
