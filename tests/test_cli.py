"""The `simgql` command as a user runs it: real processes, real files, a real server."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from simgql.api.auth import mint_token
from simgql.db.engine import Database
from simgql.domain.model import Role
from tests.client import GraphQLClient
from tests.factories import make_tenant

REPO_ROOT = Path(__file__).resolve().parent.parent
COMMITTED_SCHEMA = REPO_ROOT / "schema.graphql"
SERVER_SECRET = "cli-test-secret-0123456789abcdef0123456789"
STARTUP_LIMIT_SECONDS = 30


def _simgql() -> list[str]:
    """The installed console script next to this interpreter, else the module."""
    script = Path(sys.executable).with_name("simgql")
    return [str(script)] if script.exists() else [sys.executable, "-m", "simgql.cli"]


def _env(**settings: str) -> dict[str, str]:
    """This environment without any SIMGQL_ setting of ours leaking in, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMGQL_")}
    env.update(settings)
    return env


def _run(args: list[str], *, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_simgql(), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def _run_async(args: list[str], *, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *_simgql(),
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


# --- simgql token ----------------------------------------------------------------------------

ME = "{ me { sub role warehouse account { code } } }"


async def test_token_command_mints_an_agent_token_the_server_accepts(
    api: GraphQLClient, tmp_path: Path
) -> None:
    code, out, err = await _run_async(
        ["token", "--role", "SP_AGENT"], env=_env(SIMGQL_JWT_SECRET=api.secret), cwd=tmp_path
    )

    assert code == 0, err
    token = out.strip()
    assert re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]+", token), out
    result = await api.run(None, ME, token=token)
    assert result.ok()["me"] == {
        "sub": "cli-user",
        "role": "SP_AGENT",
        "warehouse": None,
        "account": None,
    }


async def test_token_command_mints_an_enterprise_token_for_an_account(
    api: GraphQLClient, db: Database, tmp_path: Path
) -> None:
    tenant = await make_tenant(db)

    code, out, err = await _run_async(
        ["token", "--role", "ENTERPRISE_PURCHASER", "--account", tenant.code, "--sub", "jane"],
        env=_env(SIMGQL_JWT_SECRET=api.secret),
        cwd=tmp_path,
    )

    assert code == 0, err
    result = await api.run(None, ME, token=out.strip())
    assert result.ok()["me"] == {
        "sub": "jane",
        "role": "ENTERPRISE_PURCHASER",
        "warehouse": None,
        "account": {"code": tenant.code},
    }


async def test_token_signed_with_another_secret_is_refused(
    api: GraphQLClient, tmp_path: Path
) -> None:
    code, out, err = await _run_async(
        ["token", "--role", "SP_AGENT"],
        env=_env(SIMGQL_JWT_SECRET="some-other-secret-0123456789abcdef"),
        cwd=tmp_path,
    )

    assert code == 0, err
    result = await api.run(None, ME, token=out.strip())
    assert result.code == "UNAUTHENTICATED"


def test_token_command_rejects_an_unknown_role(tmp_path: Path) -> None:
    done = _run(["token", "--role", "EMPEROR"], env=_env(), cwd=tmp_path)

    assert done.returncode != 0
    assert done.stdout == ""
    assert "EMPEROR" in done.stderr
    assert "Traceback" not in done.stderr


# --- simgql db upgrade -----------------------------------------------------------------------


def _tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    finally:
        conn.close()
    return {r[0] for r in rows}


def test_db_upgrade_creates_the_tables_in_a_new_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "folder" / "orders.db"
    env = _env(SIMGQL_DATABASE_URL=f"sqlite:///{path}")

    done = _run(["db", "upgrade"], env=env, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert path.is_file()
    tables = _tables(path)
    assert {
        "accounts",
        "products",
        "product_assignments",
        "purchase_orders",
        "purchase_order_lines",
        "po_status_events",
        "sims",
        "alembic_version",
    } <= tables

    again = _run(["db", "upgrade"], env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert _tables(path) == tables


# --- simgql schema export --------------------------------------------------------------------


def test_exported_schema_matches_the_committed_schema_file(tmp_path: Path) -> None:
    """Fails when schema.graphql in the repository is stale: run `simgql schema export`."""
    target = tmp_path / "exported.graphql"

    done = _run(["schema", "export", "-o", str(target)], env=_env(), cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    exported = target.read_text()
    assert "type Query" in exported
    assert "purchaseOrders(" in exported
    assert exported == COMMITTED_SCHEMA.read_text(), (
        f"{COMMITTED_SCHEMA} differs from the running schema; regenerate it with "
        "`simgql schema export` and commit the result"
    )


def test_schema_export_writes_schema_graphql_by_default(tmp_path: Path) -> None:
    done = _run(["schema", "export"], env=_env(), cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert (tmp_path / "schema.graphql").read_text() == COMMITTED_SCHEMA.read_text()


# --- simgql serve --demo ---------------------------------------------------------------------

PO_LIST = """
{ purchaseOrders(first: 100) { totalCount edges { node { status account { code } } } } }
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_until_healthy(proc: subprocess.Popen[bytes], base: str, logs: Path) -> None:
    deadline = time.monotonic() + STARTUP_LIMIT_SECONDS
    with httpx.Client(timeout=2) as client:
        while True:
            assert proc.poll() is None, f"server exited early:\n{logs.read_text()}"
            try:
                if client.get(f"{base}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"no /healthz within the limit:\n{logs.read_text()}"
            time.sleep(0.2)


def _demo_token(stdout: str, label: str) -> str:
    match = re.search(rf"^\s*{re.escape(label)}\s+(\S+)\s*$", stdout, re.MULTILINE)
    assert match, f"no token for {label!r} in:\n{stdout}"
    return match.group(1)


def _query(client: httpx.Client, base: str, token: str, query: str) -> dict[str, Any]:
    response = client.post(
        f"{base}/graphql",
        json={"query": query},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert not body.get("errors"), body
    data: dict[str, Any] = body["data"]
    return data


def _stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.terminate()
    try:
        return proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


def test_serve_demo_starts_a_server_with_demo_data_and_tokens(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    out_path, err_path = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    env = _env(HOME=str(home), SIMGQL_JWT_SECRET=SERVER_SECRET)
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(
            [*_simgql(), "serve", "--demo", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=err,
        )
    try:
        _wait_until_healthy(proc, base, err_path)
        stdout = out_path.read_text()
        acme = _demo_token(stdout, "ENTERPRISE_PURCHASER ACME")
        globex = mint_token(
            secret=SERVER_SECRET,
            role=Role.ENTERPRISE_PURCHASER,
            sub="buyer@globex",
            account="GLOBEX",
            ttl=dt.timedelta(minutes=10),
        )
        with httpx.Client(timeout=10) as client:
            acme_pos = _query(client, base, acme, PO_LIST)["purchaseOrders"]
            globex_pos = _query(client, base, globex, PO_LIST)["purchaseOrders"]
            agent_pos = _query(client, base, _demo_token(stdout, "SP_AGENT"), PO_LIST)
            me = _query(client, base, acme, "{ me { role account { code } } }")["me"]

        assert me == {"role": "ENTERPRISE_PURCHASER", "account": {"code": "ACME"}}
        assert acme_pos["totalCount"] == 4
        assert {e["node"]["account"]["code"] for e in acme_pos["edges"]} == {"ACME"}
        assert {e["node"]["status"] for e in acme_pos["edges"]} == {
            "DRAFT",
            "SUBMITTED",
            "PROVISIONING",
            "SHIPPED",
        }
        assert globex_pos["totalCount"] == 3
        assert {e["node"]["account"]["code"] for e in globex_pos["edges"]} == {"GLOBEX"}
        assert {e["node"]["status"] for e in globex_pos["edges"]} == {
            "SUBMITTED",
            "REJECTED",
            "READY",
        }
        assert agent_pos["purchaseOrders"]["totalCount"] == 7
        assert (home / ".local" / "share" / "simgql" / "simgql.db").is_file()
    finally:
        code = _stop(proc)
    # A clean stop: exit status 0, or death by the SIGTERM it was sent (uvicorn re-raises it
    # after its graceful shutdown), never a crash or a kill.
    assert code in (0, -signal.SIGTERM), err_path.read_text()
