"""Bearer tokens: minting for local use, and verifying them into a `Viewer`."""

from __future__ import annotations

import datetime as dt
from typing import Any

import jwt

from simgql.api.tokens import TokenVerifier
from simgql.db import accounts as account_repo
from simgql.db.engine import Database
from simgql.domain.errors import Unauthenticated
from simgql.domain.model import ENTERPRISE_ROLES, Role, Viewer

ALGORITHM = "HS256"


def mint_token(
    *,
    secret: str,
    role: Role,
    sub: str,
    account: str | None = None,
    warehouse: str | None = None,
    ttl: dt.timedelta = dt.timedelta(hours=12),
) -> str:
    claims: dict[str, Any] = {
        "sub": sub,
        "role": role.value,
        "exp": dt.datetime.now(dt.UTC) + ttl,
        "iat": dt.datetime.now(dt.UTC),
    }
    if account is not None:
        claims["account"] = account
    if warehouse is not None:
        claims["warehouse"] = warehouse
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def bearer_value(header: str | None) -> str | None:
    """The token in an `Authorization: Bearer …` value, or None when there is none."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def verify_claims(token: str, *, secret: str, leeway: int = 0) -> dict[str, Any]:
    """The claims of an HS256 token (kept for callers without a `TokenVerifier`)."""
    return TokenVerifier(secret=secret, leeway=leeway).verify(token)


async def viewer_from_token(
    token: str, *, verifier: TokenVerifier, db: Database
) -> tuple[Viewer, dt.datetime]:
    """The viewer a token speaks for, and when the token expires."""
    claims = verifier.verify(token)
    try:
        role = Role(claims["role"])
    except ValueError:
        raise Unauthenticated("the token names an unknown role") from None
    sub = claims["sub"]
    if not isinstance(sub, str) or not sub or len(sub) > 200:
        raise Unauthenticated("the token's subject is not valid")
    try:
        expires = dt.datetime.fromtimestamp(int(claims["exp"]), dt.UTC)
    except (ValueError, OverflowError, OSError, TypeError):
        raise Unauthenticated("the token's expiry is not a valid time") from None
    account_code = claims.get("account")
    warehouse = claims.get("warehouse")
    if role in ENTERPRISE_ROLES:
        if not isinstance(account_code, str):
            raise Unauthenticated("enterprise tokens must name an account")
        async with db.read() as session:
            account = await account_repo.get_account_by_code(session, code=account_code)
        if account is None:
            raise Unauthenticated("the token names an unknown account")
        return Viewer(sub, role, account.id, account.code), expires
    if role is Role.WAREHOUSE and not isinstance(warehouse, str):
        raise Unauthenticated("warehouse tokens must name a warehouse")
    return Viewer(
        sub, role, warehouse_code=warehouse if isinstance(warehouse, str) else None
    ), expires
