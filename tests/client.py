"""The one GraphQL test client every API test goes through, and the actors it speaks for."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import httpx

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
            secret=self.secret, role=actor.role, sub=actor.sub, account=actor.account,
            warehouse=actor.warehouse, ttl=ttl,
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
