"""Runtime settings, read from the environment with the `SIMGQL_` prefix."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path.home() / ".local" / "share" / "simgql"
DEMO_JWT_SECRET = "simgql-demo-secret-change-me-0123456789"


class Settings(BaseSettings):
    """Every knob of a simgql process; see docs/configuration.md."""

    model_config = SettingsConfigDict(env_prefix="SIMGQL_", extra="ignore")

    database_url: str = Field(
        default_factory=lambda: f"sqlite+aiosqlite:///{DEFAULT_DATA_DIR / 'simgql.db'}"
    )
    broadcast_url: str = "memory://"
    env: str = Field(default="development", pattern="^(development|production)$")
    jwt_secret: str = Field(default=DEMO_JWT_SECRET, repr=False)
    jwt_algorithms: list[str] = Field(default_factory=lambda: ["HS256"])
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_jwks: str | None = None
    jwt_leeway_seconds: int = Field(default=0, ge=0, le=300)
    https: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    allowed_origins: list[str] = Field(default_factory=list)
    db_pool_size: int = 10
    ws_keep_alive_seconds: float = 15.0
    ws_connection_init_timeout_seconds: float = 10.0
    max_subscriptions_per_connection: int = 20
    subscriber_queue_size: int = 1000
    event_poll_seconds: float = 5.0
    broker_heartbeat_seconds: float = 2.0
    sales_order_job: str = Field(default="immediate", pattern="^(immediate|scheduled|off)$")
    sales_order_job_interval_seconds: float = 10.0
    fraud_check: str | None = None
    max_query_depth: int = 12
    max_query_aliases: int = 30
    max_query_directives: int = 50
    max_query_cost: int = 50_000
    max_query_tokens: int = 5_000
    introspection: bool = True
    max_body_bytes: int = 1_000_000
    execution_timeout_seconds: float = 30.0
    # Queries run through compiled plans when they can (simgql.api.compiled); off: always
    # the standard graphql-core executor. The answers are the same either way.
    compiled_execution: bool = True
    gc_gen0_threshold: int = Field(default=20_000, ge=0)
    rate_limit_enabled: bool = True
    rate_limit_per_second: float = 5_000.0
    rate_limit_burst: float = 200_000.0
    rate_limit_url: str | None = None
    sql_echo: bool = False
    log_level: str = "info"
    log_format: str = Field(default="text", pattern="^(text|json)$")
    tracing: str = Field(default="auto", pattern="^(auto|off|console|otlp)$")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def uses_demo_secret(self) -> bool:
        return self.jwt_secret == DEMO_JWT_SECRET


def normalise_database_url(url: str) -> str:
    """Accept plain `postgresql://` and `sqlite://` URLs and pick the async drivers."""
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url
