"""End to end: the real `linlitong run --webhook` process, the simulator POSTing to it over HTTP
on 127.0.0.1 the way Telegram does."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from bot.launcher import RUN_SCRIPT, start_bot
from bot.simulator import ApiError, Simulator, start_server
from tests.e2e import WEBHOOK_SECRET, bind, count, free_port, grid_cast, reply_to, running

pytestmark = pytest.mark.e2e


async def test_the_real_process_by_webhook_then_by_polling(
    tmp_path: Path, database: Path | str
) -> None:
    sim = Simulator(webhook_retry_delay=0)
    cast = grid_cast(sim)
    grid, resident = cast.grid, cast.resident
    async with running(sim, tmp_path, database=database, admin=cast.admin, webhook=True) as live:
        assert live.webhook_url is not None
        assert "✅" in (await bind(sim, grid, cast.admin, "/bind 第一网格 通顺社区"))["text"]
        report = sim.send_text(grid, resident, "#报修 3号楼2单元楼道灯不亮")
        update_id = max(sim.queue.history)
        assert "工单 1 已登记" in (await reply_to(sim, grid, report["message_id"]))["text"]

        # Telegram posts the same update again: no second ticket, no second receipt
        sim.redeliver(update_id)
        await sim.wait_for(lambda: sim.webhook.acknowledged(update_id) == 2)
        later = sim.send_text(grid, resident, "#报修 5号楼电梯停了")
        assert "工单 2 已登记" in (await reply_to(sim, grid, later["message_id"]))["text"]
        assert len(sim.replies_to(grid.id, report["message_id"])) == 1  # a copy would be before
        assert count(sim, grid, "已登记") == 2

        with pytest.raises(ApiError) as refused:  # no one may poll meanwhile
            await sim.call("getUpdates", {"timeout": 0})
        assert refused.value.error_code == 409
        health = live.webhook_url.replace("/telegram", "/healthz")
        async with aiohttp.ClientSession() as client, client.get(health) as answer:
            assert answer.status == 200
        assert await live.bot.stop() == 0

    log = live.bot.log()
    assert "Traceback" not in log
    for secret in (sim.token, sim.token.split(":")[1], WEBHOOK_SECRET):
        assert secret not in log
    # A clean stop keeps the webhook: what residents write meanwhile waits at Telegram
    assert (await sim.call("getWebhookInfo"))["url"] == live.webhook_url
    meanwhile = sim.send_text(grid, resident, "#报修 7号楼门禁坏了")
    assert sim.pending_updates() == 1

    # Back to polling: the webhook is deleted first, and the waiting report is handled
    async with running(sim, tmp_path, database=database, admin=cast.admin) as polling:
        assert "工单 3 已登记" in (await reply_to(sim, grid, meanwhile["message_id"]))["text"]
        assert (await sim.call("getWebhookInfo"))["url"] == ""
        assert await polling.bot.stop() == 0
    assert count(sim, grid, "已登记") == 3


async def test_a_webhook_url_telegram_refuses_is_one_line_and_exit_2(
    tmp_path: Path, database: Path | str
) -> None:
    sim = Simulator()
    server = await start_server(sim)
    try:
        bot = await start_bot(
            base_url=server.base_url,
            token=sim.token,
            database_path=database,
            cwd=tmp_path,
            log_path=tmp_path / "bot.log",
            extra_env={
                "WEBHOOK_URL": "https://bot.example.org/telegram",  # the simulator has no network
                "WEBHOOK_SECRET": WEBHOOK_SECRET,
                "WEBHOOK_LISTEN": f"127.0.0.1:{free_port()}",
                "LOG_LEVEL": "WARNING",
            },
            command=(*RUN_SCRIPT, "--webhook"),
        )
        try:
            code = await bot.wait(timeout=60)
        finally:
            await bot.stop()
    finally:
        await server.stop()
    log = bot.log()
    assert code == 2, log
    assert "Traceback" not in log and sim.token not in log and WEBHOOK_SECRET not in log
    assert log.strip().splitlines() == [
        "linlitong: Telegram 拒绝了 WEBHOOK_URL=https://bot.example.org/telegram："
        "Bad webhook: failed to resolve host: name or service not known。"
        "请确认这个地址能从公网用 HTTPS 访问，并转发到 WEBHOOK_LISTEN。"
    ]
