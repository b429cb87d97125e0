"""``python -m bot`` is ``linlitong``."""

import sys

from bot.cli import main

sys.exit(main())
