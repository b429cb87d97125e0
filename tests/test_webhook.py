"""Webhook mode in-process: the bot on the simulator transport, bot.webhook's server on a free
loopback port, and the simulator (or the test, as a stranger would) POSTing to it.

Grids are bound by polling first (tests.harness), as a deployment that switches to webhooks
would have them; then the webhook takes over.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from telegram import Update

from bot.app import inbox_of, receive_webhook, webhook_server
from bot.simulator import Simulator
from bot.webhook import SECRET_HEADER, listen_socket
from tests.harness import Harness, harness

SECRET = "linlitong-test_secret-42"
TOKEN = "123456789:AAE-very-secret-token-value_x"
JSON = dict[str, Any]


@asynccontextmanager
async def hooked_bot(tmp_path: Path) -> AsyncIterator[tuple[Harness, socket.socket, str]]:
    """The in-process bot set up for webhooks on a bound loopback socket; its WEBHOOK_URL."""
    sock = await listen_socket("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/telegram"
    sim = Simulator(webhook_retry_delay=0)
    try:
        async with harness(tmp_path, sim=sim, webhook_url=url, webhook_secret=SECRET) as h:
            yield h, sock, url
    finally:
        await sim.close()
        sock.close()


def newest_update(sim: Simulator) -> int:
    return max(sim.queue.history)


async def post(url: str, body: JSON | bytes, secret: str | None = SECRET) -> int:
    headers = {} if secret is None else {SECRET_HEADER: secret}
    async with aiohttp.ClientSession() as client:
        if isinstance(body, bytes):
            response = await client.post(url, data=body, headers=headers)
        else:
            response = await client.post(url, json=body, headers=headers)
        async with response:
            return response.status


async def health(server_url: str) -> int:
    async with aiohttp.ClientSession() as client, client.get(f"{server_url}/healthz") as response:
        return response.status


async def test_a_report_through_the_webhook_gets_one_ticket_and_one_receipt(
    tmp_path: Path,
) -> None:
    async with hooked_bot(tmp_path) as (h, sock, url):
        sim = h.sim
        resident = sim.add_user("王阿姨")
        grid = await h.grid("北瑞小区一网格", resident)
        receiving = asyncio.create_task(receive_webhook(h.app, sock))
        try:
            await sim.wait_for(lambda: sim.webhook.webhook is not None)
            message = sim.send_text(grid, resident, "#报修 3号楼2单元楼道灯不亮")
            update_id = newest_update(sim)
            await sim.wait_for(lambda: sim.webhook.acknowledged(update_id))
            # answered 200 once kept in the inbox; the inbox worker (drained here) handles it
            assert [i.update_id for i in await h.storage.inbox.pending(grid.id, 10)] == [update_id]
            assert await inbox_of(h.app).drain() == 1
            await h.flush()
            ticket = await h.storage.tickets.by_message(grid.id, message["message_id"])
            assert ticket is not None
            assert f"工单 {ticket.id} 已登记" in h.reply_text(grid, message)

            # Telegram posts it again (our 200 was lost on the way): nothing doubles
            sim.redeliver(update_id)
            await sim.wait_for(lambda: sim.webhook.acknowledged(update_id) == 2)
            assert await inbox_of(h.app).drain() == 0
            await h.flush()
            assert len(h.replies(grid, message)) == 1
            again = await h.storage.tickets.by_message(grid.id, message["message_id"])
            assert again is not None and again.id == ticket.id
            info = await h.app.bot.get_webhook_info()
            assert info.url == url and info.pending_update_count == 0
        finally:
            receiving.cancel()
            await asyncio.gather(receiving, return_exceptions=True)
        hook = sim.webhook.webhook
        assert hook is not None, "a clean stop leaves the webhook set"
        assert hook.secret_token == SECRET and hook.max_connections == 40
        assert sim.queue.allowed == frozenset(Update.ALL_TYPES)
        set_call = sim.calls_to("setWebhook")[-1].params
        assert str(set_call.get("drop_pending_updates", False)).lower() in {"false", "0"}


async def test_a_request_without_the_secret_is_refused_and_nothing_is_handled(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with hooked_bot(tmp_path) as (h, sock, url):
        sim = h.sim
        resident = sim.add_user("王阿姨")
        grid = await h.grid("北瑞小区一网格", resident)
        message = sim.send_text(grid, resident, "#报修 5号楼电梯停了")
        update = sim.update(newest_update(sim))  # Telegram's JSON of it; no webhook posts it
        server = webhook_server(h.app, sock)
        await server.start()
        try:
            with caplog.at_level(logging.WARNING, logger="bot.webhook"):
                for secret in (None, "guess-123", SECRET + "x", SECRET[:-1]):
                    assert await post(url, update, secret) == 403
            assert not await h.storage.updates.seen(update["update_id"])
            assert await h.storage.tickets.by_message(grid.id, message["message_id"]) is None
            refusals = [r for r in caplog.records if r.name == "bot.webhook"]
            assert len(refusals) == 4 and all(r.levelno == logging.WARNING for r in refusals)
            assert "guess-123" not in caplog.text and SECRET not in caplog.text

            # with the secret, twice in a row, then twice at once: handled once
            assert await post(url, update) == 200
            assert await post(url, update) == 200
            other = sim.send_text(grid, resident, "#报修 6号楼楼道灯不亮")
            twice = sim.update(newest_update(sim))
            assert list(await asyncio.gather(post(url, twice), post(url, twice))) == [200, 200]
            assert await inbox_of(h.app).drain() == 2
            await h.flush()
            for sent in (message, other):
                assert await h.storage.tickets.by_message(grid.id, sent["message_id"])
                assert len(h.replies(grid, sent)) == 1
        finally:
            await server.stop()


async def test_a_body_that_is_not_an_update_is_400(tmp_path: Path) -> None:
    async with hooked_bot(tmp_path) as (h, sock, url):
        server = webhook_server(h.app, sock)
        await server.start()
        try:
            assert await post(url, b"{not json") == 400
            assert await post(url, b"\xff\xfe") == 400
            assert await post(url, {"message": {}}) == 400  # no update_id
            assert await post(url, {"update_id": "7"}) == 400
            assert await post(url, {"update_id": 7, "message": {"text": "x"}}) == 400
            assert await post(url, b"[1, 2]") == 400
        finally:
            await server.stop()


async def test_healthz_follows_the_database_and_a_failed_update_is_500(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with hooked_bot(tmp_path) as (h, sock, url):
        sim = h.sim
        await h.grid("北瑞小区一网格")
        handled = sim.update(newest_update(sim))  # the /bind, handled
        server = webhook_server(h.app, sock)
        await server.start()
        base = f"http://127.0.0.1:{server.port}"
        try:
            assert await health(base) == 200
            await h.storage.close()
            assert await health(base) == 503
            # whether it was handled cannot be known now: 500, so that Telegram tries again
            with caplog.at_level(logging.INFO, logger="bot.webhook"):
                assert await post(url, handled) == 500
        finally:
            await server.stop()
    failures = [r for r in caplog.records if r.name == "bot.webhook" and r.levelno >= logging.ERROR]
    assert len(failures) == 1, caplog.text
    assert sim.token not in caplog.text and SECRET not in caplog.text


# -- the command line -------------------------------------------------------------------------


def run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "DATABASE_PATH": str(tmp_path / "x.db"), **env},
        cwd=tmp_path,
        check=False,
    )


def own_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("linlitong: ")]


def assert_one_line(result: subprocess.CompletedProcess[str], *secrets: str) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    for secret in (TOKEN, TOKEN.split(":")[1], *secrets):
        assert secret not in output
    lines = own_lines(result)
    assert len(lines) == 1 and result.stderr.strip() == lines[0], output
    return lines[0]


def test_webhook_without_a_secret_is_one_line_and_exit_2(tmp_path: Path) -> None:
    url = "https://bot.example.org/telegram"
    line = assert_one_line(run_cli(tmp_path, "run", "--webhook", BOT_TOKEN=TOKEN, WEBHOOK_URL=url))
    assert "WEBHOOK_SECRET" in line and "openssl rand -hex 32" in line
    # WEBHOOK_URL alone means webhook mode too
    line = assert_one_line(run_cli(tmp_path, "run", BOT_TOKEN=TOKEN, WEBHOOK_URL=url))
    assert "WEBHOOK_SECRET" in line
    assert not (tmp_path / "x.db").exists()


def test_webhook_without_a_url_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "run", "--webhook", BOT_TOKEN=TOKEN, WEBHOOK_SECRET=SECRET)
    line = assert_one_line(result, SECRET)
    assert "WEBHOOK_URL" in line and "https://" in line


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("WEBHOOK_URL", "http://bot.example.org/telegram", "https://"),
        ("WEBHOOK_URL", "https://bot.example.org:9000/telegram", "8443"),
        ("WEBHOOK_SECRET", "has:colon", "A-Z"),
        ("WEBHOOK_SECRET", "x" * 257, "256"),
        ("WEBHOOK_LISTEN", "8443", "127.0.0.1:8443"),
        ("WEBHOOK_LISTEN", "127.0.0.1:70000", "127.0.0.1:8443"),
        ("WEBHOOK_MAX_CONNECTIONS", "0", "100"),
    ],
)
def test_a_malformed_webhook_setting_is_named_in_one_line(
    tmp_path: Path, name: str, value: str, says: str
) -> None:
    env = {"WEBHOOK_URL": "https://bot.example.org/telegram", "WEBHOOK_SECRET": SECRET}
    result = run_cli(tmp_path, "run", "--webhook", BOT_TOKEN=TOKEN, **{**env, name: value})
    line = assert_one_line(result, SECRET, *([value] if name == "WEBHOOK_SECRET" else []))
    assert line.startswith(f"linlitong: {name} ") and says in line


def test_a_busy_webhook_listen_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        listen = f"127.0.0.1:{busy.getsockname()[1]}"
        result = run_cli(
            tmp_path,
            "run",
            "--webhook",
            BOT_TOKEN=TOKEN,
            BOT_API_BASE_URL="http://127.0.0.1:9/bot",  # never asked: the port is bound first
            WEBHOOK_URL="https://bot.example.org/telegram",
            WEBHOOK_SECRET=SECRET,
            WEBHOOK_LISTEN=listen,
            LOG_LEVEL="WARNING",
        )
    line = assert_one_line(result, SECRET)
    assert f"WEBHOOK_LISTEN={listen}" in line
