"""The one GraphQL test client every API test goes through, and the actors it speaks for."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx
import websockets

from simgql.api.auth import mint_token
from simgql.domain.model import Role


@dataclass(frozen=True)
class Actor:
    """Someone holding a token: a role, maybe an account or warehouse, and a subject."""

    role: Role
    sub: str
    account: str | None = None
    warehouse: str | None = None


@dataclass
class Result:
    status: int
    body: dict[str, Any]

    @property
    def data(self) -> dict[str, Any] | None:
        return self.body.get("data")

    @property
    def errors(self) -> list[dict[str, Any]]:
        return self.body.get("errors") or []

    @property
    def codes(self) -> list[str]:
        return [e.get("extensions", {}).get("code") for e in self.errors]

    @property
    def code(self) -> str:
        """The code of the one error this result must carry."""
        assert len(self.errors) == 1, self.body
        return str(self.codes[0])

    def fields(self) -> list[str]:
        """The `extensions.fields[].field` names of every error."""
        return [f["field"] for e in self.errors for f in e.get("extensions", {}).get("fields", [])]

    def ok(self) -> dict[str, Any]:
        assert self.status == 200, (self.status, self.body)
        assert not self.errors, self.body
        assert self.data is not None
        return self.data


class GraphQLClient:
    def __init__(self, http: httpx.AsyncClient, *, secret: str, path: str = "/graphql") -> None:
        self.http = http
        self.secret = secret
        self.path = path

    def token(self, actor: Actor, *, ttl: dt.timedelta = dt.timedelta(hours=1)) -> str:
        return mint_token(
            secret=self.secret,
            role=actor.role,
            sub=actor.sub,
            account=actor.account,
            warehouse=actor.warehouse,
            ttl=ttl,
        )

    async def run(
        self,
        actor: Actor | None,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
    ) -> Result:
        headers = {}
        if token is None and actor is not None:
            token = self.token(actor)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        response = await self.http.post(
            self.path, json={"query": query, "variables": variables or {}}, headers=headers
        )
        return Result(response.status_code, response.json())

    async def post_raw(self, content: bytes, *, headers: dict[str, str]) -> httpx.Response:
        return await self.http.post(self.path, content=content, headers=headers)


TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"


class WsClient:
    """A GraphQL-over-WebSocket client speaking either subprotocol, for real sockets."""

    def __init__(self, url: str, *, protocol: str = TRANSPORT_WS) -> None:
        self.url = url
        self.protocol = protocol
        self.ws: Any = None

    async def __aenter__(self) -> WsClient:
        self.ws = await websockets.connect(self.url, subprotocols=[self.protocol])  # type: ignore[list-item]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.ws.close()

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def receive(self, within: float = 10) -> dict[str, Any]:
        """The next message that is not a keep-alive."""
        while True:
            message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), within))
            if message.get("type") not in ("ka", "ping", "pong"):
                return message

    async def init(self, token: str | None) -> dict[str, Any]:
        payload = {"authorization": f"Bearer {token}"} if token else {}
        await self.send({"type": "connection_init", "payload": payload})
        return await self.receive()

    async def subscribe(
        self, op_id: str, query: str, variables: dict[str, Any] | None = None
    ) -> None:
        kind = "subscribe" if self.protocol == TRANSPORT_WS else "start"
        await self.send(
            {"id": op_id, "type": kind, "payload": {"query": query, "variables": variables or {}}}
        )

    async def stop(self, op_id: str) -> None:
        await self.send(
            {"id": op_id, "type": "complete" if self.protocol == TRANSPORT_WS else "stop"}
        )

    async def next_payload(self, op_id: str, within: float = 10) -> dict[str, Any]:
        """The payload of the next result of `op_id` (data and/or errors)."""
        while True:
            message = await self.receive(within)
            if message.get("id") != op_id:
                continue
            if message["type"] in ("next", "data"):
                return dict(message["payload"])
            if message["type"] == "error":
                payload = message["payload"]
                return {"errors": payload if isinstance(payload, list) else [payload]}
            raise AssertionError(f"subscription {op_id} ended: {message}")

    async def close_code(self, within: float = 10) -> int:
        """Wait for the server to close the socket; its close code."""
        try:
            while True:
                await asyncio.wait_for(self.ws.recv(), within)
        except websockets.ConnectionClosed as closed:
            return int(closed.rcvd.code) if closed.rcvd else 1006
