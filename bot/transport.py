"""The bot's HTTP client for the Bot API: keep-alive HTTP/1.1 requests over asyncio streams.

python-telegram-bot sends every request through a :class:`~telegram.request.BaseRequest`; its
own, :class:`~telegram.request.HTTPXRequest`, costs ~1.4 ms of CPU a request on the test
machine (httpx, httpcore, anyio and h11 between the bot and its socket), and a receipt is one
request: most of what a report costs (bench/README.md, "Less work per report"). This one does
only what the Bot API asks of a client, at ~0.2 ms:

* a request to the API's one host (or the file host): the method and parameters as a JSON body
  (the Bot API takes ``application/json`` for every method without an upload) and the same
  ``User-Agent`` as python-telegram-bot's;
* the answer read by its ``Content-Length``, chunked, or to the end of the connection;
* connections kept alive and reused, up to ``pool_size`` at once (a request waits
  ``pool_timeout`` for one, then fails as ``TimedOut`` without being sent), an idle one
  closed after :data:`KEEPALIVE_EXPIRY` (as httpx does), or as soon as its server closed it or
  sent anything while it was idle (its socket readable, or bytes left unread); a connection that
  failed or was cancelled half way is closed, never reused;
* TLS for ``https`` URLs, trusting what httpx trusts: ``SSL_CERT_FILE``, else ``SSL_CERT_DIR``,
  else certifi's authorities; IPv6 and IPv4 tried side by side (Happy Eyeballs), as httpx does;
* timeouts as python-telegram-bot means them (connect, write, pool; read for each read of the
  answer, as httpx; ``None`` waits for ever), raised as :class:`~telegram.error.TimedOut`;
  every other failure as
  :class:`~telegram.error.NetworkError`, naming what failed but never the URL, which holds the
  token.

Uploads (multipart bodies: photos, the ledger) go through an :class:`HTTPXRequest` kept for
them. Like httpx it retries nothing: a request that failed may or may not have reached Telegram,
and the caller decides (the outbox sends it again; delivery is at least once). ``bot.app``
uses python-telegram-bot's own client instead when a proxy is set in the environment (httpx
honours ``HTTPS_PROXY`` and the like; this one does not) or TELEGRAM_HTTP=httpx.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import ssl
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import certifi
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData

if TYPE_CHECKING:
    from telegram._utils.types import ODVInput

KEEPALIVE_EXPIRY = 5.0  # seconds an idle connection is kept (httpx's default)
_BODY_READ = 64 * 1024  # an answer's body is read this much at a time, each within the read timeout
_HEAD_LIMIT = 64 * 1024  # a response's status line and headers
_STREAM_LIMIT = 1024 * 1024


def proxy_in_environment() -> bool:
    """Whether httpx would send the bot's requests through a proxy: it asks
    :func:`urllib.request.getproxies` (``*_proxy`` variables in any case; on macOS and Windows
    the system's settings too)."""
    return any(scheme in ("http", "https", "all") for scheme in urllib.request.getproxies())


def tls_context() -> ssl.SSLContext:
    """What httpx trusts (``trust_env``): ``SSL_CERT_FILE``, else ``SSL_CERT_DIR``, else
    certifi's authorities. Reads files: not on the event loop."""
    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    return ssl.create_default_context(cafile=certifi.where())


@dataclass(frozen=True)
class _Origin:
    """Where a URL's requests go, and how its path is written."""

    https: bool
    host: str
    port: int
    host_header: str
    path: str  # with the query, if any


@dataclass(eq=False)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0

    def usable(self, now: float) -> bool:
        """Fresh, and nothing came while idle: no close, no bytes (a 408, say) — neither read
        by the loop yet (the socket readable) nor read and waiting (the reader's buffer)."""
        if now - self.idle_since >= KEEPALIVE_EXPIRY or self.writer.is_closing():
            return False
        if self.reader.at_eof() or _buffered(self.reader):
            return False
        sock = self.writer.get_extra_info("socket")
        if sock is None:
            return False
        try:
            readable, _, _ = select.select([sock.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable

    def close(self) -> None:
        with contextlib.suppress(Exception):  # (already closed, or its loop is gone)
            self.writer.close()


class Transport(BaseRequest):
    """A :class:`~telegram.request.BaseRequest` speaking HTTP/1.1 straight over asyncio
    streams (module docstring). Timeouts in seconds, as :class:`HTTPXRequest` takes them."""

    def __init__(
        self,
        *,
        pool_size: int = 256,
        connect_timeout: float | None = 5.0,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """``tls``: the context for https URLs (default: :func:`tls_context`)."""
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._pool_timeout = pool_timeout
        self._pool_size = pool_size
        self._slots: asyncio.Semaphore | None = None  # made on the loop that uses it
        self._idle: dict[tuple[bool, str, int], list[_Connection]] = {}
        self._busy: set[_Connection] = set()
        self._origins: dict[str, _Origin] = {}
        self._tls = tls
        self._uploads = HTTPXRequest(
            connection_pool_size=pool_size,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            pool_timeout=pool_timeout,
            media_write_timeout=media_write_timeout,
        )
        self._open = False

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._open:
            return
        await self._uploads.initialize()
        if self._tls is None:
            self._tls = await asyncio.to_thread(tls_context)  # (reads files)
        self._slots = asyncio.Semaphore(self._pool_size)
        self._open = True

    async def shutdown(self) -> None:
        self._open = False
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()
        for connection in list(self._busy):
            connection.close()
        await self._uploads.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if request_data is not None and request_data.contains_files:
            return await self._uploads.do_request(
                url,
                method,
                request_data,
                read_timeout=read_timeout,
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
            )
        if not self._open or self._slots is None:
            raise RuntimeError("This Transport is not initialized!")
        origin = self._origin(url)
        body = b""
        if request_data is not None and request_data.parameters:
            # ASCII (\u escapes, as python-telegram-bot's own JSON): a lone surrogate in a text
            # is then Telegram's to refuse, not an encoding error quoting the text
            body = json.dumps(request_data.parameters, separators=(",", ":")).encode()
        head = _request_head(method, origin, body)
        slots = self._slots
        try:
            async with asyncio.timeout(_seconds(pool_timeout, self._pool_timeout)):
                await slots.acquire()
        except TimeoutError:
            raise TimedOut(
                "Pool timeout: every connection is busy; the request was not sent"
            ) from None
        try:
            return await self._exchange(
                origin,
                head + body,
                method,
                connect=_seconds(connect_timeout, self._connect_timeout),
                write=_seconds(write_timeout, self._write_timeout),
                read=_seconds(read_timeout, self._read_timeout),
            )
        finally:
            slots.release()

    async def _exchange(
        self,
        origin: _Origin,
        request: bytes,
        method: str,
        *,
        connect: float | None,
        write: float | None,
        read: float | None,
    ) -> tuple[int, bytes]:
        connection = await self._connection(origin, connect)
        self._busy.add(connection)
        kept = False
        try:
            connection.writer.write(request)
            async with _timeout(write, "writing the request"):
                await connection.writer.drain()
            status, keep_alive, payload = await _read_response(connection.reader, method, read)
            # (bytes past the answer: the connection is out of step, not reused)
            kept = keep_alive and self._open and not _buffered(connection.reader)
            return status, payload
        except (TimedOut, NetworkError):
            raise
        except (OSError, EOFError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            raise NetworkError(f"{type(exc).__name__}: {exc}") from exc
        except ValueError as exc:  # a status line or header that is no HTTP
            raise NetworkError(f"unreadable answer: {exc}") from exc
        finally:
            self._busy.discard(connection)
            if kept:
                connection.idle_since = now = time.monotonic()
                idle = self._idle.setdefault(_key(origin), [])
                while idle and not idle[0].usable(now):  # the oldest first: closed or expired
                    idle.pop(0).close()
                idle.append(connection)
            else:
                connection.close()

    async def _connection(self, origin: _Origin, connect: float | None) -> _Connection:
        """An idle connection to ``origin`` still open and fresh (the newest first), else a
        new one."""
        idle = self._idle.get(_key(origin))
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if connection.usable(now):
                return connection
            connection.close()
        try:
            async with _timeout(connect, "connecting"):
                reader, writer = await asyncio.open_connection(
                    origin.host,
                    origin.port,
                    ssl=self._tls if origin.https else None,
                    server_hostname=origin.host if origin.https else None,
                    limit=_STREAM_LIMIT,
                    happy_eyeballs_delay=0.25,  # (RFC 8305's recommended delay)
                )
        except (OSError, ssl.SSLError) as exc:
            raise NetworkError(f"{type(exc).__name__}: {exc}") from exc
        return _Connection(reader, writer)

    def _origin(self, url: str) -> _Origin:
        origin = self._origins.get(url)
        if origin is None:
            origin = _parse_url(url)
            if len(self._origins) < 1024:  # a method's URL is the same each time; file URLs vary
                self._origins[url] = origin
        return origin

    def idle_connections(self) -> int:
        """Connections kept for the next request (tests)."""
        return sum(len(c) for c in self._idle.values())


def _buffered(reader: asyncio.StreamReader) -> bool:
    """Whether bytes the loop read are waiting in ``reader`` (asyncio has no public way to ask)."""
    return bool(getattr(reader, "_buffer", b""))


def _key(origin: _Origin) -> tuple[bool, str, int]:
    return origin.https, origin.host, origin.port


def _parse_url(url: str) -> _Origin:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NetworkError(f"not an http(s) URL: scheme {parts.scheme!r}")
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    host = parts.hostname
    default_port = port == (443 if https else 80)
    named = f"[{host}]" if ":" in host else host  # an IPv6 literal goes in brackets
    host_header = named if default_port else f"{named}:{port}"
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return _Origin(https, host, port, host_header, path)


_USER_AGENT: Final[str] = BaseRequest.USER_AGENT


def _request_head(method: str, origin: _Origin, body: bytes) -> bytes:
    lines = [
        f"{method} {origin.path} HTTP/1.1",
        f"Host: {origin.host_header}",
        f"User-Agent: {_USER_AGENT}",
        "Accept: application/json",
    ]
    if body or method == "POST":
        lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _read_response(
    reader: asyncio.StreamReader, method: str, read: float | None
) -> tuple[int, bool, bytes]:
    """The status, whether the connection may be reused, and the body; each read within
    ``read`` seconds."""
    while True:
        async with _timeout(read, "waiting for the answer"):
            head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > _HEAD_LIMIT:
            raise ValueError("the answer's headers are too long")
        status_line, _, header_block = head.decode("latin-1").partition("\r\n")
        version, _, rest = status_line.partition(" ")
        if not version.startswith("HTTP/1."):
            raise ValueError("no HTTP/1.x status line")
        status = int(rest[:3])
        headers = dict(_headers(header_block))
        if 100 <= status < 200 and status != 101:
            continue  # an informational answer: the real one follows
        break
    connection = headers.get("connection", "").lower()
    keep_alive = "close" not in connection and (version != "HTTP/1.0" or "keep-alive" in connection)
    if method == "HEAD" or status in (204, 304):
        return status, keep_alive, b""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return status, keep_alive, await _read_chunked(reader, read)
    length = headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise ValueError("a Content-Length that is no number")
        return status, keep_alive, await _read_exactly(reader, int(length), read)
    parts: list[bytes] = []  # to the end of the connection
    while True:
        async with _timeout(read, "reading the answer"):
            part = await reader.read(_BODY_READ)
        if not part:
            return status, False, b"".join(parts)
        parts.append(part)


async def _read_exactly(reader: asyncio.StreamReader, size: int, read: float | None) -> bytes:
    if size <= _BODY_READ:
        async with _timeout(read, "reading the answer"):
            return await reader.readexactly(size)
    parts: list[bytes] = []
    while size > 0:
        async with _timeout(read, "reading the answer"):
            part = await reader.readexactly(min(size, _BODY_READ))
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


def _headers(block: str) -> Iterator[tuple[str, str]]:
    for line in block.split("\r\n"):
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise ValueError("a header without a colon")
        yield name.strip().lower(), value.strip()


async def _read_chunked(reader: asyncio.StreamReader, read: float | None) -> bytes:
    parts: list[bytes] = []
    while True:
        async with _timeout(read, "reading the answer"):
            size_line = await reader.readuntil(b"\r\n")
        size_text = size_line.split(b";", 1)[0].strip()
        if not size_text or size_text.strip(b"0123456789abcdefABCDEF"):
            raise ValueError("a chunk size that is no hex number")
        size = int(size_text, 16)
        if size == 0:
            while True:  # trailers, up to the empty line
                async with _timeout(read, "reading the answer"):
                    if await reader.readuntil(b"\r\n") == b"\r\n":
                        return b"".join(parts)
        parts.append(await _read_exactly(reader, size, read))
        async with _timeout(read, "reading the answer"):
            if await reader.readexactly(2) != b"\r\n":
                raise ValueError("a chunk without its CRLF")


def _seconds(given: ODVInput[float], default: float | None) -> float | None:
    return default if given is BaseRequest.DEFAULT_NONE else given  # type: ignore[return-value]


@contextlib.asynccontextmanager
async def _timeout(seconds: float | None, doing: str) -> Any:
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        raise TimedOut(f"Timed out {doing}") from None
