"""GraphQL over HTTP: media-type negotiation, and the graphql-http audit suite against a server."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client import GraphQLClient
from tests.conftest import IN_CI, SECRET
from tests.factories import AGENT
from tests.server import ServerProcess, running_server

AUDIT = Path(__file__).parent / "conformance"
GRAPHQL_RESPONSE = "application/graphql-response+json"


async def _post(api: GraphQLClient, query: str, accept: str) -> tuple[int, str, dict[str, object]]:
    response = await api.http.post(
        "/graphql",
        json={"query": query},
        headers={"Accept": accept, "Authorization": f"Bearer {api.token(AGENT)}"},
    )
    return response.status_code, response.headers["content-type"], response.json()


async def test_validation_failure_is_400_without_data_for_graphql_response_json(
    api: GraphQLClient,
) -> None:
    status, media, body = await _post(api, "{ noSuchField }", GRAPHQL_RESPONSE)
    assert status == 400
    assert media.startswith(GRAPHQL_RESPONSE)
    assert "data" not in body
    assert body["errors"]


async def test_legacy_json_clients_keep_getting_200(api: GraphQLClient) -> None:
    status, media, body = await _post(api, "{ noSuchField }", "application/json")
    assert status == 200
    assert media.startswith("application/json")
    assert body["data"] is None


async def test_execution_errors_stay_200_with_the_new_media_type(api: GraphQLClient) -> None:
    query = 'mutation { acceptPurchaseOrder(input: {id: "bm90LWFuLWlk"}) { purchaseOrder { id } } }'
    status, media, body = await _post(api, query, GRAPHQL_RESPONSE)
    assert media.startswith(GRAPHQL_RESPONSE)
    assert status in (200, 400)
    errors = body["errors"]
    assert isinstance(errors, list)
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.fixture(scope="module")
def live(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(
        tmp_path_factory.mktemp("conformance"), database_url=postgres_url, jwt_secret=SECRET
    ) as server:
        yield server


def test_graphql_http_audit_suite_passes_every_must_and_should(
    live: ServerProcess, api: GraphQLClient
) -> None:
    node = shutil.which("node")
    if node is None or not (AUDIT / "node_modules" / "graphql-http").is_dir():
        reason = "node and `npm install --prefix tests/conformance` are needed for the audit"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    done = subprocess.run(
        [node, str(AUDIT / "audit.mjs"), live.http_url, api.token(AGENT)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 MUST/SHOULD not ok" in done.stdout
