"""Query limits: hostile documents are refused with QUERY_TOO_COMPLEX before they run."""

from __future__ import annotations

import pytest

from tests.client import GraphQLClient
from tests.factories import AGENT


async def test_too_deep_a_query_is_refused_with_limit_and_measure(api: GraphQLClient) -> None:
    query = (
        "{ purchaseOrders(first: 1) { edges { node { "
        + "salesOrders { purchaseOrder { " * 6
        + "id"
        + " } }" * 6
        + " } } } }"
    )
    result = await api.run(AGENT, query)
    assert set(result.codes) == {"QUERY_TOO_COMPLEX"}
    ext = next(e["extensions"] for e in result.errors if e["extensions"]["kind"] == "depth")
    assert ext["measured"] > ext["limit"] == 12
    assert result.data is None


async def test_many_aliases_are_refused(api: GraphQLClient) -> None:
    fields = " ".join(f"a{i}: me {{ sub }}" for i in range(31))
    result = await api.run(AGENT, "{ " + fields + " }")
    assert result.code == "QUERY_TOO_COMPLEX"
    assert result.errors[0]["extensions"]["kind"] == "aliases"


async def test_cost_counts_page_sizes_of_nested_lists(api: GraphQLClient) -> None:
    # 100 POs x 100 edges of nested connections is far above the budget.
    query = """{ purchaseOrders(first: 100) { edges { node { account { productAssignments { product { id } } }
      } } } accounts(first: 100) { edges { node { id } } } products(first: 100) { edges { node { id } } } }"""
    cheap = await api.run(AGENT, query)
    assert cheap.errors == []
    costly = (
        "{ "
        + " ".join(
            f"p{i}: purchaseOrders(first: 100) {{ edges {{ node {{ lines {{ sims {{ iccid }} }} }} }} }}"
            for i in range(25)
        )
        + " }"
    )
    result = await api.run(AGENT, costly)
    assert result.code == "QUERY_TOO_COMPLEX"
    assert result.errors[0]["extensions"]["kind"] == "cost"


async def test_cost_uses_page_size_from_variables(api: GraphQLClient) -> None:
    query = (
        "query($n: Int) { "
        + " ".join(
            f"p{i}: purchaseOrders(first: $n) {{ edges {{ node {{ lines {{ sims {{ iccid }} }} }} }} }}"
            for i in range(25)
        )
        + " }"
    )
    assert (await api.run(AGENT, query, {"n": 1})).errors == []
    assert (await api.run(AGENT, query, {"n": 100})).code == "QUERY_TOO_COMPLEX"


async def test_too_many_tokens_are_refused(api: GraphQLClient) -> None:
    query = "{ " + " ".join("__typename" for _ in range(6000)) + " }"
    result = await api.run(AGENT, query)
    assert result.code == "QUERY_TOO_COMPLEX"
    assert result.errors[0]["extensions"]["kind"] == "tokens"


async def test_many_directives_are_refused(api: GraphQLClient) -> None:
    fields = " ".join(f"f{i}: me @include(if: true) @skip(if: false) {{ sub }}" for i in range(26))
    query = "{ " + fields + " }"
    result = await api.run(AGENT, query)
    assert result.code == "QUERY_TOO_COMPLEX"
    assert result.errors[0]["extensions"]["kind"] == "directives"


async def test_circular_fragments_are_refused(api: GraphQLClient) -> None:
    query = "query { me { ...A } } fragment A on Me { ...B } fragment B on Me { ...A }"
    result = await api.run(AGENT, query)
    assert result.status in (200, 400)
    assert "BAD_USER_INPUT" in result.codes
    assert result.data is None


@pytest.mark.parametrize("size", [1_000_001, 5_000_000])
async def test_oversized_bodies_are_refused(api: GraphQLClient, size: int) -> None:
    body = b'{"query": "{ me { sub } }", "padding": "' + b"x" * size + b'"}'
    response = await api.post_raw(body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
