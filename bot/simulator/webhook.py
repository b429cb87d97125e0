"""Webhook delivery the way Telegram does it: ``setWebhook``, ``deleteWebhook``, ``getWebhookInfo``.

* While a webhook is set, ``getUpdates`` answers ``409`` with Telegram's text
  (:data:`bot.simulator.updates.WEBHOOK_CONFLICT`).
* Each queued update is POSTed as JSON to the URL, with ``X-Telegram-Bot-Api-Secret-Token``
  when a ``secret_token`` was given, at most ``max_connections`` requests in flight. As Telegram
  does, the updates of one chat go one at a time, in order: the next is POSTed only once the one
  before it got a 2xx; different chats' updates go at the same time.
* An update whose POST got no 2xx (another status, a refused connection, a timeout) stays
  queued and is POSTed again ``retry_delay`` seconds later (a :class:`Simulator` parameter;
  tests set 0), never dropped; ``getWebhookInfo`` shows ``last_error_date`` and
  ``last_error_message`` in Telegram's words ("Wrong response from the webhook: 500 Internal
  Server Error").
* ``allowed_updates`` is the same setting as ``getUpdates``'s and filters the same way.

Differences: Telegram accepts only https URLs on ports 443, 80, 88 and 8443; the simulator also
takes ``http://`` for a loopback host (127.0.0.1, localhost, ::1) on any port, so a bot on this
machine can be reached without TLS, and answers any other host as an unresolvable one (it has no
network). Telegram retries with growing delays and gives up after a day; the simulator keeps
trying every ``retry_delay`` seconds. No ``certificate``, no ``ip_address``.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from .models import JSON, bad_request
from .params import Params
from .updates import Key, Notifier, UpdateQueue
from .wire import dump

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - the header's name
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
WEBHOOK_PORTS = frozenset({443, 80, 88, 8443})
DEFAULT_MAX_CONNECTIONS = 40
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_IDLE = 3600.0  # nothing to retry: sleep until something changes (every change notifies)


@dataclass(frozen=True)
class Webhook:
    """What ``setWebhook`` was given."""

    url: str
    secret_token: str | None
    max_connections: int


@dataclass(frozen=True)
class WebhookPost:
    """One delivery attempt: the update, and the answer (``status``) or why none came."""

    update_id: int
    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the bot's server answered 2xx (the update is then confirmed)."""
        return self.status is not None and 200 <= self.status < 300


class WebhookDelivery:
    """The webhook of the one bot and the task that POSTs its updates."""

    def __init__(
        self,
        queue: UpdateQueue,
        notifier: Notifier,
        now: Callable[[], int],
        *,
        retry_delay: float,
        timeout: float,
    ) -> None:
        self._queue = queue
        self._notifier = notifier
        self._now = now
        self.retry_delay = retry_delay
        self.timeout = timeout
        self.webhook: Webhook | None = None
        self.posts: list[WebhookPost] = []
        self.last_error_date: int | None = None
        self.last_error_message: str | None = None
        self._in_flight: set[Key] = set()
        self._not_before: dict[Key, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._posting: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    # ------------------------------------------------------------------------- the methods

    def set(self, p: Params) -> bool:
        """``setWebhook``: an empty URL removes the webhook, as ``deleteWebhook`` does."""
        url = (p.str_("url") or "").strip()
        allowed = p.obj("allowed_updates", "allowed updates")
        if allowed is not None and not isinstance(allowed, list):
            raise bad_request("can't parse allowed updates JSON object")
        if not url:
            return self.delete(drop_pending=p.bool_("drop_pending_updates"))
        _check_url(url)
        secret = p.str_("secret_token") or None
        if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
            # Telegram's text for unallowed characters; for a token over 256 characters the
            # simulator says the same (an approximation)
            raise bad_request("secret token contains unallowed characters")
        # Telegram keeps max_connections within 1..100 (the simulator clamps; an approximation)
        connections = p.int_("max_connections", DEFAULT_MAX_CONNECTIONS) or DEFAULT_MAX_CONNECTIONS
        self.webhook = Webhook(url, secret, min(100, max(1, connections)))
        self._queue.set_allowed(allowed)
        if p.bool_("drop_pending_updates"):
            self._queue.drop_pending()
        self._queue.webhook_active = True
        self.last_error_date = self.last_error_message = None
        self._start()
        self._notifier.notify()
        return True

    def delete(self, *, drop_pending: bool) -> bool:
        """``deleteWebhook``: updates not confirmed stay queued for ``getUpdates``."""
        if drop_pending:
            self._queue.drop_pending()
            self._not_before.clear()
        self.webhook = None
        self._queue.webhook_active = False
        self.last_error_date = self.last_error_message = None
        self._notifier.notify()
        return True

    def info(self) -> JSON:
        """``getWebhookInfo``."""
        info: JSON = {
            "url": self.webhook.url if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": self._queue.count(),
        }
        if self.webhook is None:
            return info
        info["max_connections"] = self.webhook.max_connections
        if self._queue.allowed is not None:
            info["allowed_updates"] = sorted(self._queue.allowed)
        if self.last_error_date is not None:
            info["last_error_date"] = self.last_error_date
            info["last_error_message"] = self.last_error_message
        return info

    async def close(self) -> None:
        """Stop posting (the webhook stays set) and close the HTTP client."""
        tasks = [t for t in (self._task, *self._posting) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    # ------------------------------------------------------------------------- reading

    def acknowledged(self, update_id: int) -> int:
        """How many POSTs of this update got a 2xx."""
        return sum(1 for post in self.posts if post.update_id == update_id and post.ok)

    def refused(self, update_id: int) -> int:
        """How many POSTs of this update got no 2xx."""
        return sum(1 for post in self.posts if post.update_id == update_id and not post.ok)

    # ------------------------------------------------------------------------- delivering

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="sim-webhook")

    async def _run(self) -> None:
        while self.webhook is not None:
            self._launch(self.webhook)
            await self._notifier.wait(self._next_retry())

    def _launch(self, hook: Webhook) -> None:
        """POST every update that is due, up to ``max_connections`` in flight, in order; an
        update waits while an earlier one of its chat is unconfirmed (in flight or to retry)."""
        now = asyncio.get_running_loop().time()
        waiting_chats: set[int] = set()
        for key, update in self._queue.outgoing():
            chat = sequence_of(update)
            if chat is not None:
                if chat in waiting_chats:
                    continue
                waiting_chats.add(chat)
            if len(self._in_flight) >= hook.max_connections:
                return
            if key in self._in_flight or self._not_before.get(key, 0.0) > now:
                continue
            self._in_flight.add(key)
            task = asyncio.get_running_loop().create_task(
                self._post(hook, key, copy.deepcopy(update)), name=f"sim-webhook-{key[0]}"
            )
            self._posting.add(task)
            task.add_done_callback(self._posting.discard)

    def _next_retry(self) -> float:
        now = asyncio.get_running_loop().time()
        waiting = [t for k, t in self._not_before.items() if k not in self._in_flight]
        return max(0.0, min(waiting) - now) if waiting else _IDLE

    async def _post(self, hook: Webhook, key: Key, update: JSON) -> None:
        try:
            post = await self._send(hook, update)
        finally:
            self._in_flight.discard(key)
        self.posts.append(post)
        if post.ok:
            self._queue.acknowledge(key)
            self._not_before.pop(key, None)
        else:
            self._not_before[key] = asyncio.get_running_loop().time() + self.retry_delay
            self.last_error_date = self._now()
            self.last_error_message = post.error
            logger.info("webhook: update %s not accepted (%s)", key[0], post.error)
        self._notifier.notify()

    async def _send(self, hook: Webhook, update: JSON) -> WebhookPost:
        update_id = int(update["update_id"])
        headers = {"Content-Type": "application/json"}
        if hook.secret_token is not None:
            headers[SECRET_HEADER] = hook.secret_token
        try:
            async with self._client().post(
                hook.url,
                data=dump(update),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                allow_redirects=False,
            ) as response:
                await response.read()
                status, reason = response.status, response.reason or ""
        except TimeoutError:
            return WebhookPost(update_id, None, "Read timeout expired")
        except aiohttp.ClientConnectorError:
            return WebhookPost(update_id, None, "Connection refused")
        except aiohttp.ClientError as exc:
            return WebhookPost(update_id, None, f"Connection error: {type(exc).__name__}")
        if 200 <= status < 300:
            return WebhookPost(update_id, status)
        return WebhookPost(
            update_id, status, f"Wrong response from the webhook: {status} {reason}".strip()
        )

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            # no proxies from the environment: the bot is on this machine
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        return self._session


def sequence_of(update: JSON) -> int | None:
    """The chat whose updates are delivered in sequence (the sender's, for an update that has
    no chat, such as a poll answer); None for an update that belongs to neither."""
    for value in update.values():
        if not isinstance(value, dict):
            continue
        for holder in (value, value.get("message")):
            if isinstance(holder, dict) and isinstance(holder.get("chat"), dict):
                return int(holder["chat"]["id"])
        for who in ("from", "user"):
            if isinstance(value.get(who), dict):
                return int(value[who]["id"])
    return None


def _check_url(url: str) -> None:
    """Telegram's checks of a webhook URL, with the simulator's loopback allowance."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    loopback = host in LOOPBACK_HOSTS
    if parts.scheme.lower() != "https" and not (parts.scheme.lower() == "http" and loopback):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    if loopback:
        return
    try:
        port = parts.port or 443
    except ValueError:
        port = 0
    if port not in WEBHOOK_PORTS:
        raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
    # No network here: any other host could never be reached.
    raise bad_request("bad webhook: Failed to resolve host: Name or service not known")
