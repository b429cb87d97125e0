"""Reading Bot API parameters the lenient way Telegram does.

Clients send parameters as JSON bodies (typed values), as query strings or forms (every value a
string, nested objects JSON-encoded — what python-telegram-bot does), or as multipart forms with
files.  :class:`Params` coerces each value to the type the method expects, raising the
``400 Bad Request`` Telegram gives for a value it cannot use.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from .models import UploadedFile, bad_request

logger = logging.getLogger(__name__)

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


class Params:
    """Typed, lenient access to one call's parameters."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw: dict[str, Any] = {k: v for k, v in raw.items() if v is not None}

    def has(self, name: str) -> bool:
        """Whether the parameter was given (a JSON ``null`` counts as not given)."""
        return name in self.raw

    def str_(self, name: str, default: str | None = None) -> str | None:
        """A string parameter; numbers are accepted and converted."""
        value = self.raw.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str | int | float):
            return str(value)
        raise bad_request(f"{name} must be a string")

    def int_(self, name: str, default: int | None = None) -> int | None:
        """An integer parameter; numeric strings are accepted."""
        value = self.raw.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise bad_request(f"invalid {name} specified")

    def float_(self, name: str, default: float | None = None) -> float | None:
        """A number parameter."""
        value = self.raw.get(name)
        if value is None or value == "":
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def bool_(self, name: str, default: bool = False) -> bool:
        """A boolean parameter; ``"true"``/``"false"``/``"1"``/``"0"`` are accepted."""
        value = self.raw.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise bad_request(f"invalid {name} specified")

    def obj(self, name: str, what: str | None = None) -> Any:
        """A JSON-serialised object or array parameter (decoded if it came as a string)."""
        value = self.raw.get(name)
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            label = what or name.replace("_", " ")
            raise bad_request(f"can't parse {label} JSON object") from None

    def chat_id(self, name: str = "chat_id") -> int | str:
        """A chat id: an integer, or a ``@channelusername`` string."""
        value = self.raw.get(name)
        if value is None or value == "":
            raise bad_request(f"{name} is empty")
        if isinstance(value, bool):
            raise bad_request("chat not found")
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("@"):
                return text
            try:
                return int(text)
            except ValueError:
                raise bad_request("chat not found") from None
        raise bad_request("chat not found")

    def file(self, name: str) -> UploadedFile | str | None:
        """A file parameter: an upload, an ``attach://name`` reference, a file_id or a URL."""
        value = self.raw.get(name)
        if value is None or isinstance(value, UploadedFile):
            return value
        if isinstance(value, str):
            return self.attachment(value)
        raise bad_request(f"wrong type of the {name} parameter")

    def attachment(self, value: str) -> UploadedFile | str:
        """Resolve ``attach://<name>`` against the uploaded files of this call."""
        if not value.startswith("attach://"):
            return value
        upload = self.raw.get(value[len("attach://") :])
        if not isinstance(upload, UploadedFile):
            raise bad_request(f"file {value!r} not found in the request")
        return upload
