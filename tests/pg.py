"""A real PostgreSQL server for the tests: initdb in a temporary folder, a free loopback port.

The suite starts one server per session (``postgres_server`` in conftest) and gives each test
its own database. Set ``LINLITONG_TEST_DATABASE_URL`` to a server you run yourself instead
(a superuser's URL: the tests create and drop databases). Binaries come from ``PATH`` or
Debian's ``/usr/lib/postgresql/<version>/bin``; as root, the server runs as the ``postgres``
user (``initdb`` refuses root).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import psycopg

READY_TIMEOUT_S = 60
# A test server: durability is not what is tested here (the benches pass PostgreSQL's defaults)
TEST_SETTINGS: Mapping[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


def binaries() -> Path | None:
    """The folder of ``initdb`` and ``postgres``: on PATH, else Debian's newest."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return debian[-1].parent if debian else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresServer:
    url: str  # the maintenance database, as a superuser
    process: subprocess.Popen[bytes] | None = None
    folder: Path | None = None
    log: BinaryIO | None = None
    idle: list[str] = field(default_factory=list)
    count: int = 0

    def database_url(self, name: str) -> str:
        base, _, _ = self.url.rpartition("/")
        return f"{base}/{name}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.database_url(name)

    def lease(self) -> str:
        """A database for one test: migrated by the test's first open, emptied by :meth:`give_back`.

        Creating a database and migrating it costs ~0.8 s; emptying one ~0.03 s, which is what
        lets every database test run on both engines in the suite's time.
        """
        if not self.idle:
            self.count += 1
            return self.create_database(f"t_{os.getpid()}_{self.count}")
        return self.idle.pop()

    def give_back(self, url: str) -> None:
        """Empty the leased database (every table but schema_migrations) for the next test."""
        name = url.rpartition("/")[2]
        with psycopg.connect(self.url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
        with psycopg.connect(url, autocommit=True) as conn:
            tables = [
                str(row[0])
                for row in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                    " AND tablename <> 'schema_migrations'"
                )
            ]
            if tables:
                listed = ", ".join(f'"{t}"' for t in tables)
                conn.execute(f"TRUNCATE {listed} RESTART IDENTITY CASCADE")
        self.idle.append(url)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # "fast" shutdown
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log is not None:
            self.log.close()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def _as_postgres() -> dict[str, Any]:
    """Popen's arguments to run as the ``postgres`` user when we are root (initdb and postgres
    refuse root); the child is the server itself, so that a signal reaches it."""
    if os.geteuid() != 0:
        return {}
    user = pwd.getpwnam("postgres")
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": [], "cwd": "/"}


def start(bin_dir: Path, settings: Mapping[str, str] = TEST_SETTINGS) -> PostgresServer:
    """A server in a new temporary folder on a free loopback port; ``settings`` are passed as
    ``-c name=value`` after the fixed ones (the listen address, 300 connections)."""
    folder = Path(tempfile.mkdtemp(prefix="linlitong-pg-"))
    data, sockets = folder / "data", folder / "run"
    sockets.mkdir()
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        for path in (folder, sockets):
            os.chown(path, user.pw_uid, user.pw_gid)
    server = PostgresServer(url="", folder=folder)
    try:
        subprocess.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            **_as_postgres(),
        )
        port = free_port()
        log = (folder / "server.log").open("wb")  # never a pipe: a full one would stall it
        server.log = log
        server.process = subprocess.Popen(
            [
                str(bin_dir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-k",
                str(sockets),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "max_connections=300",
                *(arg for name, value in settings.items() for arg in ("-c", f"{name}={value}")),
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
            **_as_postgres(),
        )
        server.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        _wait_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server: PostgresServer) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    for attempt in itertools.count():
        if server.process is not None and server.process.poll() is not None:
            log = server.folder / "server.log" if server.folder else None
            err = log.read_text(errors="replace") if log and log.exists() else ""
            raise RuntimeError(f"postgres exited at start: {err[-500:]}")
        with contextlib.suppress(psycopg.OperationalError):
            psycopg.connect(server.url, connect_timeout=2).close()
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"postgres did not accept connections in {READY_TIMEOUT_S} s")
        time.sleep(min(0.05 * (attempt + 1), 0.5))  # a server starting: polled, not timed


@contextlib.contextmanager
def server() -> Iterator[PostgresServer | None]:
    """The test server: ``LINLITONG_TEST_DATABASE_URL``, else one started here, else None."""
    given = os.environ.get("LINLITONG_TEST_DATABASE_URL")
    if given:
        yield PostgresServer(url=given)
        return
    bin_dir = binaries()
    if bin_dir is None:
        yield None
        return
    started = start(bin_dir)
    try:
        yield started
    finally:
        started.stop()
