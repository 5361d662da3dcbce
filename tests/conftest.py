"""Fixtures shared by the whole suite.

Every test runs with its own data directory, so nothing a test writes (audit
logs, databases, inboxes) leaks into another test or into the developer's home.
The official standards are installed once per session from ../shared/standards.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.paths import DATA_DIR_ENV, STANDARDS_DIR_ENV
from gateway.standards.installer import install_from_dir
from gateway.standards.manifest import default_manifest

REPO = Path(__file__).resolve().parents[1]
SHARED_STANDARDS = REPO.parent / "shared" / "standards"


# Tests that need an external service carry its marker; `make test` starts the
# service and exports its address. Run by hand without it, they skip with the
# reason, unless GATEWAY_REQUIRE_SERVICES=1: then they run and fail loudly.
SERVICE_MARKERS = {
    "postgres": "GATEWAY_TEST_POSTGRES_DSN",
    "smtp": "GATEWAY_TEST_SMTP",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("GATEWAY_REQUIRE_SERVICES") == "1":
        return
    for item in items:
        for marker, variable in SERVICE_MARKERS.items():
            if marker in item.keywords and not os.environ.get(variable):
                reason = f"needs {marker}: ${variable} is not set (`make test` starts it)"
                item.add_marker(pytest.mark.skip(reason=reason))


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
