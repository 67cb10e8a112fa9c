"""The `simgql` command: serve, migrate, seed, mint tokens, export the schema."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from simgql.domain.model import Role
from simgql.logs import configure_logging
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
    worker = sub.add_parser("worker", help="run the sales order request job on its own")
    worker.add_argument(
        "--once", action="store_true", help="one pass over waiting orders, then exit"
    )
    sales = sub.add_parser("sales-orders", help="generic-format files for warehouses")
    sales_sub = sales.add_subparsers(dest="sales_command", required=True)
    extract = sales_sub.add_parser("extract", help="write a warehouse's generated orders")
    extract.add_argument("--warehouse", required=True)
    extract.add_argument("--out", required=True)
    load = sales_sub.add_parser("load", help="apply a dispatch/error report file")
    load.add_argument("file")
    schema = sub.add_parser("schema", help="schema tasks")
    schema_sub = schema.add_subparsers(dest="schema_command", required=True)
    export = schema_sub.add_parser("export", help="write the SDL")
    export.add_argument("--output", "-o", default="schema.graphql")
    check = schema_sub.add_parser(
        "check", help="fail on breaking changes against the last released schema"
    )
    check.add_argument(
        "--against",
        default="schema/released.graphql",
        help="the released SDL to compare with (default: schema/released.graphql)",
    )
    return p


def schema_sdl() -> str:
    from strawberry.printer import print_schema

    from simgql.api.schema import schema

    return print_schema(schema) + "\n"


def _schema_check(against: str) -> int:
    """Print graphql-core's breaking (and dangerous) changes; 1 when any is breaking."""
    from simgql.schema_compat import compare

    try:
        released = Path(against).read_text(encoding="utf-8")
    except OSError as exc:
        print(f"error: cannot read the released schema: {exc}", file=sys.stderr)
        return 2
    result = compare(released, schema_sdl())
    for line in result.report():
        print(line)
    if not result.compatible:
        print(
            f"{len(result.breaking)} breaking change(s) against {against}: deprecate instead "
            "of removing or changing (see docs/api.md, Schema evolution)",
            file=sys.stderr,
        )
        return 1
    print(f"no breaking changes against {against}")
    return 0


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
    buyer = mint_token(
        secret=settings.jwt_secret,
        role=Role.ENTERPRISE_PURCHASER,
        sub="buyer@acme",
        account="ACME",
        ttl=dt.timedelta(hours=12),
    )
    print(f"\nGraphiQL: http://{shown}:{port}/graphql")
    print(
        f"  signed in as the ACME purchaser: http://{shown}:{port}/graphql#token={buyer}\n",
        flush=True,
    )


async def _worker(settings: Settings, *, once: bool) -> int:
    from simgql.db.engine import Database
    from simgql.events.hub import EventHub
    from simgql.fulfilment.job import SalesOrderJob, load_check, run_once

    db = Database(settings.database_url)
    hub = EventHub(db, settings.broadcast_url)
    custom = load_check(settings.fraud_check) if settings.fraud_check else None
    try:
        if once:
            await hub.bus.start()
            handled = await run_once(db, custom=custom, publish=hub.published)
            print(f"generated {handled} sales orders")
            return 0
        await hub.start()
        job = SalesOrderJob(
            db,
            mode="scheduled",
            interval=settings.sales_order_job_interval_seconds,
            custom=custom,
            publish=hub.published,
        )
        await job.start()
        print("sales order request job running; Ctrl+C stops it", flush=True)
        await asyncio.Event().wait()
        return 0
    finally:
        await hub.stop()
        await db.dispose()


async def _sales_orders(settings: Settings, args: argparse.Namespace) -> int:
    import json

    from simgql.db.engine import Database
    from simgql.domain.errors import DomainError
    from simgql.events.hub import EventHub
    from simgql.fulfilment.files import FileRejected, extract, load

    db = Database(settings.database_url)
    try:
        if args.sales_command == "extract":
            try:
                document = await extract(db, warehouse_code=args.warehouse)
            except DomainError as exc:
                print(f"error: {exc.message}", file=sys.stderr)
                return 1
            text = json.dumps(document, indent=2) + "\n"
            await asyncio.to_thread(Path(args.out).write_text, text)
            print(f"wrote {len(document['orders'])} orders to {args.out}")
            return 0
        try:
            content = await asyncio.to_thread(Path(args.file).read_bytes)
        except OSError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        try:
            report = await load(db, content=content)
        except FileRejected as rejected:
            print(f"refused, nothing applied: {len(rejected.problems)} problem(s)", file=sys.stderr)
            for problem in rejected.problems:
                print(f"  {problem}", file=sys.stderr)
            return 1
        if report.already_loaded:
            print("this file was loaded before; nothing changed")
            return 0
        hub = EventHub(db, settings.broadcast_url)
        await hub.bus.start()
        try:
            await hub.published(report.events)
        finally:
            await hub.stop()
        print(
            f"applied: {report.dispatched} dispatched, {report.errors} errors, "
            f"{report.unchanged} already recorded"
        )
        return 0
    finally:
        await db.dispose()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    if args.command == "serve":
        import uvicorn

        from simgql.api.security import InsecureConfiguration, check_production, is_production
        from simgql.api.websocket import WS_PROTOCOL

        try:
            warnings = check_production(settings)
        except InsecureConfiguration as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
        if args.demo and is_production(settings):
            print("error: --demo is refused with SIMGQL_ENV=production", file=sys.stderr)
            return 2
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
            log_config=None,  # ours (`configure_logging`): uvicorn's records go through it
            # uvicorn's sans-I/O protocol, keeping less per socket (`simgql.api.websocket`).
            ws=WS_PROTOCOL,
            # Compression state costs about 300 KiB per socket for messages of a few hundred
            # bytes: off, so 5,000 idle subscribers fit in a couple of hundred MB.
            ws_per_message_deflate=False,
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
    if args.command == "worker":
        return asyncio.run(_worker(settings, once=args.once))
    if args.command == "sales-orders":
        return asyncio.run(_sales_orders(settings, args))
    if args.command == "schema" and args.schema_command == "check":
        return _schema_check(args.against)
    if args.command == "schema":
        Path(args.output).write_text(schema_sdl())
        print(f"wrote {args.output}")
        return 0
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    raise SystemExit(main())
