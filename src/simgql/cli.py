"""The `simgql` command: serve, migrate, seed, mint tokens, export the schema."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from simgql.domain.model import Role
from simgql.settings import DEFAULT_DATA_DIR, Settings

DEMO_TOKENS = [
    (Role.ENTERPRISE_VIEWER, "ACME", None, "viewer@acme"),
    (Role.ENTERPRISE_PURCHASER, "ACME", None, "buyer@acme"),
    (Role.ENTERPRISE_PURCHASER, "GLOBEX", None, "buyer@globex"),
    (Role.SP_AGENT, None, None, "agent.smith"),
    (Role.SP_ADMIN, None, None, "admin"),
]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="simgql", description="GraphQL API for ordering SIM cards.")
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--demo", action="store_true", help="migrate, seed demo data, print tokens")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--workers", type=int, default=1)
    db = sub.add_parser("db", help="database tasks")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply every migration")
    seed = sub.add_parser("seed", help="load data")
    seed.add_argument("--demo", action="store_true", required=True)
    token = sub.add_parser("token", help="mint a bearer token for local use")
    token.add_argument("--role", required=True, choices=[r.value for r in Role])
    token.add_argument("--account")
    token.add_argument("--warehouse")
    token.add_argument("--sub", default="cli-user")
    token.add_argument("--ttl-hours", type=float, default=12)
    schema = sub.add_parser("schema", help="schema tasks")
    schema_sub = schema.add_subparsers(dest="schema_command", required=True)
    export = schema_sub.add_parser("export", help="write the SDL")
    export.add_argument("--output", "-o", default="schema.graphql")
    return p


def schema_sdl() -> str:
    from strawberry.printer import print_schema

    from simgql.api.schema import schema

    return print_schema(schema) + "\n"


async def _prepare_demo(settings: Settings) -> None:
    from simgql.db.engine import Database
    from simgql.db.migrate import upgrade
    from simgql.demo import seed_demo

    await upgrade(settings.database_url)
    db = Database(settings.database_url)
    try:
        seeded = await seed_demo(db)
    finally:
        await db.dispose()
    print("demo data seeded" if seeded else "demo data already present", flush=True)


def _print_demo_tokens(settings: Settings, host: str, port: int) -> None:
    import datetime as dt

    from simgql.api.auth import mint_token

    print("\nTokens (valid 12 hours; paste as HTTP header  Authorization: Bearer <token>):")
    for role, account, warehouse, sub in DEMO_TOKENS:
        t = mint_token(
            secret=settings.jwt_secret,
            role=role,
            sub=sub,
            account=account,
            warehouse=warehouse,
            ttl=dt.timedelta(hours=12),
        )
        label = f"{role.value}{' ' + account if account else ''}"
        print(f"  {label:<30} {t}")
    shown = "localhost" if host in ("0.0.0.0", "127.0.0.1") else host
    print(f"\nGraphiQL: http://{shown}:{port}/graphql\n", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if args.command == "serve":
        import uvicorn

        host = args.host or settings.host
        port = args.port or settings.port
        if args.demo:
            if settings.is_sqlite:
                DEFAULT_DATA_DIR.mkdir(parents=True, exist_ok=True)
            asyncio.run(_prepare_demo(settings))
            _print_demo_tokens(settings, host, port)
        elif settings.uses_demo_secret:
            print(
                "warning: SIMGQL_JWT_SECRET is not set; using the public demo secret",
                file=sys.stderr,
            )
        uvicorn.run(
            "simgql.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=args.workers,
            log_level=settings.log_level,
            ws="websockets-sansio",
        )
        return 0
    if args.command == "db":
        from simgql.db.migrate import upgrade

        asyncio.run(upgrade(settings.database_url))
        print("database is up to date")
        return 0
    if args.command == "seed":
        asyncio.run(_prepare_demo(settings))
        return 0
    if args.command == "token":
        import datetime as dt

        from simgql.api.auth import mint_token

        print(
            mint_token(
                secret=settings.jwt_secret,
                role=Role(args.role),
                sub=args.sub,
                account=args.account,
                warehouse=args.warehouse,
                ttl=dt.timedelta(hours=args.ttl_hours),
            )
        )
        return 0
    if args.command == "schema":
        Path(args.output).write_text(schema_sdl())
        print(f"wrote {args.output}")
        return 0
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    raise SystemExit(main())
