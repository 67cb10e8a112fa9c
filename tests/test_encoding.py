"""The response encoder: orjson output that means the same as the standard library's."""

from __future__ import annotations

import json
from typing import Any

import pytest

from simgql.api import encoding
from simgql.api.encoding import ResponseEncoder

DATA = {"purchaseOrderEvents": {"toStatus": "ACCEPTED", "note": 'naïve \u2028 "quoted"', "n": 3}}


@pytest.mark.parametrize(
    "message",
    [
        {"id": "1", "type": "next", "payload": {"data": DATA}},
        {"type": "data", "id": "op-2", "payload": {"data": DATA}},
        {"id": "1", "type": "next", "payload": {"data": DATA, "errors": [{"message": "x"}]}},
        {"id": "1", "type": "next", "payload": {"data": None}},
        {"type": "connection_ack"},
        {"data": DATA, "errors": None},
        {"big": 2**70, "list": [1.5, None, True]},
    ],
    ids=["next", "legacy-data", "with-errors", "null-data", "ack", "http", "huge-int"],
)
def test_encoded_json_parses_back_to_the_message(message: dict[str, Any]) -> None:
    assert json.loads(ResponseEncoder().encode(message)) == message


def test_the_same_data_object_is_encoded_once_for_every_socket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[object] = []
    real = encoding.dumps

    def counting(value: object) -> str:
        calls.append(value)
        return real(value)

    monkeypatch.setattr(encoding, "dumps", counting)
    encoder = ResponseEncoder()
    shared = {"purchaseOrderEvents": {"toStatus": "SHIPPED"}}
    texts = [
        encoder.encode({"id": str(i), "type": "next", "payload": {"data": shared}})
        for i in range(50)
    ]

    assert sum(1 for c in calls if c is shared) == 1
    assert [json.loads(t)["id"] for t in texts] == [str(i) for i in range(50)]
    assert {json.dumps(json.loads(t)["payload"]) for t in texts} == {json.dumps({"data": shared})}


def test_an_equal_but_different_object_is_encoded_on_its_own() -> None:
    encoder = ResponseEncoder()
    first = {"a": {"b": 1}}
    encoder.encode({"id": "1", "type": "next", "payload": {"data": first}})
    second = {"a": {"b": 2}}
    text = encoder.encode({"id": "2", "type": "next", "payload": {"data": second}})
    assert json.loads(text)["payload"]["data"] == {"a": {"b": 2}}
