"""JSON out: orjson, and one encoding of a shared subscription result for all its sockets.

With multiplexing (`api.multiplex`) the subscribers of one event receive the very same
`data` object; encoding it once per event instead of once per socket removes the largest
per-subscriber cost after the socket write itself.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

import orjson

SHARED_ENCODINGS = 256


def dumps(value: Any) -> str:
    """Compact JSON text; the standard library for what orjson refuses (e.g. huge ints)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, separators=(",", ":"))


class ResponseEncoder:
    """Encodes responses and protocol messages; remembers recent `data` objects' JSON."""

    def __init__(self) -> None:
        # id(data) -> (data, its JSON). The entry holds `data`, so the id is not reused
        # by another object while it is remembered.
        self._recent: OrderedDict[int, tuple[object, str]] = OrderedDict()

    def encode(self, message: object) -> str:
        data = _result_data(message)
        if data is None:
            return dumps(message)
        assert isinstance(message, dict)
        found = self._recent.get(id(data))
        if found is not None and found[0] is data:
            text = found[1]
        else:
            text = dumps(data)
            self._recent[id(data)] = (data, text)
            while len(self._recent) > SHARED_ENCODINGS:
                self._recent.popitem(last=False)
        head = dumps({k: v for k, v in message.items() if k != "payload"})
        return f'{head[:-1]},"payload":{{"data":{text}}}}}'


def _result_data(message: object) -> dict[str, Any] | None:
    """The `data` of a subscription message that carries nothing else, if it is one."""
    if not isinstance(message, dict) or message.get("type") not in ("next", "data"):
        return None
    payload = message.get("payload")
    if not isinstance(payload, dict) or len(payload) != 1:
        return None
    data = payload.get("data")
    return data if isinstance(data, dict) else None
