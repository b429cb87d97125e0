"""The PostgreSQL engine: one SQL text for two engines, migrations alike, and `db copy`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Settings
from bot.texts import Texts
from storage import SchemaTooNewError, Storage
from storage.copy import Checksum, CopyRefusedError, copy_database
from storage.db import Migration, load_migrations, open_database
from storage.postgres import safe_url, translate
from tests import pg
from tests.harness import harness

# -- translation: pure functions ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("sqlite", "postgres"),
    [
        ("SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = %s AND b = %s"),
        ("SELECT ?1, ?2, ?1", "SELECT %(_1)s, %(_2)s, %(_1)s"),
        ("SELECT 1 WHERE :grids IS NULL", "SELECT 1 WHERE %(grids)s IS NULL"),
        ("SELECT '50%' || ?", "SELECT '50%%' || %s"),
        ("SELECT 'a?b', \"c?\" FROM t -- why?\n", "SELECT 'a?b', \"c?\" FROM t -- why?\n"),
        ("SELECT x::text", "SELECT x::text"),
        (
            "WHERE estate IS ? AND unit IS NOT ?",
            "WHERE estate IS NOT DISTINCT FROM %s AND unit IS DISTINCT FROM %s",
        ),
        ("WHERE x IS NULL AND y IS NOT NULL", "WHERE x IS NULL AND y IS NOT NULL"),
        ("FROM tickets AS t NOT INDEXED JOIN", "FROM tickets AS t JOIN"),
        (
            "id IN (SELECT value FROM json_each(?))",
            "id IN (SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST(%s AS json)))",
        ),
    ],
)
def test_one_sql_text_is_translated_for_postgresql(sqlite: str, postgres: str) -> None:
    assert translate(sqlite) == postgres


def test_a_password_never_reaches_a_message() -> None:
    assert safe_url("postgresql://bot:s3cret@db:5432/linli") == "postgresql://bot:***@db:5432/linli"
    assert safe_url("postgresql://db/linli") == "postgresql://db/linli"


def test_both_engines_have_the_same_migrations() -> None:
    sqlite, postgres = load_migrations("sqlite"), load_migrations("postgresql")
    assert [(m.version, m.description) for m in sqlite] == [
        (m.version, m.description) for m in postgres
    ]


def test_the_checksum_ignores_row_order_but_not_values() -> None:
    a, b, c = Checksum(), Checksum(), Checksum()
    a.add([(1, "x", None), (2, "y", b"\x89PNG")])
    b.add([(2, "y", memoryview(b"\x89PNG")), (1, "x", None)])
    c.add([(1, "x", None), (2, "y", b"\x89PNH")])
    assert a.hexdigest() == b.hexdigest() != c.hexdigest()
    assert a.rows == b.rows == 2


# -- on a real server ---------------------------------------------------------------------------


@pytest.fixture
def postgres(postgres_server: pg.PostgresServer | None) -> pg.PostgresServer:
    if postgres_server is None:
        pytest.skip("PostgreSQL is not installed (initdb not found); .ci/run installs it")
    return postgres_server


@pytest.fixture
def empty_url(postgres: pg.PostgresServer) -> Iterator[str]:
    name = f"c_{uuid.uuid4().hex[:16]}"
    yield postgres.create_database(name)
    postgres.drop_database(name)


async def test_a_newer_schema_is_refused_on_postgresql(empty_url: str) -> None:
    db = await open_database(empty_url)
    await db.migrate([*load_migrations("postgresql"), Migration(99, "future", "SELECT 1;")])
    await db.close()
    with pytest.raises(SchemaTooNewError, match="schema version 99"):
        await open_database(empty_url)


async def test_instances_starting_together_migrate_once(empty_url: str) -> None:
    opened = await asyncio.gather(*(open_database(empty_url) for _ in range(3)))
    try:
        rows = await opened[0].fetch_all("SELECT version FROM schema_migrations ORDER BY version")
        assert [r[0] for r in rows] == [m.version for m in load_migrations("postgresql")]
    finally:
        for db in opened:
            await db.close()


async def _filled_sqlite(tmp_path: Path) -> Path:
    """A real deployment's database: grids bound, reports, an officer's work, 回访 ratings."""
    async with harness(tmp_path) as bot:
        officer = bot.sim.add_user("李网格员")
        resident = bot.sim.add_user("王阿姨")
        chat = await bot.grid("一网格", officer, resident)
        bot.sim.set_member(chat, officer, "administrator")
        for n in range(12):
            await bot.report(chat, resident, f"#报修 {n + 1}号楼2单元楼道灯不亮 电话13812345678")
        await bot.say(chat, officer, "/take 1")
        await bot.say(chat, officer, "/done 1 已更换灯泡")
        await bot.flush()
    return tmp_path / "bot.db"


async def test_db_copy_moves_everything_and_verifies_it(tmp_path: Path, empty_url: str) -> None:
    path = await _filled_sqlite(tmp_path)
    source = await Storage.open(path)
    target = await Storage.open(empty_url)
    try:
        copied = await copy_database(source.db, target.db)
        by_table = {c.table: c.rows for c in copied}
        assert by_table["tickets"] == 12
        assert by_table["ticket_events"] >= 14
        assert by_table["outbox"] >= 12
        # the copy is the same bot: the same tickets read through the same repositories
        old = [t.id for t in await source.tickets.recent(50)]
        new = [t.id for t in await target.tickets.recent(50)]
        assert new == old
        assert (await target.tickets.get(1)) == (await source.tickets.get(1))
        # new rows continue after the copied ids
        grid = (await target.grids.bindings())[0]
        ticket = await target.tickets.get(12)
        assert ticket is not None and grid.grid_id == ticket.grid_id
        # a second copy into the now filled target is refused, and changes nothing
        with pytest.raises(CopyRefusedError, match="not empty"):
            await copy_database(source.db, target.db)
        assert await target.tickets.count() == 12
    finally:
        await source.close()
        await target.close()


def test_db_copy_from_the_command_line(
    tmp_path: Path,
    empty_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = asyncio.run(_filled_sqlite(tmp_path))
    monkeypatch.setenv("DATABASE_PATH", str(path))
    zh = Texts("zh")
    assert main(["db", "copy", "--to", empty_url]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("完成：") and safe_url(empty_url) in out[-1]
    assert any(line.startswith("tickets：12 行") for line in out)
    # again: the target is not empty now; one line, exit 2, nothing written
    assert main(["db", "copy", "--to", empty_url]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "tickets (12)" in err
    assert main(["db", "copy", "--to", str(tmp_path / "x.db")]) == 2
    assert capsys.readouterr().err.strip() == "linlitong: " + zh("cli.copy_needs_url")
    # the bot then runs on PostgreSQL: db check and migrate through DATABASE_URL
    monkeypatch.setenv("DATABASE_URL", empty_url)
    assert main(["db", "check"]) == 0
    assert capsys.readouterr().out.strip() == zh("cli.check_ok", path=safe_url(empty_url))


def test_db_backup_on_postgresql_uses_pg_dump(
    tmp_path: Path,
    empty_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_url)
    assert main(["db", "migrate"]) == 0
    capsys.readouterr()
    target = tmp_path / "dump.pgc"
    code = main(["db", "backup", str(target)])
    err = capsys.readouterr().err
    if code != 0:  # no pg_dump here: one clear line instead
        assert "pg_dump" in err and len(err.strip().splitlines()) == 1
        return
    assert target.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    assert oct(target.stat().st_mode & 0o777) == "0o600"


def test_an_unreachable_server_is_one_line_naming_database_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = pg.free_port()
    monkeypatch.setenv("DATABASE_URL", f"postgresql://bot:hunter2@127.0.0.1:{port}/linli")
    assert main(["db", "check"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("linlitong: DATABASE_URL:") and "hunter2" not in err and "***" in err


def test_a_malformed_database_url_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://root:pw@db/linli")
    assert main(["db", "check"]) == 2
    err = capsys.readouterr().err.strip()
    assert "DATABASE_URL" in err and "pw" not in err.replace("password", "")


def test_settings_pick_the_engine() -> None:
    assert Settings(_env_file=None).database == Path("data/linlitong.db")
    url = "postgresql://bot:pw@db:5432/linli"
    assert Settings(_env_file=None, database_url=url).database == url
