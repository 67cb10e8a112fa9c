"""Configuration items the SP admin changes at run time."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from simgql.db.models import ConfigItem

ALLOW_OVERRIDE = "po.allowAccountDefaultOverride"
FRAUD_CHECK_REQUIRED = "salesOrder.fraudCheckRequired"
FRAUD_DENY_NAMES = "salesOrder.fraudDenyNames"
FRAUD_DENY_ADDRESS_FRAGMENTS = "salesOrder.fraudDenyAddressFragments"

DEFAULTS: dict[str, Any] = {
    ALLOW_OVERRIDE: True,
    FRAUD_CHECK_REQUIRED: False,
    FRAUD_DENY_NAMES: [],
    FRAUD_DENY_ADDRESS_FRAGMENTS: [],
}


async def get_config(session: AsyncSession, *, key: str) -> Any:
    """The stored value of `key`, or its default."""
    row = (
        await session.execute(select(ConfigItem).where(ConfigItem.key == key))
    ).scalar_one_or_none()
    return DEFAULTS.get(key) if row is None else row.value


async def set_config(session: AsyncSession, *, key: str, value: Any) -> None:
    row = await session.get(ConfigItem, key)
    now = dt.datetime.now(dt.UTC)
    if row is None:
        session.add(ConfigItem(key=key, value=value, updated_at=now))
    else:
        row.value = value
        row.updated_at = now
