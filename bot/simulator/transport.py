"""``SimulatorRequest``: python-telegram-bot talking to a :class:`Simulator` without sockets.

    app = (
        ApplicationBuilder()
        .token(sim.token)
        .request(SimulatorRequest(sim))
        .get_updates_request(SimulatorRequest(sim))
        .build()
    )

Answers carry the same status codes and JSON bodies as the HTTP server (``bot.simulator.wire``),
so PTB raises the same exceptions.  A call a fault plan makes hang raises
``telegram.error.TimedOut`` at once; a call slower than the read timeout (a long poll longer
than PTB's budget) raises it too.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import TimedOut
from telegram.request import BaseRequest, RequestData

from .wire import (
    NOT_FOUND,
    error_response,
    file_response,
    handle_api_call,
    params_from_fields,
    split_api_url,
    split_file_url,
)

if TYPE_CHECKING:
    from .core import Simulator

logger = logging.getLogger(__name__)


class SimulatorRequest(BaseRequest):
    """An in-process :class:`telegram.request.BaseRequest` backed by a :class:`Simulator`."""

    __slots__ = ("_read_timeout", "sim")

    def __init__(self, sim: Simulator, read_timeout: float | None = 5.0) -> None:
        self.sim = sim
        self._read_timeout = read_timeout

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout (PTB adds the long-polling timeout to it)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""

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
        """Route one PTB request to the simulator."""
        timeout = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        file_target = split_file_url(url)
        if file_target is not None:
            response = file_response(self.sim, *file_target)
            return response.status, response.body
        api_target = split_api_url(url)
        if api_target is None:
            response = error_response(NOT_FOUND)
            return response.status, response.body
        params = await params_from_fields(
            request_data.json_parameters if request_data else {},
            request_data.multipart_data if request_data else None,
        )
        try:
            async with asyncio.timeout(timeout):
                response = await handle_api_call(self.sim, *api_target, params)
        except TimeoutError:
            raise TimedOut(f"{api_target[1]} took longer than {timeout}s") from None
        if response.timed_out:
            raise TimedOut(f"simulated timeout of {api_target[1]}")
        return response.status, response.body
