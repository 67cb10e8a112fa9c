"""Rate limiting per user: a token bucket filled with query-cost units.

Each operation takes its computed cost (see `limits.py`) from the caller's bucket; an empty
bucket answers `RATE_LIMITED` with the seconds to wait. One process keeps buckets in memory;
several share them in Redis, where one Lua script does the whole check atomically.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

import redis.asyncio as redis

log = logging.getLogger("simgql.rate_limit")


class RateLimiter(Protocol):
    async def take(self, key: str, cost: int) -> float | None:
        """Take `cost` units for `key`; None when granted, else seconds until it would be."""
        ...

    async def close(self) -> None: ...


class MemoryBuckets:
    """Token buckets of this process."""

    def __init__(self, *, rate: float, burst: float, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    async def take(self, key: str, cost: int) -> float | None:
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < cost:
            self._buckets[key] = (tokens, now)
            return (cost - tokens) / self.rate
        if len(self._buckets) >= self.max_keys and key not in self._buckets:
            self._buckets.clear()  # a flood of identities: start afresh rather than grow
        self._buckets[key] = (tokens - cost, now)
        return None

    async def close(self) -> None:
        return None


_TAKE = """
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= cost then tokens = tokens - cost else wait = (cost - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return tostring(wait)
"""


class RedisBuckets:
    """Token buckets shared by every process through Redis."""

    def __init__(self, url: str, *, rate: float, burst: float, prefix: str = "simgql:rl:") -> None:
        self.rate = rate
        self.burst = burst
        self.prefix = prefix
        self._client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        self._script = self._client.register_script(_TAKE)

    async def take(self, key: str, cost: int) -> float | None:
        try:
            wait = float(
                await self._script(keys=[self.prefix + key], args=[self.rate, self.burst, cost])
            )
        except (redis.RedisError, OSError) as exc:
            # Availability first: a missing limiter must not take the API down with it.
            log.warning("rate limiter unavailable, letting the request through: %s", exc)
            return None
        return wait if wait > 0 else None

    async def close(self) -> None:
        await self._client.aclose()


def make_limiter(url: str | None, *, rate: float, burst: float) -> RateLimiter:
    if url and url.startswith(("redis://", "rediss://")):
        return RedisBuckets(url, rate=rate, burst=burst)
    return MemoryBuckets(rate=rate, burst=burst)
