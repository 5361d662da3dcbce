"""A database password never appears in an error or the log, however the URL carries it.

After the user name (also an empty one: ``postgresql://:pw@host``) or as the
``password`` / ``sslpassword`` query parameter, as libpq and asyncpg take it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from api_support import free_port
from test_cli_run_and_status import finish, start

PASSWORD = "Sup3r-Geheim-DB-wachtwoord"


def write_config(tmp_path: Path, database: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(f"""
[gateway]
listen = "127.0.0.1:{free_port()}"
data_dir = {str(tmp_path / "data")!r}
database = {database!r}
token = "review-token-0123456789"

[supplier]
name = "Naam Leverancier BV"
kvk = "30097265"
vestigingsnummer = "000018727409"
""", "utf-8")
    return path


@pytest.mark.parametrize("database", [
    "postgresql://wissel@127.0.0.1:{port}/wissel?password={password}",
    "postgresql://:{password}@127.0.0.1:{port}/wissel",
    "postgresql:///wissel?host=127.0.0.1&port={port}&user=wissel&password={password}",
])
def test_a_database_that_cannot_be_reached_is_named_without_its_password(
    tmp_path: Path, database: str,
) -> None:
    url = database.format(port=free_port(), password=PASSWORD)  # nothing listens there
    code, _, err = finish(start(write_config(tmp_path, url)))
    assert code is not None, err
    assert "cannot connect" in err, err
    assert PASSWORD not in err, err


@pytest.mark.parametrize("database", [
    "postgres://wissel@db.example/wissel?password={password}",
    "mysql://wissel@db.example/wissel?password={password}",
])
def test_a_database_url_the_loader_refuses_is_quoted_without_its_password(
    tmp_path: Path, database: str,
) -> None:
    code, _, err = finish(start(write_config(tmp_path, database.format(password=PASSWORD))))
    assert code == 2, err
    assert "database must be" in err, err
    assert PASSWORD not in err, err
