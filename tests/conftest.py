"""Fixtures shared by the whole suite.

Every test runs with its own data directory, so nothing a test writes (audit
logs, databases, inboxes) leaks into another test or into the developer's home.
The official standards are installed once per session from ../shared/standards.
PostgreSQL tests get a database of their own on $GATEWAY_TEST_POSTGRES_DSN or,
without it, on a throwaway server started for the session.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from pipeline_support import Pipeline, make_pipeline

from gateway.devtools import pgcluster
from gateway.paths import DATA_DIR_ENV, STANDARDS_DIR_ENV
from gateway.standards.installer import install_from_dir
from gateway.standards.manifest import default_manifest
from gateway.store import Store, open_store

REPO = Path(__file__).resolve().parents[1]
SHARED_STANDARDS = REPO.parent / "shared" / "standards"


# Tests that need an external service carry its marker. A service is there when
# its variable names one, or (PostgreSQL) when a throwaway server can be started
# here. Without it the tests skip with the reason, unless
# GATEWAY_REQUIRE_SERVICES=1 (as `make test` sets): then they run and fail loudly.
SERVICE_MARKERS = {
    "postgres": "GATEWAY_TEST_POSTGRES_DSN",
    "smtp": "GATEWAY_TEST_SMTP",
}
REQUIRE_SERVICES = "GATEWAY_REQUIRE_SERVICES"


def services_required() -> bool:
    return os.environ.get(REQUIRE_SERVICES) == "1"


def service_unavailable(marker: str) -> str | None:
    """Why the tests marked ``marker`` cannot run here, or None when they can."""
    variable = SERVICE_MARKERS[marker]
    if os.environ.get(variable):
        return None
    if marker == "postgres":
        reason = pgcluster.why_unavailable()
        if reason is None:
            return None
        return f"needs postgres: ${variable} is not set and no server can be started: {reason}"
    return f"needs {marker}: ${variable} is not set (`make test` starts it)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if services_required():
        return
    reasons: dict[str, str | None] = {}
    for item in items:
        for marker in SERVICE_MARKERS:
            if marker not in item.keywords:
                continue
            if marker not in reasons:
                reasons[marker] = service_unavailable(marker)
            reason = reasons[marker]
            if reason is not None:
                item.add_marker(pytest.mark.skip(reason=reason))


def _unavailable(reason: str) -> NoReturn:
    if services_required():
        pytest.fail(f"{REQUIRE_SERVICES}=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A DSN with the right to create databases: $GATEWAY_TEST_POSTGRES_DSN, or a
    throwaway cluster (fsync off) that lives for the session."""
    configured = os.environ.get(SERVICE_MARKERS["postgres"])
    if configured:
        yield configured
        return
    try:
        cluster = pgcluster.PgCluster.start()
    except pgcluster.ClusterUnavailable as exc:
        _unavailable(f"no PostgreSQL server for the tests: {exc}")
    try:
        yield cluster.dsn()
    finally:
        cluster.stop()


@pytest.fixture
async def postgres_url(postgres_dsn: str) -> AsyncIterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    name = f"wissel_test_{uuid.uuid4().hex[:16]}"
    try:
        url = await pgcluster.create_database(postgres_dsn, name)
    except OSError as exc:
        _unavailable(f"cannot reach PostgreSQL at {postgres_dsn}: {exc}")
    yield url
    await pgcluster.drop_database(postgres_dsn, name)


@pytest.fixture(scope="session")
def installed_standards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The official artifacts installed by the product's own installer."""
    if not SHARED_STANDARDS.is_dir():
        pytest.skip(f"{SHARED_STANDARDS} is not present")
    target = tmp_path_factory.mktemp("standards")
    install_from_dir(default_manifest(), SHARED_STANDARDS, target)
    return target


@pytest.fixture(autouse=True)
def isolated_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    data_dir = tmp_path / "gateway-data"
    monkeypatch.setenv(DATA_DIR_ENV, str(data_dir))
    monkeypatch.delenv(STANDARDS_DIR_ENV, raising=False)
    monkeypatch.delenv("GATEWAY_CONFIG", raising=False)
    return data_dir


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh message store database: a SQLite file, and a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gateway.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """That database, migrated and open (a module may define a ``store`` of its own)."""
    async with open_store(store_url) as opened:
        await opened.migrate()
        yield opened


@pytest.fixture
async def pipe(store: Store, tmp_path: Path) -> Pipeline:
    """The pipelines of tests/pipeline_support.py on ``store``, sending to a recorder."""
    return await make_pipeline(store, tmp_path)
