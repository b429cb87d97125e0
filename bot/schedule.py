"""Jobs on the JobQueue: the tick that asks storage what is due. (Filled in below.)"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


def start(app: Any, runtime: Any) -> None:
    """Register the repeating tick."""
