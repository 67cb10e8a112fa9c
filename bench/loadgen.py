"""Load generators: closed loop with wrk, open loop (fixed arrival rate) in asyncio.

- Closed loop: `wrk` (C, epoll; Debian package `wrk`) with one thread and N connections,
  a Lua script for the POST body and headers and a `done()` hook that prints the figures as
  JSON. Its CPU is small next to a Python server's, so it is not the bottleneck on two cores.
  Without wrk, `py_closed` does the same in asyncio (slower; reported as such).
- Open loop: requests are *scheduled* at t0 + i/rate whatever the server does, on as many
  keep-alive connections as needed; latency is measured from the scheduled time, so a
  stalled server is charged for the requests that queued behind it (no coordinated
  omission). The generator's own lag (how late it sent) is reported to show when it, not
  the server, fell behind.

The HTTP client is a minimal HTTP/1.1 keep-alive client over asyncio streams (Content-Length
and chunked bodies), far cheaper per request than a general client library.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted values (nan when empty)."""
    if not values:
        return math.nan
    rank = max(1, math.ceil(q * len(values)))
    return values[min(rank, len(values)) - 1]


class HttpConnection:
    """One keep-alive HTTP/1.1 connection that POSTs and reads whole responses."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), 10
        )

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        assert self.reader is not None
        assert self.writer is not None
        head = [f"POST {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                f"Content-Length: {len(body)}", "Content-Type: application/json"]  # fmt: skip
        head += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split()[1])
        length, chunked, close = -1, False, False
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
            elif name == "connection" and "close" in value.lower():
                close = True
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                parts.append(await self.reader.readexactly(size + 2))
                if size == 0:
                    break
            data = b"".join(p[:-2] for p in parts)
        elif length >= 0:
            data = await self.reader.readexactly(length)
        else:
            data = await self.reader.read()
            close = True
        if close:
            self.close()
        return status, data


@dataclass
class Target:
    """Where and what to send."""

    host: str
    port: int
    path: str
    body: bytes
    headers: dict[str, str]


def _summary(latencies: list[float], errors: int, seconds: float, **extra: Any) -> dict[str, Any]:
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n,
        "errors": errors,
        "seconds": seconds,
        "rps": n / seconds if seconds > 0 else math.nan,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p90_ms": percentile(latencies, 0.90) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "max_ms": (latencies[-1] * 1000) if latencies else math.nan,
        **extra,
    }


async def open_loop(
    target: Target, rate: float, duration: float, *, max_conns: int = 512, limit: float = 30.0
) -> dict[str, Any]:
    """Send `rate` requests per second for `duration` s; latency from each scheduled time."""
    idle: list[HttpConnection] = []
    opened = 0
    latencies: list[float] = []
    lags: list[float] = []
    errors = 0
    dropped = 0

    async def one(scheduled: float) -> None:
        nonlocal errors, opened
        conn = idle.pop() if idle else None
        if conn is None:
            opened += 1
            conn = HttpConnection(target.host, target.port)
        lags.append(time.monotonic() - scheduled)
        try:
            status, _ = await asyncio.wait_for(
                conn.post(target.path, target.body, target.headers), limit
            )
            latencies.append(time.monotonic() - scheduled)
            if status != 200:
                errors += 1
            if conn.writer is not None:
                idle.append(conn)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
            errors += 1
            conn.close()

    total = max(1, int(rate * duration))
    tasks: list[asyncio.Task[None]] = []
    t0 = time.monotonic() + 0.05
    for i in range(total):
        scheduled = t0 + i / rate
        delay = scheduled - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        in_flight = sum(1 for t in tasks[-max_conns * 2 :] if not t.done())
        if in_flight >= max_conns and not idle:
            dropped += 1  # counted as an error: the server is hopelessly behind
            continue
        tasks.append(asyncio.create_task(one(scheduled)))
    _, pending = await asyncio.wait(tasks, timeout=limit) if tasks else (set(), set())
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    elapsed = time.monotonic() - t0
    for conn in idle:
        conn.close()
    lags.sort()
    return _summary(
        latencies, errors + dropped + len(pending), elapsed, rate=rate, connections=opened,
        sender_lag_p99_ms=percentile(lags, 0.99) * 1000,
    )  # fmt: skip


async def py_closed(target: Target, connections: int, duration: float) -> dict[str, Any]:
    """Closed loop in asyncio: `connections` clients each send, wait, send again."""
    latencies: list[float] = []
    errors = 0
    end = time.monotonic() + duration

    async def client() -> None:
        nonlocal errors
        conn = HttpConnection(target.host, target.port)
        try:
            while time.monotonic() < end:
                t = time.monotonic()
                try:
                    status, _ = await asyncio.wait_for(
                        conn.post(target.path, target.body, target.headers), 30
                    )
                except (OSError, TimeoutError, asyncio.IncompleteReadError):
                    errors += 1
                    conn.close()
                    continue
                latencies.append(time.monotonic() - t)
                errors += status != 200
        finally:
            conn.close()

    t0 = time.monotonic()
    await asyncio.gather(*(client() for _ in range(connections)))
    return _summary(latencies, errors, time.monotonic() - t0, tool="python")


WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
{headers}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {{"requests":%d,"duration_us":%d,"status_errors":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def lua_string(value: str) -> str:
    return "[==[" + value + "]==]"


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


async def wrk_closed(target: Target, connections: int, duration: float) -> dict[str, Any]:
    """Closed loop with wrk (one thread, `connections` connections)."""
    headers = "\n".join(
        f"wrk.headers[ {lua_string(k)} ] = {lua_string(v)}" for k, v in target.headers.items()
    )
    script = WRK_SCRIPT.format(body=lua_string(target.body.decode()), headers=headers)
    with tempfile.TemporaryDirectory(prefix="simgql-wrk-") as tmp:
        path = Path(tmp) / "post.lua"
        path.write_text(script)
        proc = await asyncio.create_subprocess_exec(
            "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "30s",
            "-s", str(path), f"http://{target.host}:{target.port}{target.path}",
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            out, err = await asyncio.wait_for(proc.communicate(), duration + 60)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise
    line = next((ln for ln in out.decode().splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no figures: {out.decode()[-500:]} {err.decode()[-500:]}")
    raw = json.loads(line[len("WRKJSON ") :])
    seconds = raw["duration_us"] / 1e6
    return {
        "requests": raw["requests"],
        "errors": raw["status_errors"] + raw["socket_errors"],
        "seconds": seconds,
        "rps": raw["requests"] / seconds if seconds else math.nan,
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "tool": "wrk",
    }


async def closed_loop(target: Target, connections: int, duration: float) -> dict[str, Any]:
    if have_wrk():
        return await wrk_closed(target, connections, duration)
    return await py_closed(target, connections, duration)
