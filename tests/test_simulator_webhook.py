"""The simulator's webhooks, as Telegram delivers them: setWebhook / deleteWebhook /
getWebhookInfo, POSTs with the secret header, several in flight, redelivery until a 2xx,
allowed_updates, and getUpdates refused meanwhile.

The receiving end is bot.webhook's server with a deliver function written here (the seam the
bot plugs its handling into), so these tests speak only of what goes over the wire.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from telegram import Bot
from telegram.error import Conflict
from telegram.ext import ExtBot

from bot.simulator import ApiError, Simulator, SimulatorRequest
from bot.webhook import WebhookServer, build_app, listen_socket

SECRET = "s3cret_token-for-tests"
JSON = dict[str, Any]


@dataclass
class Receiver:
    """What a bot's webhook got, and how it answers: 500 for the first ``fail`` POSTs of an
    update; held at ``gate`` while it is closed."""

    got: list[JSON] = field(default_factory=list)
    fail: dict[int, int] = field(default_factory=dict)
    gate: asyncio.Event | None = None
    in_flight: int = 0
    most_in_flight: int = 0

    async def deliver(self, update: JSON) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            self.got.append(update)
            update_id = update["update_id"]
            if self.fail.get(update_id, 0) > 0:
                self.fail[update_id] -= 1
                raise RuntimeError("the bot failed")
        finally:
            self.in_flight -= 1

    def ids(self) -> list[int]:
        return [u["update_id"] for u in self.got]


@dataclass
class Hooked:
    sim: Simulator
    receiver: Receiver
    url: str
    server: WebhookServer


async def healthy() -> bool:
    return True


@pytest.fixture
async def hooked() -> AsyncIterator[Hooked]:
    """A simulator that retries at once, and a webhook receiver on a free loopback port."""
    sim = Simulator(webhook_retry_delay=0)
    receiver = Receiver()
    sock = await listen_socket("127.0.0.1", 0)
    app = build_app(path="/hook", secret=SECRET, deliver=receiver.deliver, healthy=healthy)
    server = WebhookServer(app, sock)
    await server.start()
    try:
        yield Hooked(sim, receiver, f"http://127.0.0.1:{server.port}/hook", server)
    finally:
        if receiver.gate is not None:
            receiver.gate.set()
        await sim.close()
        await server.stop()


def newest_update(sim: Simulator) -> int:
    return max(sim.queue.history)


async def set_webhook(h: Hooked, **params: Any) -> None:
    assert await h.sim.call("setWebhook", {"url": h.url, "secret_token": SECRET, **params})


async def test_set_webhook_and_get_webhook_info(hooked: Hooked) -> None:
    sim = hooked.sim
    assert await sim.call("getWebhookInfo") == {
        "url": "",
        "has_custom_certificate": False,
        "pending_update_count": 0,
    }
    await set_webhook(hooked, max_connections=7, allowed_updates='["message", "callback_query"]')
    assert await sim.call("getWebhookInfo") == {
        "url": hooked.url,
        "has_custom_certificate": False,
        "pending_update_count": 0,
        "max_connections": 7,
        "allowed_updates": ["callback_query", "message"],
    }
    assert await sim.call("deleteWebhook") is True
    info = await sim.call("getWebhookInfo")
    assert info["url"] == "" and "max_connections" not in info


async def test_get_updates_is_refused_while_a_webhook_is_set(hooked: Hooked) -> None:
    sim = hooked.sim
    await set_webhook(hooked)
    with pytest.raises(ApiError) as refused:
        await sim.call("getUpdates", {"timeout": 0})
    assert refused.value.error_code == 409
    assert refused.value.description == (
        "Conflict: can't use getUpdates method while webhook is active; "
        "use deleteWebhook to delete the webhook first"
    )
    bot = ExtBot(
        sim.token, request=SimulatorRequest(sim), get_updates_request=SimulatorRequest(sim)
    )
    async with bot:
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates(timeout=0)
        assert await bot.delete_webhook()
        assert await bot.get_updates(timeout=0) == ()


async def test_a_waiting_get_updates_ends_when_a_webhook_is_set(hooked: Hooked) -> None:
    sim = hooked.sim
    poll = asyncio.create_task(sim.call("getUpdates", {"timeout": 30}))
    await sim.wait_for(lambda: sim.calls_to("getUpdates"))
    await set_webhook(hooked)
    with pytest.raises(ApiError) as ended:
        await poll
    assert ended.value.error_code == 409


async def test_each_update_is_posted_with_the_secret_and_confirmed_by_a_2xx(
    hooked: Hooked,
) -> None:
    sim, receiver = hooked.sim, hooked.receiver
    user = sim.add_user("王阿姨")
    chat = sim.private_chat(user)
    sim.send_text(chat, user, "/start")
    first = newest_update(sim)
    await set_webhook(hooked)  # a queued update goes out once the webhook is set
    sim.send_text(chat, user, "#报修 3号楼楼道灯不亮")
    second = newest_update(sim)
    await sim.wait_for(lambda: sim.webhook.acknowledged(second) and sim.pending_updates() == 0)
    assert receiver.got == [sim.update(first), sim.update(second)]
    assert [p.status for p in sim.webhook.posts] == [200, 200]  # our server checked the secret
    assert "last_error_message" not in await sim.call("getWebhookInfo")


async def test_a_post_without_the_secret_is_refused_and_kept(hooked: Hooked) -> None:
    sim, receiver = hooked.sim, hooked.receiver
    assert await sim.call("setWebhook", {"url": hooked.url})  # no secret_token: no header
    user = sim.add_user("王阿姨")
    sim.send_text(sim.private_chat(user), user, "/start")
    update_id = newest_update(sim)
    await sim.wait_for(lambda: sim.webhook.refused(update_id) >= 2)  # refused, and tried again
    info = await sim.call("getWebhookInfo")
    assert info["pending_update_count"] == 1 and receiver.got == []
    assert info["last_error_message"] == "Wrong response from the webhook: 403 Forbidden"
    assert isinstance(info["last_error_date"], int)
    await set_webhook(hooked)  # the secret now: the same update goes through
    await sim.wait_for(lambda: sim.webhook.acknowledged(update_id))
    assert receiver.ids() == [update_id]


async def test_an_update_that_got_a_500_is_posted_again_not_dropped(hooked: Hooked) -> None:
    sim, receiver = hooked.sim, hooked.receiver
    await set_webhook(hooked)
    user = sim.add_user("王阿姨")
    sim.send_text(sim.private_chat(user), user, "/start")
    update_id = newest_update(sim)
    receiver.fail[update_id] = 2
    await sim.wait_for(lambda: sim.webhook.acknowledged(update_id))
    assert [p.status for p in sim.webhook.posts] == [500, 500, 200]
    assert receiver.ids() == [update_id] * 3
    info = await sim.call("getWebhookInfo")
    assert info["pending_update_count"] == 0
    assert info["last_error_message"] == (
        "Wrong response from the webhook: 500 Internal Server Error"
    )


async def test_a_bot_that_cannot_be_reached_loses_nothing(hooked: Hooked) -> None:
    sim = hooked.sim
    with_nobody = await listen_socket("127.0.0.1", 0)  # bound, never listening: refused
    port = with_nobody.getsockname()[1]
    try:
        assert await sim.call("setWebhook", {"url": f"http://127.0.0.1:{port}/hook"})
        user = sim.add_user("王阿姨")
        sim.send_text(sim.private_chat(user), user, "/start")
        update_id = newest_update(sim)
        await sim.wait_for(lambda: sim.webhook.refused(update_id))
        assert (await sim.call("getWebhookInfo"))["last_error_message"] == "Connection refused"
    finally:
        with_nobody.close()
    assert await sim.call("deleteWebhook") is True  # leaving webhook mode: polling gets it
    updates = await sim.call("getUpdates", {"timeout": 0})
    assert [u["update_id"] for u in updates] == [update_id]


async def test_at_most_max_connections_posts_are_in_flight(hooked: Hooked) -> None:
    sim, receiver = hooked.sim, hooked.receiver
    receiver.gate = asyncio.Event()
    await set_webhook(hooked, max_connections=2)
    users = [sim.add_user(f"居民{n}") for n in range(5)]
    for user in users:
        sim.send_text(sim.private_chat(user), user, "/start")
    await sim.wait_for(lambda: receiver.in_flight == 2)
    assert (await sim.call("getWebhookInfo"))["pending_update_count"] == 5
    receiver.gate.set()
    await sim.wait_for(lambda: sim.pending_updates() == 0)
    assert receiver.most_in_flight == 2 and len(receiver.got) == 5


async def test_one_chats_updates_go_one_at_a_time_others_alongside(hooked: Hooked) -> None:
    """Telegram posts a chat's next update only after the one before it got a 2xx."""
    sim, receiver = hooked.sim, hooked.receiver
    receiver.gate = asyncio.Event()
    await set_webhook(hooked, max_connections=10)
    first, second = sim.add_user("王阿姨"), sim.add_user("李大爷")
    mine = sim.private_chat(first)
    sim.send_text(mine, first, "一")
    earlier = newest_update(sim)
    sim.send_text(mine, first, "二")
    later = newest_update(sim)
    sim.send_text(sim.private_chat(second), second, "三")
    other = newest_update(sim)
    receiver.fail[earlier] = 1  # the first answer is a 500: "二" must still wait for it
    await sim.wait_for(lambda: receiver.in_flight == 2)
    assert {p.update_id for p in sim.webhook.posts} == set()  # both held at the gate
    receiver.gate.set()
    await sim.wait_for(lambda: sim.pending_updates() == 0)
    assert receiver.ids() == [earlier, other, earlier, later] or receiver.ids() == [
        other,
        earlier,
        earlier,
        later,
    ]


async def test_allowed_updates_are_honoured(hooked: Hooked) -> None:
    sim, receiver = hooked.sim, hooked.receiver
    await set_webhook(hooked, allowed_updates=["message"])
    admin, user = sim.add_user("张书记"), sim.add_user("王阿姨")
    group = sim.add_group("北瑞小区一网格")
    sim.set_member(group, admin, "creator")
    sim.add_bot(group, by=admin)  # a my_chat_member update, and a service message
    sim.send_text(group, user, "#报修 楼道灯不亮")
    message = newest_update(sim)
    await sim.wait_for(lambda: sim.webhook.acknowledged(message))
    assert {kind for u in receiver.got for kind in u if kind != "update_id"} == {"message"}
    assert sim.pending_updates() == 0


async def test_drop_pending_updates(hooked: Hooked) -> None:
    sim, receiver = hooked.sim, hooked.receiver
    user = sim.add_user("王阿姨")
    sim.send_text(sim.private_chat(user), user, "/start")
    await set_webhook(hooked, drop_pending_updates=True)
    assert (await sim.call("getWebhookInfo"))["pending_update_count"] == 0
    assert await sim.call("deleteWebhook")
    sim.send_text(sim.private_chat(user), user, "/help")
    assert await sim.call("deleteWebhook", {"drop_pending_updates": True})
    assert await sim.call("getUpdates", {"timeout": 0}) == [] and receiver.got == []


async def test_a_redelivered_update_is_posted_again(hooked: Hooked) -> None:
    sim, receiver = hooked.sim, hooked.receiver
    await set_webhook(hooked)
    user = sim.add_user("王阿姨")
    sim.send_text(sim.private_chat(user), user, "/start")
    update_id = newest_update(sim)
    await sim.wait_for(lambda: sim.webhook.acknowledged(update_id))
    sim.redeliver(update_id)
    await sim.wait_for(lambda: sim.webhook.acknowledged(update_id) == 2)
    assert receiver.got == [sim.update(update_id)] * 2


@pytest.mark.parametrize(
    ("params", "description"),
    [
        (
            {"url": "http://example.org/hook"},
            "bad webhook: An HTTPS URL must be provided for webhook",
        ),
        (
            {"url": "https://example.org:8080/hook"},
            "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443",
        ),
        (
            {"url": "https://example.org/hook"},
            "bad webhook: Failed to resolve host: Name or service not known",
        ),
        (
            {"url": "http://127.0.0.1:8443/hook", "secret_token": "123:ABC"},
            "secret token contains unallowed characters",
        ),
    ],
)
async def test_set_webhook_refuses_what_telegram_refuses(
    params: dict[str, str], description: str
) -> None:
    sim = Simulator()
    with pytest.raises(ApiError) as refused:
        await sim.call("setWebhook", params)
    assert refused.value.description == f"Bad Request: {description}"
    assert (await sim.call("getWebhookInfo"))["url"] == ""


async def test_python_telegram_bot_reads_the_webhook_info(hooked: Hooked) -> None:
    bot = Bot(hooked.sim.token, request=SimulatorRequest(hooked.sim))
    async with bot:
        assert await bot.set_webhook(
            hooked.url, secret_token=SECRET, max_connections=3, allowed_updates=["message"]
        )
        info = await bot.get_webhook_info()
    assert info.url == hooked.url and info.max_connections == 3
    assert info.allowed_updates == ("message",) and info.pending_update_count == 0


async def test_a_stop_lets_the_update_in_hand_finish(hooked: Hooked) -> None:
    """bot.webhook's side: a stop while an update is being handled answers it, then stops."""
    sim, receiver = hooked.sim, hooked.receiver
    receiver.gate = asyncio.Event()
    await set_webhook(hooked)
    user = sim.add_user("王阿姨")
    sim.send_text(sim.private_chat(user), user, "/start")
    update_id = newest_update(sim)
    await sim.wait_for(lambda: receiver.in_flight == 1)
    stopping = asyncio.create_task(hooked.server.stop())
    await sim.wait_for(lambda: hooked.server.sock.fileno() == -1)  # accepting no more
    assert not stopping.done()  # but waiting for the request in hand
    receiver.gate.set()
    await stopping
    assert [(p.update_id, p.status) for p in sim.webhook.posts] == [(update_id, 200)]
    assert sim.pending_updates() == 0
