"""Opaque global IDs: base64 of `TypeName:uuid`."""

from __future__ import annotations

import base64
import binascii
import uuid

from simgql.domain.errors import BadUserInput


def encode_id(type_name: str, pk: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def parse_id(value: str) -> tuple[str, uuid.UUID] | None:
    """(type name, primary key) of a global ID, or None when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode((value + "=" * (-len(value) % 4)).encode()).decode()
        type_name, _, pk = raw.partition(":")
        return type_name, uuid.UUID(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def decode_id(value: str, type_name: str, field: str) -> uuid.UUID:
    """The primary key of a global ID of `type_name`; anything else is bad input on `field`."""
    parsed = parse_id(value)
    if parsed is None or parsed[0] != type_name:
        raise BadUserInput.single(field, f"is not a {type_name} ID")
    return parsed[1]


def decode_optional_id(value: str | None, type_name: str, field: str) -> uuid.UUID | None:
    return None if value is None else decode_id(value, type_name, field)
