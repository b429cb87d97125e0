"""The simulator over HTTP on 127.0.0.1: the Bot API, file downloads and the control API.

* ``/bot<token>/<method>`` — the Bot API: GET with a query string, or POST with a JSON body,
  ``application/x-www-form-urlencoded`` or ``multipart/form-data`` (what python-telegram-bot
  sends: form fields whose nested values are JSON strings, files as parts);
* ``/file/bot<token>/<file_path>`` — downloads of files ``getFile`` describes;
* ``/control/<action>`` — the JSON control API (:mod:`bot.simulator.control`).

    server = await start_server(sim)
    app = Application.builder().token(sim.token).base_url(server.base_url).build()
    …
    await server.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from typing import Any

from aiohttp import BodyPartReader, web

from .control import ControlError, run_action
from .core import Simulator
from .models import UploadedFile
from .wire import (
    NOT_FOUND,
    ApiResponse,
    dump,
    error_response,
    file_response,
    handle_api_call,
)

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
MAX_UPLOAD = 60 * 1024 * 1024  # Telegram lets bots upload 50 MB
BAD_GATEWAY = ApiResponse(502, dump({"ok": False, "error_code": 502, "description": "Bad Gateway"}))


class SimServer:
    """A running simulator server; :meth:`stop` it when done."""

    def __init__(self, sim: Simulator, port: int) -> None:
        self.sim = sim
        self.port = port
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def base_url(self) -> str:
        """What ``ApplicationBuilder.base_url`` takes: ``http://127.0.0.1:<port>/bot``."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """What ``ApplicationBuilder.base_file_url`` takes."""
        return f"{self.url}/file/bot"

    @property
    def control_url(self) -> str:
        """Root of the control API: ``http://127.0.0.1:<port>/control``."""
        return f"{self.url}/control"

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` has begun."""
        return self._stopping.is_set()

    async def start(self, sock: socket.socket) -> None:
        """Serve on an already bound socket."""
        self._runner = web.AppRunner(build_app(self), shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        """Answer waiting long polls, stop webhook deliveries, drop hung requests and close the
        listening socket."""
        self._stopping.set()
        self.sim.interrupt_polls()
        await self.sim.close()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    # ----------------------------------------------------------------------------- handlers

    async def api(self, request: web.Request) -> web.StreamResponse:
        """``/bot<token>/<method>``."""
        if self.stopping:
            return _respond(BAD_GATEWAY)
        params = await read_params(request)
        response = await handle_api_call(
            self.sim, request.match_info["token"], request.match_info["method"], params
        )
        if response.timed_out:
            await self._hang_and_drop(request)
        return _respond(response)

    async def files(self, request: web.Request) -> web.StreamResponse:
        """``/file/bot<token>/<file_path>``."""
        response = file_response(self.sim, request.match_info["token"], request.match_info["path"])
        if response.status != 200:
            return _respond(response)
        return web.Response(body=response.body, content_type="application/octet-stream")

    async def control(self, request: web.Request) -> web.StreamResponse:
        """``/control/<action>``."""
        try:
            body = await _control_body(request)
            result = await run_action(self.sim, request.match_info["action"], body)
        except ControlError as exc:
            return web.Response(
                status=exc.status,
                body=dump({"ok": False, "error": str(exc)}),
                content_type="application/json",
            )
        return web.Response(
            body=dump({"ok": True, "result": result}), content_type="application/json"
        )

    async def _hang_and_drop(self, request: web.Request) -> None:
        """A simulated timeout: hold the request, then close the connection unanswered."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.sim.faults.hang_seconds):
                await self._stopping.wait()
        if request.transport is not None:
            request.transport.close()


def _respond(response: ApiResponse) -> web.Response:
    return web.Response(status=response.status, body=response.body, content_type="application/json")


async def _control_body(request: web.Request) -> dict[str, Any]:
    body: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        try:
            data = await request.json()
        except ValueError:
            raise ControlError(400, "the body must be a JSON object") from None
        if data is not None and not isinstance(data, dict):
            raise ControlError(400, "the body must be a JSON object")
        body.update(data or {})
    return body


async def read_params(request: web.Request) -> dict[str, Any]:
    """Bot API parameters from the query string and a JSON, form or multipart body."""
    params: dict[str, Any] = dict(request.query)
    if not request.can_read_body:
        return params
    content_type = request.content_type
    if content_type == "multipart/form-data":
        params.update(await _read_multipart(request))
    elif content_type == "application/x-www-form-urlencoded":
        form = await request.post()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    else:
        raw = await request.read()
        if raw.strip():
            try:
                data = json.loads(raw)
            except ValueError:
                data = None
            if isinstance(data, dict):
                params.update(data)
    return params


async def _read_multipart(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = {}
    reader = await request.multipart()
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        data = bytes(await part.read(decode=False))
        if part.filename is not None:
            params[part.name] = UploadedFile(part.filename, data, part.headers.get("Content-Type"))
        else:
            params[part.name] = data.decode(part.get_charset("utf-8"))
    return params


def build_app(server: SimServer) -> web.Application:
    """The aiohttp application with the three route families."""
    app = web.Application(client_max_size=MAX_UPLOAD)
    app.router.add_route("*", "/bot{token}/{method}", server.api)
    app.router.add_get("/file/bot{token}/{path:.+}", server.files)
    app.router.add_route("*", "/control/{action:.+}", server.control)
    app.router.add_route("*", "/{tail:.*}", _not_found)
    return app


async def _not_found(request: web.Request) -> web.StreamResponse:
    """Anything else gets the JSON 404 Telegram answers for unknown paths."""
    return _respond(error_response(NOT_FOUND))


def _bind(host: str, port: int) -> socket.socket:
    if host not in (LOOPBACK, "localhost"):
        raise ValueError(f"the simulator only listens on {LOOPBACK}, not {host!r}")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((LOOPBACK, port))
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


async def start_server(sim: Simulator, host: str = LOOPBACK, port: int = 0) -> SimServer:
    """Serve ``sim`` on ``127.0.0.1:port`` (0 = a free port); returns the running server."""
    sock = _bind(host, port)
    server = SimServer(sim, int(sock.getsockname()[1]))
    try:
        await server.start(sock)
    except BaseException:
        sock.close()
        raise
    logger.info("simulator listening on %s", server.base_url)
    return server
