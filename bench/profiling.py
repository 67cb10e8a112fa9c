"""A py-spy profile of a server process while it serves a closed loop of one request.

`py-spy record --format raw` writes collapsed stacks (`frame;frame;... count`). Own time of
a function is the samples where it is the innermost frame; the top of that list says where
the server's CPU goes. py-spy attaches with ptrace (root, or CAP_SYS_PTRACE).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from bench.loadgen import Target, closed_loop

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]+)(?::\d+)?\)$")


def py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return found if Path(found).exists() else None


def short(frame: str) -> str:
    """`func (path/to/file.py:12)` → `func (to/file.py)`, lines merged."""
    m = FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    parts = Path(m["file"]).parts
    return f"{m['func']} ({'/'.join(parts[-2:])})"


def top_frames(raw: str, n: int = 15) -> dict[str, Any]:
    """Own and inclusive sample counts per function, from collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [short(f) for f in stack.split(";") if f]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for f in set(frames):
            inclusive[f] += count
    def pct(c: int) -> float:
        return round(100 * c / total, 1) if total else 0.0

    return {
        "samples": total,
        "own": [(f, pct(c)) for f, c in own.most_common(n)],
        "inclusive": [(f, pct(c)) for f, c in inclusive.most_common(n + 10)],
    }


async def profile_server(pid: int, target: Target, seconds: float, logdir: Path) -> dict[str, Any]:
    """Profile `pid` for `seconds` under a 16-connection closed loop of `target`."""
    tool = py_spy()
    if tool is None:
        return {"error": "py-spy is not installed (pip install py-spy)"}
    out = logdir / "profile.txt"
    proc = await asyncio.create_subprocess_exec(
        tool, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "200",
        "--format", "raw", "--output", str(out), "--nonblocking",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        await asyncio.sleep(0.5)
        await closed_loop(target, 16, seconds)
        _, err = await asyncio.wait_for(proc.communicate(), seconds + 60)
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    if not out.exists():
        return {"error": f"py-spy failed: {err.decode()[-500:]}"}
    return top_frames(out.read_text())
