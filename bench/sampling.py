"""Optional py-spy sampling of a bot process during a measured window (``--profile DIR``).

py-spy is not a dependency of the project: ``.venv/bin/pip install py-spy`` to use it (it needs
ptrace, which root has). The raw output (one ``frame;frame;… count`` line per stack) is kept,
and :func:`summary` prints where the samples of the process's threads went.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

PY_SPY = Path(sys.executable).parent / "py-spy"
_LINE = re.compile(r":\d+\)$")


def py_spy() -> str | None:
    if PY_SPY.exists():
        return str(PY_SPY)
    return shutil.which("py-spy")


@asynccontextmanager
async def sampling(pid: int, output: Path, *, rate: int = 250) -> AsyncIterator[None]:
    """Sample ``pid`` while the block runs; nothing (and a notice) without py-spy."""
    binary = py_spy()
    if binary is None:
        print("py-spy is not installed: no profile", file=sys.stderr)
        yield
        return
    command = [binary, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw"]
    command += ["--output", str(output), "--nonblocking"]
    recorder = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    await asyncio.sleep(0.5)  # attached before the window opens
    try:
        yield
    finally:
        # SIGINT makes py-spy stop and write what it has
        with contextlib.suppress(ProcessLookupError):
            recorder.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(recorder.wait(), 30)
        except TimeoutError:
            recorder.kill()
            await recorder.wait()


def summary(path: Path, *, top: int = 25) -> str:
    """The functions that most samples were in (inclusive), as share of all samples."""
    if not path.exists():
        return f"(no samples in {path})"
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        for frame in {_LINE.sub(")", f) for f in stack.split(";")}:
            inclusive[frame] += samples
    lines = [f"{total} samples in {path.name}:"]
    lines += [f"  {n / total:6.1%}  {frame[:110]}" for frame, n in inclusive.most_common(top)]
    return "\n".join(lines)
