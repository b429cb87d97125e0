"""PostgreSQL for the benches: a throwaway server, fresh databases, and the server's CPU.

The server is started the way the test suite starts its own (:mod:`tests.pg`: ``initdb`` in a
temporary folder as the ``postgres`` user when run as root, a free port on 127.0.0.1), but with
PostgreSQL's default durability (``fsync``, ``synchronous_commit`` and ``full_page_writes`` on),
as a deployment runs it; ``settings`` adds ``-c name=value`` options. Or the benches use a server
of yours (``--database-url``).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import psycopg

from tests import pg
from tests.pg import PostgresServer

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def postgres_server(
    url: str | None, settings: Mapping[str, str] | None = None
) -> Iterator[PostgresServer]:
    """The server at ``url`` (nothing started, nothing stopped), else one started here and
    stopped (its folder removed) whatever happens."""
    if url is not None:
        yield PostgresServer(url=url)
        return
    bin_dir = pg.binaries()
    if bin_dir is None:
        raise SystemExit(
            "PostgreSQL is not installed (no initdb on PATH or under /usr/lib/postgresql):"
            " install Debian's postgresql package, or pass --database-url"
        )
    server = pg.start(bin_dir, settings=dict(settings or {}))
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def fresh_database(server: PostgresServer, name: str) -> Iterator[str]:
    """A new, empty database on ``server`` (dropped first if it exists, dropped afterwards);
    its URL. The server's user must be allowed to create databases."""
    url = server.create_database(name)
    try:
        yield url
    finally:
        try:
            server.drop_database(name)
        except psycopg.Error as exc:
            logger.warning("could not drop the bench database %s: %s", name, exc)


def postmaster_pid(server: PostgresServer) -> int | None:
    """The server's main process, when it runs on this machine: the one started here, or the
    parent of a backend of a server at a given URL (None when that is not visible here)."""
    if server.process is not None:
        return server.process.pid
    with psycopg.connect(server.url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
    if row is None:
        return None
    backend = Path(f"/proc/{int(row[0])}")
    try:
        if (backend / "comm").read_text().strip() != "postgres":
            return None  # a process of this machine that happens to have that pid
        status = (backend / "status").read_text()
    except OSError:
        return None  # another machine, or another pid namespace
    for line in status.splitlines():
        if line.startswith("PPid:"):
            parent = int(line.split()[1])
            return parent if parent > 1 and os.path.exists(f"/proc/{parent}") else None
    return None
