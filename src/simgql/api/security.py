"""HTTP hardening: security headers, CORS, log redaction and the production settings check.

- `SecurityHeadersMiddleware` adds conservative headers to every HTTP response, without
  overriding one the response already has (the GraphiQL page sets its own
  Content-Security-Policy); `Strict-Transport-Security` only when the service is known to
  be reached over HTTPS.
- `cors_middleware` builds Starlette's `CORSMiddleware` from a list of allowed origins.
  Tokens travel in the `Authorization` header, not cookies, so credentials mode is off by
  default, and a wildcard origin is refused when it is on.
- `RedactSecrets` is a logging filter that blanks the JWT secret and anything shaped like a
  JWT out of log records; `install_log_redaction` puts it on every handler.
- `check_production` refuses to start a production service with the demo secret, a short
  secret or no way to verify tokens at all.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.http.websocket_origin import normalize_allowed_origins

from simgql.api.tokens import ASYMMETRIC_ALGORITHMS, DEFAULT_ALGORITHMS, HMAC_ALGORITHMS
from simgql.settings import DEMO_JWT_SECRET

# For responses that are not HTML pages (JSON, text, scripts) nothing may be loaded, framed
# or used as a base: a JSON error rendered as a document by mistake stays inert.
DEFAULT_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
)
HSTS_MAX_AGE_SECONDS = 31_536_000  # one year
CORS_METHODS = ("GET", "POST")
CORS_HEADERS = ("Authorization", "Content-Type", "Accept")
# Response headers a cross-origin page may read besides the safelisted ones (429 responses).
CORS_EXPOSED_HEADERS = ("Retry-After",)
CORS_MAX_AGE_SECONDS = 600
# A JWT: three base64url parts, the first two JSON objects (so starting with `eyJ`).
JWT_PATTERN = re.compile(r"eyJ[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
REDACTED = "[redacted]"
# The shortest HMAC secret that is as long as the hash it keys (RFC 7518, section 3.2).
MIN_SECRET_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}


def security_headers(
    *, https: bool = False, hsts_max_age: int = HSTS_MAX_AGE_SECONDS
) -> list[tuple[str, str]]:
    """The headers `SecurityHeadersMiddleware` adds, in order."""
    headers = [
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
        ("Permissions-Policy", PERMISSIONS_POLICY),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Content-Security-Policy", DEFAULT_CONTENT_SECURITY_POLICY),
    ]
    if https:
        headers.append(("Strict-Transport-Security", f"max-age={hsts_max_age}"))
    return headers


class SecurityHeadersMiddleware:
    """Adds security headers to HTTP responses; a header the response set itself is kept."""

    def __init__(
        self, app: ASGIApp, *, https: bool = False, hsts_max_age: int = HSTS_MAX_AGE_SECONDS
    ) -> None:
        self.app = app
        self.headers = security_headers(https=https, hsts_max_age=hsts_max_age)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    if name not in headers:
                        headers.append(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def cors_middleware(
    origins: Iterable[str],
    *,
    allow_credentials: bool = False,
    allow_headers: Sequence[str] = CORS_HEADERS,
    max_age: int = CORS_MAX_AGE_SECONDS,
) -> Middleware:
    """Starlette's CORS middleware for these origins (`https://app.example.com`, ...).

    An empty list allows no cross-origin browser request (preflights are refused). `*`
    allows every origin, and is refused together with `allow_credentials`: a wildcard
    with credentials would let any site act with the user's cookies.
    """
    if isinstance(origins, str):
        raise TypeError(f"origins must be a list of origins, not a string: [{origins!r}]?")
    allowed = normalize_allowed_origins(list(origins))
    if allow_credentials and "*" in allowed:
        raise ValueError("a wildcard CORS origin cannot be combined with credentials")
    return Middleware(
        CORSMiddleware,
        allow_origins=sorted(allowed),
        allow_methods=CORS_METHODS,
        allow_headers=list(allow_headers),
        allow_credentials=allow_credentials,
        expose_headers=CORS_EXPOSED_HEADERS,
        max_age=max_age,
    )


def security_middleware(settings: object) -> list[Middleware]:
    """The HTTP hardening middleware a `Settings` describes, outermost first.

    Reads `https` (default False) and `allowed_origins` (default none).
    """
    return [
        Middleware(SecurityHeadersMiddleware, https=bool(getattr(settings, "https", False))),
        cors_middleware(getattr(settings, "allowed_origins", None) or []),
    ]


class RedactSecrets(logging.Filter):
    """Blanks secrets and JWT-shaped strings out of a record's message and traceback."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Blank these too. Values shorter than 8 characters are ignored: they would blank
        ordinary words (and the production check refuses such secrets anyway)."""
        known = set(self.secrets) | {s for s in secrets if len(s) >= 8}
        # Longest first, so a secret that contains another is blanked whole.
        self.secrets = sorted(known, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return JWT_PATTERN.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler to report
            return True
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def install_log_redaction(secrets: Iterable[str] = ()) -> RedactSecrets:
    """Put one `RedactSecrets` on every handler configured now (root's and uvicorn's).

    Call it once logging is configured (in the app's lifespan). Handlers that already have
    a `RedactSecrets` get these secrets added to it.
    """
    secrets = list(secrets)
    redaction = RedactSecrets(secrets)
    loggers: list[logging.Logger] = [logging.getLogger()]
    loggers += [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            present = [f for f in handler.filters if isinstance(f, RedactSecrets)]
            for existing in present:
                existing.add(secrets)
            if not present:
                handler.addFilter(redaction)
    return redaction


class InsecureConfiguration(ValueError):
    """Settings that must not reach production; the message lists every problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("refusing to start with SIMGQL_ENV=production: " + "; ".join(problems))
        self.problems = list(problems)


def is_production(settings: object) -> bool:
    env = getattr(settings, "env", None)
    return isinstance(env, str) and env.strip().lower() in ("production", "prod")


def _algorithms(settings: object) -> list[str]:
    value: Any = getattr(settings, "jwt_algorithms", None) or DEFAULT_ALGORITHMS
    items = value.split(",") if isinstance(value, str) else list(value)
    return [str(item).strip() for item in items if str(item).strip()]


def check_production(settings: object) -> list[str]:
    """In production, raise `InsecureConfiguration` for settings that would expose tenants.

    Refused: the public demo secret, a secret shorter than its algorithm's hash (32 bytes
    for HS256), no secret and no JWKS. Returns warnings (things to review, not fatal) for a
    production service; outside production it checks nothing and returns no warnings.
    Reads `env`, `jwt_secret`, `jwt_algorithms`, `jwt_jwks`, `https`, `introspection` and
    `allowed_origins`.
    """
    if not is_production(settings):
        return []
    algorithms = _algorithms(settings)
    secret = getattr(settings, "jwt_secret", None) or ""
    jwks = getattr(settings, "jwt_jwks", None) or None
    shared = [a for a in algorithms if a in HMAC_ALGORITHMS]
    asymmetric = [a for a in algorithms if a in ASYMMETRIC_ALGORITHMS]
    problems: list[str] = []
    if not secret and not jwks:
        problems.append("no SIMGQL_JWT_SECRET and no SIMGQL_JWT_JWKS: no token can be verified")
    if shared:
        needed = max(MIN_SECRET_BYTES[a] for a in shared)
        if not secret:
            if jwks:
                problems.append(f"{', '.join(shared)} is accepted but SIMGQL_JWT_SECRET is empty")
        elif secret == DEMO_JWT_SECRET:
            problems.append("SIMGQL_JWT_SECRET is the public demo secret: anyone can mint tokens")
        elif len(secret.encode("utf-8")) < needed:
            problems.append(
                f"SIMGQL_JWT_SECRET is shorter than {needed} bytes "
                f"(make one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
    if asymmetric and not jwks:
        problems.append(f"{', '.join(asymmetric)} is accepted but SIMGQL_JWT_JWKS is not set")
    if problems:
        raise InsecureConfiguration(problems)
    warnings: list[str] = []
    if not getattr(settings, "https", False):
        warnings.append(
            "SIMGQL_HTTPS is off: tokens must still only travel over TLS "
            "(set it when a TLS proxy fronts the service, to send HSTS)"
        )
    if getattr(settings, "introspection", False):
        warnings.append("introspection is on (SIMGQL_INTROSPECTION=false hides the schema)")
    if "*" in (getattr(settings, "allowed_origins", None) or []):
        warnings.append("SIMGQL_ALLOWED_ORIGINS allows every origin ('*')")
    return warnings
