"""The CLI as an operator uses it."""

from __future__ import annotations

import asyncio
import configparser
import http.server
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import unicodedata
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest

from bot.cli import main
from bot.launcher import BotProcess, start_bot, wait_polling
from bot.simulator import Simulator, start_server
from bot.texts import Texts
from storage import Storage
from storage.db import load_migrations

ROOT = Path(__file__).parent.parent
TOKEN = "123456789:AAE-very-secret-token-value_x"


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        cwd=cwd,
        check=False,
    )


def own_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """What linlitong itself said on stderr (log lines carry a timestamp and a level)."""
    return [line for line in result.stderr.splitlines() if line.startswith("linlitong: ")]


def assert_clean(result: subprocess.CompletedProcess[str], *, lines: int) -> None:
    """No traceback, no token, and only ``lines`` lines of our own."""
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert TOKEN not in output and TOKEN.split(":")[1] not in output, output
    assert len(own_lines(result)) == lines, output
    assert result.stderr.strip().splitlines()[-1].startswith("linlitong: "), output


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_run_without_token_exits_2_and_explains(tmp_path: Path) -> None:
    result = run_cli("run", env={"DATABASE_PATH": str(tmp_path / "x.db")})
    assert result.returncode == 2
    assert "BOT_TOKEN" in result.stderr and "@BotFather" in result.stderr
    assert "linlitong demo" in result.stderr


def test_invalid_setting_exits_2_naming_it(tmp_path: Path) -> None:
    result = run_cli("run", env={"BOT_TOKEN": "1:x", "TIMEZONE": "Nowhere/City"})
    assert result.returncode == 2 and "TIMEZONE" in result.stderr


def test_no_command_prints_help() -> None:
    result = run_cli()
    assert result.returncode == 2 and "demo" in result.stdout


def test_db_migrate_check_backup_and_grid_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "data" / "l.db"
    monkeypatch.setenv("DATABASE_PATH", str(db))
    zh = Texts("zh")  # LANGUAGE's default: the deployer reads the catalogue's words too
    assert main(["db", "migrate"]) == 0
    migrated = capsys.readouterr().out.splitlines()
    first = load_migrations()[0].description
    assert migrated[0] == zh("cli.migration_applied", version="0001", description=first)
    assert migrated[-1] == zh("cli.schema_version", path=db, version=len(load_migrations()))
    assert main(["db", "check"]) == 0
    assert capsys.readouterr().out.strip() == zh("cli.check_ok", path=db)
    assert main(["grid", "list"]) == 0
    assert capsys.readouterr().out.strip() == zh("cli.no_bindings")

    async def bind() -> None:
        storage = await Storage.open(db)
        await storage.grids.bind_grid(
            chat_id=-1001,
            title="北瑞小区一网格",
            grid="第一网格",
            community="通顺社区",
            street=None,
            by=1,
            now=datetime.now(UTC),
        )
        await storage.close()

    asyncio.run(bind())
    assert main(["grid", "list"]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split() == ["群", "ID", "类型", "街道", "社区", "网格", "/", "群名"]
    assert row.split() == ["-1001", "网格群", "-", "通顺社区", "第一网格", "/", "北瑞小区一网格"]
    # the columns line up on a terminal, where a Chinese character takes two places
    assert width(header[: header.index("类型")]) == width(row[: row.index("网格群")])
    assert width(header[: header.index("社区")]) == width(row[: row.index("通顺社区")])
    assert main(["db", "backup", str(tmp_path / "backup.db")]) == 0
    backed_up = zh("cli.backed_up", database=db, target=tmp_path / "backup.db")
    assert capsys.readouterr().out.strip() == backed_up
    with sqlite3.connect(tmp_path / "backup.db") as copy:
        assert copy.execute("SELECT COUNT(*) FROM chats").fetchone() == (1,)
    assert main(["db", "backup", str(db)]) == 2


def test_check_reports_a_missing_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "absent.db"))
    assert main(["db", "check"]) == 1
    assert not (tmp_path / "absent.db").exists()


def test_a_newer_database_is_refused_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "l.db"
    monkeypatch.setenv("DATABASE_PATH", str(db))
    assert main(["db", "migrate"]) == 0
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', '2030-01-01')")
    assert main(["db", "check"]) == 1
    assert "upgrade LinliTong" in capsys.readouterr().err


# -- start-up failures of `linlitong run`: one line naming the setting and the fix ---------------


def run_against(base: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`linlitong run` with the Bot API at ``base``, logging only warnings and worse."""
    env = {"BOT_TOKEN": TOKEN, "BOT_API_BASE_URL": base, "DATABASE_PATH": str(tmp_path / "x.db")}
    return run_cli("run", env={**env, "LOG_LEVEL": "WARNING"})


def test_an_unreachable_bot_api_is_one_line_and_exit_1(tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{closed_port()}/bot"
    result = run_against(base, tmp_path)
    assert result.returncode == 1, result.stderr
    assert_clean(result, lines=1)
    assert f"无法连接 Telegram（BOT_API_BASE_URL={base}）" in result.stderr
    assert "请检查网络或该设置" in result.stderr


class _NotTelegram(http.server.BaseHTTPRequestHandler):
    """A web server that is not a Bot API server: every POST gets an HTML error page."""

    def do_POST(self) -> None:
        body = b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"
        self.send_response(502)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


def test_a_base_url_that_is_not_the_bot_api_is_one_line(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotTelegram)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/bot"
        result = run_against(base, tmp_path)
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
    assert result.returncode == 1, result.stderr
    assert_clean(result, lines=1)
    assert f"BOT_API_BASE_URL={base}" in result.stderr


def test_a_base_url_without_bot_is_refused_before_the_token_is_used(tmp_path: Path) -> None:
    result = run_cli(
        "run",
        env={
            "BOT_TOKEN": TOKEN,
            "BOT_API_BASE_URL": f"http://127.0.0.1:{closed_port()}",
            "DATABASE_PATH": str(tmp_path / "x.db"),
        },
    )
    assert result.returncode == 2
    assert_clean(result, lines=1)
    assert "BOT_API_BASE_URL 应以 /bot 结尾，例如 https://api.telegram.org/bot" in result.stderr
    assert not (tmp_path / "x.db").exists()


@pytest.mark.e2e
async def test_a_second_instance_stops_the_first_with_one_line(tmp_path: Path) -> None:
    sim = Simulator()
    server = await start_server(sim)

    async def start(name: str) -> BotProcess:
        return await start_bot(
            base_url=server.base_url,
            token=sim.token,
            # a database each (two machines): on one database the second would not start
            database_path=tmp_path / f"{name}.db",
            cwd=tmp_path,
            log_path=tmp_path / f"{name}.log",
            extra_env={"POLL_TIMEOUT": "5", "LOG_LEVEL": "WARNING"},
        )

    first = await start("first")
    second: BotProcess | None = None
    try:
        await wait_polling(sim, first, timeout=30)
        second = await start("second")
        await first.wait(timeout=30)
    finally:
        for process in (first, second):
            if process is not None:
                await process.stop(timeout=30)
        await server.stop()
    text = first.log()
    assert first.returncode == 1, text
    assert "Traceback" not in text and sim.token not in text
    assert text.strip().splitlines() == [
        "linlitong: 另一个进程正在用同一个 BOT_TOKEN 接收消息（Telegram：Conflict），本进程已停止。"
        "同一时间只能运行一个 linlitong run：请先停止另一个（例如 systemctl stop linlitong）。"
    ]


@pytest.mark.parametrize("where", ["under a file", "in a read-only place"])
def test_an_unusable_database_path_is_one_line_naming_it(tmp_path: Path, where: str) -> None:
    if where == "under a file":
        (tmp_path / "plain").write_text("not a folder", "utf-8")
        path = tmp_path / "plain" / "x.db"
    else:
        path = Path("/proc/linlitong-test/x.db")  # not writable, not even by root
    result = run_cli("run", env={"BOT_TOKEN": TOKEN, "DATABASE_PATH": str(path)})
    assert result.returncode == 2, result.stderr
    assert_clean(result, lines=1)
    assert f"无法使用 DATABASE_PATH={path}" in result.stderr


def test_malformed_settings_are_one_line_each_with_the_expected_format(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DIGEST_TIME=6pm\nADMIN_IDS=me\n", "utf-8")
    result = run_cli("run", env={"BOT_TOKEN": TOKEN, "TICK_INTERVAL": "often"}, cwd=tmp_path)
    assert result.returncode == 2
    assert_clean(result, lines=3)
    assert own_lines(result) == [
        "linlitong: ADMIN_IDS 应为 Telegram 用户 ID（数字），多个用逗号分隔，"
        "例如 12345678,87654321",
        "linlitong: DIGEST_TIME 应为 HH:MM，例如 18:00",
        "linlitong: TICK_INTERVAL 应为时长，例如 30s、15m、2h、3d 或 1h30m",
    ]
    assert "invalid literal" not in result.stderr and "Value error" not in result.stderr


def test_messages_follow_language(tmp_path: Path) -> None:
    result = run_cli(
        "run", env={"BOT_TOKEN": TOKEN, "LANGUAGE": "en", "QUIET_HOURS": "night"}, cwd=tmp_path
    )
    assert result.returncode == 2
    assert own_lines(result) == [
        "linlitong: QUIET_HOURS takes HH:MM-HH:MM, e.g. 22:00-07:00, or off"
    ]


def test_a_bad_language_is_named_in_chinese(tmp_path: Path) -> None:
    result = run_cli("run", env={"BOT_TOKEN": TOKEN, "LANGUAGE": "fr"}, cwd=tmp_path)
    assert result.returncode == 2
    assert own_lines(result) == [
        "linlitong: LANGUAGE 应为 zh 或 en，或 auto（私聊时按对方 Telegram 的语言回复）"
    ]


# -- what needs a database, and what may create one ----------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["export", "--output", "ledger.csv"],
        ["grid", "list"],
        ["db", "backup", "b.db"],
        ["db", "check"],
    ],
)
def test_commands_never_create_a_missing_database(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    db = tmp_path / "data" / "absent.db"
    monkeypatch.setenv("DATABASE_PATH", str(db))
    monkeypatch.chdir(tmp_path)
    assert main(command) == 1
    err = capsys.readouterr().err
    assert f"数据库 {db} 不存在；先运行 linlitong db migrate 或 linlitong run" in err
    assert not db.parent.exists() and not (tmp_path / "ledger.csv").exists()


@pytest.mark.parametrize(
    "command", [["export", "--output", "{missing}/ledger.csv"], ["db", "backup", "{missing}/b.db"]]
)
def test_output_into_a_missing_folder_is_an_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "l.db"))
    assert main(["db", "migrate"]) == 0
    missing = tmp_path / "no" / "such"
    assert main([part.format(missing=missing) for part in command]) == 2
    assert f"目录 {missing} 不存在" in capsys.readouterr().err
    assert not missing.exists() and not missing.parent.exists()


def test_a_bad_setting_a_command_does_not_use_is_only_mentioned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "l.db"))
    monkeypatch.setenv("DIGEST_TIME", "6pm")
    assert main(["db", "migrate"]) == 0
    assert main(["db", "backup", str(tmp_path / "b.db")]) == 0
    assert (tmp_path / "b.db").exists()
    assert "注意：DIGEST_TIME 应为 HH:MM，例如 18:00" in capsys.readouterr().err


# -- help, version, groups: no settings needed ---------------------------------------------------


@pytest.fixture
def broken_env(tmp_path: Path) -> Path:
    (tmp_path / ".env").write_text(
        "DIGEST_TIME=6pm\nBOT_API_BASE_URL=http://127.0.0.1:8081\nLANGUAGE=fr\n", "utf-8"
    )
    return tmp_path


def test_help_and_version_work_with_a_broken_env(broken_env: Path) -> None:
    assert run_cli("--help", cwd=broken_env).returncode == 0
    result = run_cli("--version", cwd=broken_env)
    assert result.returncode == 0
    assert result.stdout.strip() == f"linlitong {version('linlitong')}" == "linlitong 0.1.0"


@pytest.mark.parametrize(
    ("group", "commands"), [("db", ("migrate", "backup", "check")), ("grid", ("list",))]
)
def test_a_group_without_its_command_lists_its_commands(
    broken_env: Path, group: str, commands: tuple[str, ...]
) -> None:
    result = run_cli(group, cwd=broken_env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"usage: linlitong {group}" in result.stdout
    for command in commands:
        assert command in result.stdout


@pytest.mark.e2e
def test_the_demo_plays_with_a_broken_env_and_shows_what_it_sends(broken_env: Path) -> None:
    result = run_cli("demo", env={"TICK_INTERVAL": "often"}, cwd=broken_env, timeout=120)
    transcript = result.stdout
    assert result.returncode == 0, transcript + result.stderr
    for ticket in (4, 5):  # the urgent ones (隐患, 充电): their reminders are printed
        assert f"邻里通: ⏰ 工单 {ticket}（" in transcript, transcript
    assert "已登记 关爱 1：曹大爷（高风险）" in transcript, transcript  # 关爱走访, in private
    assert "已记录 关爱 1 的走访：上门 · 正常" in transcript, transcript
    table = transcript.split("Tickets in the database (5):")[1].strip().splitlines()
    assert "138****5678" in table[5] and "13812345678" not in transcript.split("(5):")[1]


# -- deployment files ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "command"), [("linlitong.service", "run"), ("linlitong-web.service", "web")]
)
def test_the_systemd_units_run_linlitong_hardened(name: str, command: str) -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    assert unit.read(ROOT / "deploy" / name, encoding="utf-8")
    assert {"Unit", "Service", "Install"} <= set(unit.sections())
    service = unit["Service"]
    assert service["ExecStart"].split()[-1] == command
    assert service["ExecStart"].split()[0].endswith("/bin/linlitong")
    assert service["User"] == "linlitong" and service["WorkingDirectory"] == "/opt/linlitong"
    assert service["Restart"] == "on-failure" and service["RestartPreventExitStatus"] == "2"
    assert service["NoNewPrivileges"] == "true" and service["ProtectSystem"] == "strict"
    assert "/opt/linlitong/data" in service["ReadWritePaths"]
    assert service["UMask"] == "0077" and unit["Install"]["WantedBy"] == "multi-user.target"


def test_the_license_is_the_one_pyproject_names() -> None:
    license_text = (ROOT / "LICENSE").read_text("utf-8")
    assert 'license = { text = "MIT" }' in (ROOT / "pyproject.toml").read_text("utf-8")
    assert license_text.startswith("MIT License")
    assert "Copyright (c) 2026 LinliTong contributors" in license_text


@pytest.mark.e2e
@pytest.mark.timeout(240)
async def test_the_demo_leaves_the_web_page_up_with_a_login_link(broken_env: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "demo",
        "--web",
        f"127.0.0.1:{port}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "TICK_INTERVAL": "often"},  # a broken .env changes nothing
        cwd=broken_env,
    )
    assert process.stdout is not None and process.stderr is not None
    transcript: list[str] = []
    link = ""
    try:
        while not link:
            line = (await asyncio.wait_for(process.stdout.readline(), 180)).decode()
            assert line, "the demo ended without a link:\n" + "".join(transcript)
            transcript.append(line)
            if f"http://127.0.0.1:{port}/login?t=" in line:
                link = line.strip()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            token = link.split("?t=", 1)[1]
            assert (await client.get(f"/login?t={token}")).status_code == 200  # spends nothing
            login = await client.post("/login", data={"t": token})
            assert login.status_code == 303 and "linlitong_session" in client.cookies
            table = await client.get("/tickets")
            assert table.status_code == 200
            assert table.text.count("<tr data-id=") == 5  # the demo's five tickets
            async with httpx.AsyncClient(base_url=client.base_url) as stranger:
                again = await stranger.post("/login", data={"t": token})
            assert again.status_code == 410  # single use, the demo's link too
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(process.wait(), 60)
        errors = (await process.stderr.read()).decode()
    assert code == 0, errors
    assert "Traceback" not in errors, errors
