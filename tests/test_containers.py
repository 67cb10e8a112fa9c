"""The container files say what docs/deployment.md promises.

There is no Docker engine in the test environment, so nothing is built or started here:
the Dockerfile, compose.yaml, the nginx config and .dockerignore are read and their
essentials asserted (non-root, health check, no secret baked in, migrations before the
replicas, two replicas sharing Redis, WebSocket upgrades through the proxy). The image's
health check command itself is run against a real server. When the `docker compose` plugin
is installed, `docker compose config` validates the file as well.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml  # PyYAML, installed with uvicorn[standard]

from simgql.db.migrate import upgrade_sync
from simgql.settings import DEMO_JWT_SECRET
from tests.server import free_port, running_server

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
COMPOSE = DOCKER / "compose.yaml"
DOCKERIGNORE = ROOT / ".dockerignore"


# --- Dockerfile ----------------------------------------------------------------------------


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def last(self, keyword: str) -> str:
        found = self.all(keyword)
        assert found, f"stage {self.name or self.image} has no {keyword}"
        return found[-1]


def _instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction, continuation lines joined, comments dropped."""
    result = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, args = current.strip().partition(" ")
        result.append((keyword.upper(), args.strip()))
        current = ""
    return result


def _stages(text: str) -> list[Stage]:
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for keyword, rest in _instructions(text):
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "FROM":
            words = rest.split()
            words = [w for w in words if not w.startswith("--")]
            image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), words[0])
            name = words[2] if len(words) > 2 and words[1].upper() == "AS" else None
            stages.append(Stage(image, name))
        else:
            assert stages, f"{keyword} before FROM"
            stages[-1].instructions.append((keyword, rest))
    return stages


STAGES = _stages(DOCKERFILE.read_text(encoding="utf-8"))
RUNTIME = STAGES[-1]


def test_dockerfile_builds_a_wheel_and_installs_it_into_slim_python() -> None:
    assert len(STAGES) >= 2, "multi-stage: a builder and a runtime"
    builder = STAGES[0]
    assert builder.name == "builder"
    assert any("pip wheel" in run for run in builder.all("RUN"))
    assert RUNTIME.image == "python:3.11-slim"
    installs = [run for run in RUNTIME.all("RUN") if "pip install" in run]
    assert installs, "the runtime stage installs the wheels"
    assert any("from=builder" in run and "--no-index" in run for run in installs)
    # The sources the builder copies are all in the build context (.dockerignore).
    sources = [
        part
        for copy in builder.all("COPY")
        for part in shlex.split(copy)[:-1]
        if not part.startswith("--")
    ]
    assert set(sources) >= {"pyproject.toml", "src"}
    ignore = [line.strip() for line in DOCKERIGNORE.read_text("utf-8").splitlines()]
    ignore = [line for line in ignore if line and not line.startswith("#")]
    assert ignore[0] == "*", ".dockerignore lets in only what the build needs"
    for source in sources:
        assert f"!{source.rstrip('/')}" in ignore or f"!{source.rstrip('/')}/" in ignore


def test_runtime_runs_as_an_unprivileged_user() -> None:
    user = RUNTIME.last("USER").split(":")[0]
    assert user not in ("root", "0", "")
    assert any("useradd" in run and user in run for run in RUNTIME.all("RUN"))


def test_runtime_exposes_serves_and_checks_its_health() -> None:
    assert "8000" in RUNTIME.all("EXPOSE")
    assert json.loads(RUNTIME.last("ENTRYPOINT")) == ["simgql"]
    assert json.loads(RUNTIME.last("CMD")) == ["serve", "--host", "0.0.0.0"]
    healthcheck = RUNTIME.last("HEALTHCHECK")
    assert "/healthz" in healthcheck
    assert "curl" not in healthcheck
    assert "wget" not in healthcheck


def test_no_secret_is_baked_into_the_image() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert DEMO_JWT_SECRET not in text
    for stage in STAGES:
        for keyword in ("ENV", "ARG"):
            for args in stage.all(keyword):
                assert "SECRET" not in args.upper(), f"{keyword} {args}"
                assert "PASSWORD" not in args.upper(), f"{keyword} {args}"


def _healthcheck_command() -> list[str]:
    healthcheck = RUNTIME.last("HEALTHCHECK")
    _, _, command = healthcheck.partition("CMD ")
    argv = json.loads(command)
    assert argv[:2] == ["python", "-c"]
    return [sys.executable, "-c", argv[2]]


def test_the_health_check_command_tells_up_from_down(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'health.db'}"
    upgrade_sync(database_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMGQL_")}
    with running_server(tmp_path, database_url=database_url) as server:
        up = subprocess.run(
            _healthcheck_command(),
            env={**env, "SIMGQL_PORT": str(server.port)},
            capture_output=True,
            timeout=30,
        )
        assert up.returncode == 0, up.stderr.decode()
    down = subprocess.run(
        _healthcheck_command(),
        env={**env, "SIMGQL_PORT": str(free_port())},
        capture_output=True,
        timeout=30,
    )
    assert down.returncode != 0


# --- compose.yaml --------------------------------------------------------------------------


COMPOSE_TEXT = COMPOSE.read_text(encoding="utf-8")
SERVICES: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)["services"]


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _depends(service: dict[str, Any]) -> dict[str, str]:
    depends = service.get("depends_on") or {}
    if isinstance(depends, list):
        return dict.fromkeys(depends, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in depends.items()}


def _replica_services() -> dict[str, dict[str, Any]]:
    """The services that serve the API (the image's default command, or `serve`)."""
    return {
        name: s
        for name, s in SERVICES.items()
        if s.get("build") and (s.get("command") is None or "serve" in s["command"])
    }


def test_postgres_and_redis_are_there_with_health_checks() -> None:
    assert SERVICES["postgres"]["image"] == "postgres:16"
    assert "pg_isready" in " ".join(SERVICES["postgres"]["healthcheck"]["test"])
    assert SERVICES["redis"]["image"].startswith("redis:7")


def test_migrations_run_once_before_the_replicas() -> None:
    migrate = SERVICES["migrate"]
    assert migrate["command"] == ["db", "upgrade"]
    assert _depends(migrate)["postgres"] == "service_healthy"
    assert _env(migrate)["SIMGQL_DATABASE_URL"].startswith("postgresql://")
    assert migrate.get("restart", "no") == "no"
    for name, replica in _replica_services().items():
        assert replica["image"] == migrate["image"], f"{name} runs the image migrate ran"
        assert _depends(replica)["migrate"] == "service_completed_successfully"


def test_two_replicas_share_postgres_and_the_redis_broadcast() -> None:
    replicas = _replica_services()
    count = sum(int((s.get("deploy") or {}).get("replicas", 1)) for s in replicas.values())
    assert count == 2
    for name, replica in replicas.items():
        env = _env(replica)
        assert env["SIMGQL_DATABASE_URL"].startswith("postgresql://"), name
        assert "@postgres:5432/" in env["SIMGQL_DATABASE_URL"], name
        assert env["SIMGQL_BROADCAST_URL"] == "redis://redis:6379/0", name
        assert re.fullmatch(r"\$\{SIMGQL_JWT_SECRET:\?[^}]+\}", env["SIMGQL_JWT_SECRET"]), (
            f"{name}: the JWT secret must come from the environment, required"
        )
        assert "ports" not in replica, f"{name} is reached through the proxy only"


def test_every_variable_has_a_default_or_is_required() -> None:
    for match in re.finditer(r"\$\{([^}]*)\}", COMPOSE_TEXT):
        assert re.fullmatch(r"\w+(:-[^}]*|:\?[^}]+)", match.group(1)), match.group(0)


def test_build_context_is_the_repository_root() -> None:
    for name, service in SERVICES.items():
        build = service.get("build")
        if build is None:
            continue
        context = (DOCKER / build["context"]).resolve()
        assert context == ROOT, name
        assert (context / build["dockerfile"]).resolve() == DOCKERFILE, name


# --- the proxy -----------------------------------------------------------------------------


def _proxy() -> tuple[dict[str, Any], str]:
    proxy = SERVICES["proxy"]
    assert proxy["image"].startswith(("nginx:", "caddy:"))
    mounts = [v.split(":") for v in proxy.get("volumes", [])]
    configs = [DOCKER / host for host, *_ in mounts if host.startswith("./")]
    assert configs, "the proxy's config file comes from docker/"
    assert all(path.is_file() for path in configs)
    return proxy, configs[0].read_text(encoding="utf-8")


def _block(config: str, header: str) -> str:
    """The body of the `header { ... }` block (braces balanced)."""
    start = config.index(header)
    depth = 0
    for i in range(config.index("{", start), len(config)):
        if config[i] == "{":
            depth += 1
        elif config[i] == "}":
            depth -= 1
            if depth == 0:
                return config[config.index("{", start) + 1 : i]
    raise AssertionError(f"unbalanced block {header}")


def _directives(block: str) -> list[list[str]]:
    lines = [re.sub(r"#.*", "", line) for line in block.splitlines()]
    return [d.split() for d in " ".join(lines).split(";") if d.strip()]


def _seconds(value: str) -> int:
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    match = re.fullmatch(r"(\d+)([smhd]?)", value)
    assert match, value
    return int(match.group(1)) * unit.get(match.group(2) or "s", 1)


def test_proxy_fronts_the_replicas_and_is_published() -> None:
    proxy, config = _proxy()
    assert proxy.get("ports"), "the proxy is the one published port"
    replicas = _replica_services()
    for name in replicas:
        assert name in _depends(proxy)
    upstream = _directives(_block(config, "upstream "))
    servers = [d[1] for d in upstream if d[0] == "server"]
    assert servers
    assert {s.split(":")[0] for s in servers} <= set(replicas)
    assert all(s.endswith(":8000") for s in servers)


def test_proxy_passes_websocket_upgrades_on_graphql() -> None:
    _, config = _proxy()
    location = _directives(_block(config, "location /graphql"))
    headers = {d[1].lower(): d[2] for d in location if d[0] == "proxy_set_header"}
    settings = {d[0]: d[1:] for d in location if d[0] != "proxy_set_header"}
    assert settings["proxy_http_version"] == ["1.1"]
    assert headers["upgrade"] == "$http_upgrade"
    connection = headers["connection"]
    if connection.startswith("$"):
        mapping = _block(config, f"map $http_upgrade {connection}")
        assert "upgrade" in mapping
    else:
        assert connection.strip('"').lower() == "upgrade"
    # The client's Host: simgql accepts same-origin browser WebSockets by comparing it.
    assert headers["host"] == "$http_host"
    assert _seconds(settings["proxy_read_timeout"][0]) >= 600
    # Server-Sent Events and multipart subscriptions must not wait in a buffer.
    assert settings["proxy_buffering"] == ["off"]


# --- docker compose, when it is installed ------------------------------------------------


def _compose_plugin() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.mark.skipif(not _compose_plugin(), reason="the docker compose plugin is not installed")
def test_docker_compose_accepts_the_file() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMGQL_")}
    command = ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"]
    ok = subprocess.run(
        command, env={**env, "SIMGQL_JWT_SECRET": "x" * 32}, capture_output=True, timeout=60
    )
    assert ok.returncode == 0, ok.stderr.decode()
    missing = subprocess.run(command, env=env, capture_output=True, timeout=60)
    assert missing.returncode != 0
    assert b"SIMGQL_JWT_SECRET" in missing.stderr
