"""bot.transport, the bot's own HTTP client: against servers that answer the way HTTP allows
(chunked, closing, silent, TLS) and against the simulator through python-telegram-bot."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from telegram import InputFile
from telegram.error import BadRequest, NetworkError, TimedOut
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest, RequestData
from telegram.request._requestparameter import RequestParameter

from bot.app import build_application, uses_transport
from bot.config import Settings
from bot.simulator import Simulator
from bot.simulator.server import start_server
from bot.transport import Transport, proxy_in_environment

TOKEN = "123456:SECRET-TOKEN-NEVER-SHOWN"
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Server:
    """A raw HTTP server: each connection handled by ``handler``; connections counted."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[tuple[bytes, bytes]] = []  # (head, body)
        self.arrived = asyncio.Event()  # a request was read
        self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        body = await reader.readexactly(length)
        self.requests.append((head, body))
        self.arrived.set()
        return body

    def url(self, method: str = "getMe", scheme: str = "http") -> str:
        return f"{scheme}://localhost:{self.port}/bot{TOKEN}/{method}"


@asynccontextmanager
async def serving(handler: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[Server]:
    server = Server(handler)
    listener = await asyncio.start_server(server._serve, "127.0.0.1", 0, ssl=tls)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()


def ok(result: object, *, extra: str = "") -> bytes:
    body = json.dumps({"ok": True, "result": result}).encode()
    return (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"{extra}\r\n"
    ).encode() + body


def params(**values: object) -> RequestData:
    return RequestData([RequestParameter.from_input(k, v) for k, v in values.items()])


@asynccontextmanager
async def transport(**options: object) -> AsyncIterator[Transport]:
    client = Transport(**options)  # type: ignore[arg-type]
    await client.initialize()
    try:
        yield client
    finally:
        await client.shutdown()


async def test_requests_go_as_json_over_one_kept_connection() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            body = await server.read_request(reader)
            writer.write(ok(json.loads(body)))
            await writer.drain()

    async with serving(answer) as server, transport() as client:
        for n in range(5):
            data = params(chat_id=-100 - n, text="收到 <b>工单</b>", reply_markup={"a": [1, 2]})
            status, payload = await client.do_request(server.url("sendMessage"), "POST", data)
            assert status == 200
            assert json.loads(payload)["result"] == {
                "chat_id": -100 - n,
                "text": "收到 <b>工单</b>",
                "reply_markup": {"a": [1, 2]},
            }
        assert server.connections == 1
        head = server.requests[0][0].decode()
        assert head.startswith(f"POST /bot{TOKEN}/sendMessage HTTP/1.1\r\n")
        assert f"\r\nHost: localhost:{server.port}\r\n" in head
        assert "\r\nContent-Type: application/json\r\n" in head
        assert client.idle_connections() == 1


async def test_chunked_answers_and_answers_that_end_with_the_connection() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        if server.connections == 1:  # chunked, with an extension and a trailer, kept alive
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            writer.write(b'5;x=1\r\n{"ok"\r\n')
            writer.write(b'14\r\n:true,"result":"ab"}\r\n0\r\nX-Trailer: 1\r\n\r\n')
            await writer.drain()
            await server.read_request(reader)
        # no length: the body ends with the connection
        writer.write(b'HTTP/1.0 200 OK\r\n\r\n{"ok":true,"result":"cd"}')
        await writer.drain()

    async with serving(answer) as server, transport() as client:
        assert (await client.do_request(server.url(), "POST"))[1] == b'{"ok":true,"result":"ab"}'
        assert (await client.do_request(server.url(), "POST"))[1] == b'{"ok":true,"result":"cd"}'
        assert server.connections == 1
        assert client.idle_connections() == 0  # read to its end: not reusable
        assert (await client.do_request(server.url(), "POST"))[1] == b'{"ok":true,"result":"cd"}'
        assert server.connections == 2


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        writer.write(ok(server.connections))
        await writer.drain()
        # and closes it (as a server's keep-alive timeout does), saying nothing

    async with serving(answer) as server, transport() as client:
        for n in (1, 2, 3):
            _, payload = await client.do_request(server.url(), "POST")
            assert json.loads(payload)["result"] == n
            # the close reaches this side before the next request: seen, not reused
            await server_closed(client)
        assert server.connections == 3


async def server_closed(client: Transport) -> None:
    for connections in client._idle.values():
        for connection in connections:
            assert await connection.reader.read() == b""  # waits for the server's close


async def test_bytes_past_an_answer_or_while_idle_are_never_read_as_the_next_answer() -> None:
    """A server may say more than was asked (a 408 and a close while the connection waits):
    the next request goes on a new connection and gets its own answer."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        late = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        writer.write(ok(server.connections) + late)  # in one write: there before the next ask
        await writer.drain()
        await reader.read()  # (until the client lets go)

    async with serving(answer) as server, transport() as client:
        for n in (1, 2, 3):
            status, payload = await client.do_request(server.url(), "POST")
            assert (status, json.loads(payload)["result"]) == (200, n)
        assert server.connections == 3


async def test_a_cancelled_request_frees_its_place_and_drops_its_connection() -> None:
    release = asyncio.Event()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await server.read_request(reader)
            if server.connections == 1:
                await release.wait()  # the first is cancelled while it waits here
            writer.write(ok(server.connections))
            await writer.drain()

    async with serving(answer) as server, transport(pool_size=1) as client:
        first = asyncio.create_task(client.do_request(server.url(), "POST"))
        await server.arrived.wait()
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        # the pool's one place is free again, and the half-used connection is not reused
        _, payload = await client.do_request(server.url(), "POST", pool_timeout=0)
        assert json.loads(payload)["result"] == 2
        release.set()


async def test_a_silent_server_times_out_and_its_connection_is_dropped() -> None:
    release = asyncio.Event()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        await release.wait()  # never answers this one

    async with serving(answer) as server, transport(read_timeout=0.2) as client:
        with pytest.raises(TimedOut) as timed_out:
            await client.do_request(server.url(), "POST")
        assert TOKEN not in str(timed_out.value)
        assert client.idle_connections() == 0
        # a per-request read timeout overrides the default
        with pytest.raises(TimedOut):
            await client.do_request(server.url(), "POST", read_timeout=0.1)
        assert server.connections == 2
        release.set()


async def test_a_full_pool_refuses_before_sending() -> None:
    release = asyncio.Event()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        await release.wait()
        writer.write(ok(True))
        await writer.drain()

    async with serving(answer) as server, transport(pool_size=1, pool_timeout=0.1) as client:
        first = asyncio.create_task(client.do_request(server.url(), "POST"))
        await server.arrived.wait()
        with pytest.raises(TimedOut, match="not sent"):
            await client.do_request(server.url(), "POST")
        assert len(server.requests) == 1
        release.set()
        assert (await first)[0] == 200


async def test_failures_never_name_the_url() -> None:
    async def nonsense(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        writer.write(b"SMTP ready\r\n\r\n")
        await writer.drain()

    async with serving(nonsense) as server, transport() as client:
        with pytest.raises(NetworkError) as unreadable:
            await client.do_request(server.url(), "POST")
    with socket.socket() as bound:  # bound and not listening: a connection is refused
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        async with transport() as client:
            with pytest.raises(NetworkError) as refused:
                await client.do_request(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe", "POST")
    for error in (unreadable.value, refused.value):
        assert TOKEN not in str(error) and TOKEN not in repr(error)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_https_is_verified(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await server.read_request(reader)
            writer.write(ok("over tls"))
            await writer.drain()

    trusting = ssl.create_default_context(cafile=str(cert))
    async with serving(answer, server_tls) as server:
        async with transport(tls=trusting) as client:
            for _ in range(2):
                _, payload = await client.do_request(server.url(scheme="https"), "POST")
                assert json.loads(payload)["result"] == "over tls"
            assert server.connections == 1
        async with transport() as client:  # certifi's authorities: a self-signed one is refused
            with pytest.raises(NetworkError) as refused:
                await client.do_request(server.url(scheme="https"), "POST")
            assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value)
            assert TOKEN not in str(refused.value)


async def test_python_telegram_bot_through_it_against_the_simulator() -> None:
    """Bot methods as the bot calls them: answers, Telegram's errors, long polling, uploads
    (multipart, through httpx)."""
    sim = Simulator()
    server = await start_server(sim)
    bot = ExtBot(
        sim.token,
        base_url=server.base_url,
        request=Transport(),
        get_updates_request=Transport(pool_size=1),
    )
    try:
        async with bot:
            resident = sim.add_user("王阿姨")
            group = sim.add_group("3号楼群")
            sim.add_bot(group, resident)
            report = sim.send_text(group, resident, "#报修 3号楼楼道灯不亮")
            updates = await bot.get_updates(timeout=0)
            assert updates[-1].message is not None
            assert updates[-1].message.message_id == report["message_id"]
            sent = await bot.send_message(
                group.id,
                "<b>已登记</b>",
                parse_mode="HTML",
                reply_to_message_id=report["message_id"],
            )
            assert sent.text == "已登记" and sent.reply_to_message is not None
            with pytest.raises(BadRequest):
                await bot.send_message(group.id, "")
            photo = await bot.send_photo(group.id, InputFile(b"\x89PNG fake", filename="a.png"))
            assert photo.photo
            # a long poll that ends with an update sent meanwhile
            polls = len(sim.calls_to("getUpdates"))
            polling = asyncio.create_task(
                bot.get_updates(offset=updates[-1].update_id + 1, timeout=10)
            )
            # past Transport's own read timeout (5 s): python-telegram-bot adds the poll's
            await sim.wait_for(lambda: len(sim.calls_to("getUpdates")) > polls)
            sim.send_text(group, resident, "谢谢")  # while the poll waits
            (later,) = await polling
            assert later.message is not None and later.message.text == "谢谢"
    finally:
        await server.stop()


def test_a_proxy_in_the_environment_or_the_setting_chooses_httpx(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    settings = Settings(_env_file=None, bot_token=TOKEN)
    assert not proxy_in_environment()
    assert uses_transport(settings)
    assert isinstance(build_application(settings).bot.request, Transport)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert proxy_in_environment()
    assert not uses_transport(settings)
    assert isinstance(build_application(settings).bot.request, HTTPXRequest)
    monkeypatch.delenv("HTTPS_PROXY")
    monkeypatch.setenv("All_Proxy", "socks5://proxy.example:1080")  # any case, as httpx reads it
    assert not uses_transport(settings)
    monkeypatch.delenv("All_Proxy")
    httpx_settings = Settings(_env_file=None, bot_token=TOKEN, telegram_http="httpx")
    assert not uses_transport(httpx_settings)
    assert isinstance(build_application(httpx_settings).bot.request, HTTPXRequest)
