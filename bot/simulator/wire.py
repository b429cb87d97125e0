"""What goes over the wire: request parameters in, status codes and JSON bodies out.

Shared by the HTTP server and the in-process transport so both answer byte for byte alike:

* success: ``200 {"ok": true, "result": …}``;
* an API error: its code, ``{"ok": false, "error_code": …, "description": …, "parameters"?}``;
* a wrong token: ``401 {"ok": false, "error_code": 401, "description": "Unauthorized"}``;
* an unknown method: ``404 {"ok": false, "error_code": 404, "description": "Not Found"}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from .models import ApiError, SimulatedTimeout, UploadedFile

if TYPE_CHECKING:
    from .core import Simulator

logger = logging.getLogger(__name__)

UNAUTHORIZED = ApiError(401, "Unauthorized")
NOT_FOUND = ApiError(404, "Not Found")
_API_PATH = re.compile(r"/bot(?P<token>[^/]+)/(?P<method>[^/]+)$")
_FILE_PATH = re.compile(r"/file/bot(?P<token>[^/]+)/(?P<path>.+)$")


@dataclass(frozen=True)
class ApiResponse:
    """One answer: HTTP status and body; ``timed_out`` means "never answer"."""

    status: int
    body: bytes
    timed_out: bool = False


def dump(value: Any) -> bytes:
    """JSON as Telegram sends it (UTF-8, not ASCII-escaped)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def error_response(error: ApiError) -> ApiResponse:
    """The response for an :class:`ApiError`."""
    return ApiResponse(error.error_code, dump(error.to_dict()))


async def handle_api_call(
    sim: Simulator, token: str, method: str, params: Mapping[str, Any]
) -> ApiResponse:
    """Check the token, run the method, encode the outcome."""
    if token != sim.token:
        return error_response(UNAUTHORIZED)
    try:
        result = await sim.call(method, params)
    except ApiError as exc:
        return error_response(exc)
    except SimulatedTimeout:
        return ApiResponse(504, b"", timed_out=True)
    return ApiResponse(200, dump({"ok": True, "result": result}))


def split_api_url(url: str) -> tuple[str, str] | None:
    """``(token, method)`` of a ``…/bot<token>/<method>`` URL."""
    match = _API_PATH.search(urlsplit(url).path)
    return (unquote(match.group("token")), unquote(match.group("method"))) if match else None


def split_file_url(url: str) -> tuple[str, str] | None:
    """``(token, file_path)`` of a ``…/file/bot<token>/<path>`` URL."""
    match = _FILE_PATH.search(urlsplit(url).path)
    return (unquote(match.group("token")), unquote(match.group("path"))) if match else None


def file_response(sim: Simulator, token: str, path: str) -> ApiResponse:
    """The bytes of a file, as the file download endpoint serves them."""
    if token != sim.token:
        return error_response(UNAUTHORIZED)
    try:
        return ApiResponse(200, sim.file_bytes(path))
    except ApiError as exc:
        return error_response(exc)


async def read_content(content: bytes | IO[bytes]) -> bytes:
    """Bytes of an upload that may be a file handle (read off the event loop)."""
    if isinstance(content, bytes | bytearray | memoryview):
        return bytes(content)
    return await asyncio.to_thread(content.read)


async def params_from_fields(
    fields: Mapping[str, str],
    files: Mapping[str, tuple[str, bytes | IO[bytes], str]] | None = None,
) -> dict[str, Any]:
    """Parameters from form fields (strings; nested values JSON) and uploaded files.

    This is the shape python-telegram-bot's ``RequestData`` has: ``json_parameters`` and
    ``multipart_data``.
    """
    params: dict[str, Any] = dict(fields)
    for name, (filename, content, mimetype) in (files or {}).items():
        params[name] = UploadedFile(filename, await read_content(content), mimetype)
    return params
