"""The webhook receiver: a Starlette app served by uvicorn inside our own event loop.

It knows HTTP and Telegram's webhook contract, not how an update is handled: it is given
``deliver`` (handle this update; return once it may be confirmed) and ``healthy`` (can the bot
work), and answers

* ``POST <path>`` — 403 unless ``X-Telegram-Bot-Api-Secret-Token`` is the secret (compared in
  constant time; logged at WARNING without the header's value); 400 for a body that is not a JSON
  update; otherwise ``await deliver(update)`` and 200, or 500 when ``deliver`` raised, so that
  Telegram delivers the update again;
* ``GET /healthz`` — 200 when ``healthy()``, 503 otherwise.

uvicorn runs with ``lifespan="off"``, no logging configuration of its own (records go to our
handlers, the token filter included) and no signal handlers: the caller owns SIGINT/SIGTERM and
calls :meth:`WebhookServer.stop`, which stops accepting connections and waits for the requests in
hand to finish (each one's update handled to the end) before it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

logger = logging.getLogger(__name__)

Deliver = Callable[[dict[str, Any]], Awaitable[None]]
Healthy = Callable[[], Awaitable[bool]]

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - the header's name
HEALTH_PATH = "/healthz"
MAX_BODY = 1024 * 1024  # an update is a few kB; Telegram's biggest stay far below this
GRACE_SECONDS = 15  # a stop waits this long for requests in hand (the launcher SIGKILLs at 20)


class BadUpdate(ValueError):
    """``deliver`` raises it for JSON that is not an update it can read: the answer is 400."""


class ListenFailed(Exception):
    """WEBHOOK_LISTEN cannot be bound (in use, not an address of this machine …)."""

    def __init__(self, listen: str, reason: str) -> None:
        super().__init__(f"{listen}: {reason}")
        self.listen = listen
        self.reason = reason


def build_app(*, path: str, secret: str, deliver: Deliver, healthy: Healthy) -> Starlette:
    """The ASGI application: the webhook at ``path`` and ``/healthz``."""
    expected = secret.encode()

    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER)
        if given is None or not hmac.compare_digest(given.encode(), expected):
            where = request.client.host if request.client else "?"
            what = "without the secret token" if given is None else "with a wrong secret token"
            logger.warning("webhook: refused a request from %s %s (403)", where, what)
            return Response(status_code=403)
        update = _update_of(await request.body())
        if update is None:
            logger.warning("webhook: refused a body that is not a JSON update (400)")
            return Response(status_code=400)
        try:
            await deliver(update)
        except BadUpdate as exc:
            logger.warning("webhook: update %s is unreadable (400): %s", update["update_id"], exc)
            return Response(status_code=400)
        except Exception as exc:
            logger.error(
                "webhook: update %s failed; answered 500, Telegram will deliver it again",
                update["update_id"],
                exc_info=exc,
            )
            return Response(status_code=500)
        return Response(status_code=200)

    async def health(request: Request) -> Response:
        if await healthy():
            return PlainTextResponse("ok")
        return PlainTextResponse("unavailable", status_code=503)

    routes = [
        Route(path, receive, methods=["POST"]),
        Route(HEALTH_PATH, health, methods=["GET"]),
    ]
    return Starlette(routes=routes, max_body_size=MAX_BODY)


def _update_of(body: bytes) -> dict[str, Any] | None:
    """The JSON object of an update (it has an integer ``update_id``), or None."""
    try:
        data = json.loads(body)
    except ValueError:  # not JSON, or not UTF-8
        return None
    if not isinstance(data, dict):
        return None
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        return None
    return data


async def listen_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (not yet listening); :class:`ListenFailed` if not."""
    listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    loop = asyncio.get_running_loop()
    try:
        found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = found[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ListenFailed(listen, _reason(exc)) from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ListenFailed(listen, _reason(exc)) from None
    sock.setblocking(False)
    return sock


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


class QuietServer(uvicorn.Server):
    """uvicorn's server, told when it is serving, leaving the signals to its owner."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.serving = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the owner's loop handles SIGINT/SIGTERM (WebhookServer.stop, serve_web)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.serving.set()


class WebhookServer:
    """The ASGI app served on a bound socket; :meth:`start`, then :meth:`stop` whatever happens."""

    def __init__(self, app: Starlette, sock: socket.socket, grace: int = GRACE_SECONDS) -> None:
        self.sock = sock
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_config=None,  # our logging set-up, our token filter
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=grace,
        )
        self._server = QuietServer(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    async def start(self) -> None:
        """Serve; returns once connections are accepted."""
        self._task = asyncio.create_task(self._server.serve(sockets=[self.sock]), name="webhook")
        serving = asyncio.create_task(self._server.serving.wait())
        await asyncio.wait({self._task, serving}, return_when=asyncio.FIRST_COMPLETED)
        serving.cancel()
        if self._task.done():
            self._task.result()  # raises what stopped it
            raise RuntimeError("the webhook server stopped at start-up")

    async def stop(self) -> None:
        """Accept nothing new, finish the requests in hand, close the socket."""
        task, self._task = self._task, None
        if task is None:
            self.sock.close()
            return
        self._server.should_exit = True
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            await task  # a second cancellation still lets the updates in hand finish
            raise
