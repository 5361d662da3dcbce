"""A throwaway PostgreSQL server for tests, benchmarks and local runs.

Starts a private cluster in a temporary folder, listening on 127.0.0.1 on a
free port and on a unix socket in that folder, and removes it all on stop.
The server binaries refuse to run as root, so as root they run as the
``postgres`` system user (which owns the folder); otherwise as the caller.

    with PgCluster.start() as cluster:
        cluster.dsn("postgres")   # postgresql://postgres@127.0.0.1:PORT/postgres

``durable=False`` (the default, for tests) turns off fsync: a crash of the
machine would lose the cluster, which is thrown away anyway.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit, urlunsplit

SERVER_USER = "postgres"
SEARCH_GLOB = "/usr/lib/postgresql/*/bin"


class ClusterUnavailable(RuntimeError):
    """No cluster can be started here; the message says why and what would help."""


def find_bindir() -> Path:
    """The folder with initdb and pg_ctl: from PATH, else the newest Debian install."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(os.path.realpath(on_path)).parent
    candidates = sorted(
        (Path(d) for d in glob.glob(SEARCH_GLOB) if (Path(d) / "initdb").exists()),
        key=lambda d: _version_key(d.parent.name),
    )
    if not candidates:
        raise ClusterUnavailable(
            "the PostgreSQL server is not installed (no initdb on PATH or in "
            f"{SEARCH_GLOB}); `make test` installs it, or set GATEWAY_TEST_POSTGRES_DSN"
        )
    return candidates[-1]


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in name.split(".") if p.isdigit())


def _server_user() -> pwd.struct_passwd | None:
    """The account to run the server as, None for the current one."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise ClusterUnavailable(
            f"running as root, and PostgreSQL will not: the {SERVER_USER!r} user to run it "
            "as does not exist (installing the postgresql package creates it)"
        ) from None


def why_unavailable() -> str | None:
    """None if a cluster can be started here, else the reason it cannot."""
    try:
        find_bindir()
        _server_user()
    except ClusterUnavailable as exc:
        return str(exc)
    if os.geteuid() == 0 and not shutil.which("runuser"):
        return "running as root without runuser to start PostgreSQL as another user"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PgCluster:
    """A running throwaway cluster; :meth:`stop` removes it."""

    def __init__(self, bindir: Path, base: Path, port: int, user: pwd.struct_passwd | None):
        self.bindir = bindir
        self.base = base
        self.port = port
        self._user = user

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    @property
    def log_file(self) -> Path:
        return self.base / "server.log"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    @classmethod
    def start(cls, *, durable: bool = False, attempts: int = 3) -> PgCluster:
        bindir = find_bindir()
        user = _server_user()
        base = Path(tempfile.mkdtemp(prefix="wissel-pg-"))
        try:
            if user is not None:
                os.chown(base, user.pw_uid, user.pw_gid)
            cluster = cls(bindir, base, 0, user)
            cluster._run("initdb", "--pgdata", str(cluster.data_dir), "--username=postgres",
                         "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
            for attempt in range(attempts):
                # Another process may take the port between probe and bind: try a new one.
                cluster.port = free_port()
                try:
                    cluster._start_server(durable)
                    return cluster
                except ClusterUnavailable:
                    if attempt == attempts - 1:
                        raise
        except BaseException:
            shutil.rmtree(base, ignore_errors=True)
            raise
        raise AssertionError("unreachable")

    def _start_server(self, durable: bool) -> None:
        options = [
            "-c listen_addresses=127.0.0.1", f"-p {self.port}",
            f"-c unix_socket_directories={self.base}", "-c max_connections=200",
        ]
        if not durable:
            options += ["-c fsync=off", "-c synchronous_commit=off",
                        "-c full_page_writes=off"]
        self._run("pg_ctl", "--pgdata", str(self.data_dir), "--log", str(self.log_file),
                  "--wait", "--timeout=60", "-o", " ".join(options), "start")

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bindir / program), *args]
        if self._user is not None:
            command = ["runuser", "-u", self._user.pw_name, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False,
                                cwd=self.base)
        if result.returncode != 0:
            log = ""
            if self.log_file.exists():
                log = self.log_file.read_text(errors="replace")[-2000:]
            raise ClusterUnavailable(
                f"{program} failed ({result.returncode}): {result.stderr.strip()}\n{log}"
            )

    def stop(self) -> None:
        try:
            if (self.data_dir / "postmaster.pid").exists():
                self._run("pg_ctl", "--pgdata", str(self.data_dir), "--mode=immediate",
                          "--wait", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def with_database(dsn: str, database: str) -> str:
    """``dsn`` pointing at another database on the same server."""
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


async def create_database(admin_dsn: str, name: str, template: str = "template0") -> str:
    """Create database ``name`` (dropping an old one) and return its DSN."""
    import asyncpg  # only those who create databases need the driver

    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()
    return with_database(admin_dsn, name)


async def drop_database(admin_dsn: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
