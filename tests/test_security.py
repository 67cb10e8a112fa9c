"""Security hardening: token verification, security headers, CORS, log hygiene, prod check.

The RS256/ES256 tests need the `cryptography` package (PyJWT[crypto]); without it they skip.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import io
import json
import logging
import secrets
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import jwt
import jwt.api_jwk
import pytest
import websockets
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from simgql.api.auth import mint_token
from simgql.api.security import (
    DEFAULT_CONTENT_SECURITY_POLICY,
    REDACTED,
    InsecureConfiguration,
    RedactSecrets,
    SecurityHeadersMiddleware,
    check_production,
    cors_middleware,
    install_log_redaction,
    security_middleware,
)
from simgql.api.tokens import (
    MAX_LEEWAY_SECONDS,
    TokenVerifier,
    load_jwks,
    verifier_from_settings,
)
from simgql.db.engine import Database
from simgql.db.migrate import upgrade
from simgql.demo import seed_demo
from simgql.domain.errors import Unauthenticated
from simgql.domain.model import Role
from simgql.settings import DEMO_JWT_SECRET, Settings
from tests.client import WsClient
from tests.server import ServerProcess, running_server

SECRET = "security-test-" + secrets.token_hex(24)
OTHER_SECRET = "another-secret-" + secrets.token_hex(24)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64json(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def now() -> int:
    return int(dt.datetime.now(dt.UTC).timestamp())


def claims(**changes: Any) -> dict[str, Any]:
    """Claims of a valid admin token, with changes (a None value removes the claim)."""
    base: dict[str, Any] = {"sub": "alice", "role": "SP_ADMIN", "iat": now(), "exp": now() + 600}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def hs256(secret: str = SECRET, **changes: Any) -> str:
    return jwt.encode(claims(**changes), secret, algorithm="HS256")


def unsigned(alg: str, body: dict[str, Any], signature: str = "") -> str:
    return f"{_b64json({'alg': alg, 'typ': 'JWT'})}.{_b64json(body)}.{signature}"


def refused(verifier: TokenVerifier, token: str) -> str:
    """The message `verify` refuses `token` with; it never repeats the token."""
    with pytest.raises(Unauthenticated) as caught:
        verifier.verify(token)
    message = caught.value.message
    assert len(token) < 8 or token not in message
    assert caught.value.code == "UNAUTHENTICATED"
    return message


@pytest.fixture
def verifier() -> TokenVerifier:
    return TokenVerifier(secret=SECRET)


# --- TokenVerifier: HS256 ----------------------------------------------------------------


def test_a_valid_hs256_token_gives_its_claims(verifier: TokenVerifier) -> None:
    assert verifier.verify(hs256(account="ACME"))["account"] == "ACME"


def test_tokens_minted_by_simgql_are_accepted(verifier: TokenVerifier) -> None:
    token = mint_token(secret=SECRET, role=Role.SP_AGENT, sub="agent.smith")
    got = verifier.verify(token)
    assert (got["sub"], got["role"]) == ("agent.smith", "SP_AGENT")


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(unsigned("none", claims()), id="alg-none"),
        pytest.param(unsigned("None", claims()), id="alg-None"),
        pytest.param(unsigned("NONE", claims(), _b64(b"sig")), id="alg-NONE-with-signature"),
    ],
)
def test_unsigned_tokens_are_refused(verifier: TokenVerifier, token: str) -> None:
    assert refused(verifier, token) == "unsigned tokens (alg 'none') are not accepted"


def test_hs256_token_without_signature_is_refused(verifier: TokenVerifier) -> None:
    assert refused(verifier, unsigned("HS256", claims())) == "the token's signature is not valid"


def test_none_can_never_be_configured() -> None:
    with pytest.raises(ValueError, match="'none' algorithm"):
        TokenVerifier(secret=SECRET, algorithms=["HS256", "none"])


def test_algorithms_are_pinned(verifier: TokenVerifier) -> None:
    hs512 = jwt.encode(claims(), SECRET + SECRET, algorithm="HS512")
    assert refused(verifier, hs512) == "the token's signing algorithm 'HS512' is not accepted"
    rs256 = unsigned("RS256", claims(), _b64(b"x" * 256))
    assert refused(verifier, rs256) == "the token's signing algorithm 'RS256' is not accepted"
    odd = unsigned("XX999", claims(), _b64(b"x"))
    assert refused(verifier, odd) == "the token's signing algorithm is not accepted"


def test_another_secret_or_a_forged_signature_is_refused(verifier: TokenVerifier) -> None:
    assert refused(verifier, hs256(OTHER_SECRET)) == "the token's signature is not valid"
    header, _, signature = hs256().split(".")
    swapped = f"{header}.{_b64json(claims(role='SP_ADMIN', sub='mallory'))}.{signature}"
    assert refused(verifier, swapped) == "the token's signature is not valid"


@pytest.mark.parametrize("claim", ["exp", "sub", "role"])
def test_required_claims_must_be_present(verifier: TokenVerifier, claim: str) -> None:
    token = hs256(**{claim: None})
    assert refused(verifier, token) == f"the token lacks the required claim '{claim}'"


def test_expired_tokens_are_refused_and_leeway_is_bounded() -> None:
    late = hs256(exp=now() - 30)
    assert refused(TokenVerifier(secret=SECRET), late) == "the token has expired"
    assert TokenVerifier(secret=SECRET, leeway=60).verify(late)["sub"] == "alice"
    assert refused(TokenVerifier(secret=SECRET, leeway=10), late) == "the token has expired"
    TokenVerifier(secret=SECRET, leeway=MAX_LEEWAY_SECONDS)
    for leeway in (MAX_LEEWAY_SECONDS + 1, 86_400, -1, float("nan")):
        with pytest.raises(ValueError, match="leeway"):
            TokenVerifier(secret=SECRET, leeway=leeway)


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_tokens_from_the_future_are_refused_beyond_the_leeway(claim: str) -> None:
    token = hs256(**{claim: now() + 120})
    message = refused(TokenVerifier(secret=SECRET, leeway=60), token)
    assert message == "the token is not valid yet (its nbf or iat is in the future)"
    assert TokenVerifier(secret=SECRET, leeway=300).verify(token)["sub"] == "alice"


def test_non_numeric_time_claims_are_refused(verifier: TokenVerifier) -> None:
    assert refused(verifier, hs256(exp="tomorrow")) == "the token is malformed"
    assert refused(verifier, hs256(nbf="yesterday")) == "the token is malformed"
    assert refused(verifier, hs256(iat="now")) == "the token's iat claim is not a number"


def test_issuer_is_required_and_checked_when_configured() -> None:
    verifier = TokenVerifier(secret=SECRET, issuer="https://id.example.com/")
    assert verifier.verify(hs256(iss="https://id.example.com/"))["iss"]
    assert refused(verifier, hs256()) == "the token lacks the required claim 'iss'"
    evil = hs256(iss="https://evil.example.com/")
    assert refused(verifier, evil) == "the token's issuer is not accepted"


def test_audience_is_required_and_checked_when_configured() -> None:
    verifier = TokenVerifier(secret=SECRET, audience="simgql")
    assert verifier.verify(hs256(aud="simgql"))["aud"] == "simgql"
    assert verifier.verify(hs256(aud=["billing", "simgql"]))["sub"] == "alice"
    assert refused(verifier, hs256()) == "the token lacks the required claim 'aud'"
    assert refused(verifier, hs256(aud="billing")) == "the token's audience is not accepted"
    several = TokenVerifier(secret=SECRET, audience=["simgql", "simgql-staging"])
    assert several.verify(hs256(aud="simgql-staging"))["sub"] == "alice"


def test_a_token_meant_for_another_audience_is_refused_when_none_is_configured(
    verifier: TokenVerifier,
) -> None:
    assert refused(verifier, hs256(aud="billing")) == "the token's audience is not accepted"


@pytest.mark.parametrize(
    "token",
    ["garbage", "a.b.c", "eyJ.eyJ.x", "..", " ", unsigned("HS256", {"x": 1})[:-1] + "!!"],
)
def test_malformed_tokens_are_refused(verifier: TokenVerifier, token: str) -> None:
    refused(verifier, token)


def test_oversized_tokens_are_refused_before_parsing(verifier: TokenVerifier) -> None:
    token = hs256(padding="x" * 10_000)
    assert refused(verifier, token) == "the token is longer than 8192 bytes"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"algorithms": []}, "at least one", id="no-algorithm"),
        pytest.param({"algorithms": ["HS1"]}, "unsupported JWT algorithm", id="unknown"),
        pytest.param({"secret": None}, "needs a shared secret", id="hs256-without-secret"),
        pytest.param({"secret": ""}, "needs a shared secret", id="hs256-empty-secret"),
        pytest.param(
            {"secret": "-----BEGIN PUBLIC KEY-----\nMIIB...\n-----END PUBLIC KEY-----"},
            "looks like a PEM",
            id="pem-as-secret",
        ),
        pytest.param({"algorithms": ["RS256"]}, "needs public keys", id="rs256-without-jwks"),
    ],
)
def test_misconfiguration_is_refused_at_construction(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TokenVerifier(**{"secret": SECRET, **kwargs})


def test_the_secret_never_shows_in_the_verifiers_repr(verifier: TokenVerifier) -> None:
    assert SECRET not in repr(verifier)
    assert "HS256" in repr(verifier)


def test_verifier_from_settings_reads_todays_and_tomorrows_settings() -> None:
    today = verifier_from_settings(Settings(jwt_secret=SECRET, jwt_leeway_seconds=5))
    assert today.algorithms == ("HS256",)
    assert today.leeway == 5
    assert today.verify(hs256())["sub"] == "alice"
    tomorrow = verifier_from_settings(
        SimpleNamespace(
            jwt_secret=SECRET,
            jwt_algorithms="HS256, HS384",
            jwt_issuer="https://id.example.com/",
            jwt_audience=["simgql"],
            jwt_leeway_seconds=0,
            jwt_jwks=None,
        )
    )
    assert tomorrow.algorithms == ("HS256", "HS384")
    assert tomorrow.required_claims == ("exp", "sub", "role", "iss", "aud")


# --- JWKS documents ------------------------------------------------------------------------


def test_jwks_documents_are_validated(tmp_path: Path) -> None:
    oct_key = {"kty": "oct", "k": _b64(b"k" * 32)}
    with pytest.raises(ValueError, match="symmetric"):
        load_jwks({"keys": [oct_key]})
    with pytest.raises(ValueError, match='"keys" list'):
        load_jwks({"key": []})
    with pytest.raises(ValueError, match="not valid JSON"):
        load_jwks("{ nope")
    with pytest.raises(ValueError, match="cannot read the JWKS file"):
        load_jwks(str(tmp_path / "missing.json"))
    with pytest.raises(ValueError, match="unsupported key type"):
        load_jwks({"keys": [{"kty": "XYZ"}]})
    with pytest.raises(ValueError, match="no signature verification key"):
        load_jwks({"keys": []})


def test_a_jwks_without_cryptography_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(jwt.api_jwk, "has_crypto", False)
    rsa_jwk = {"kty": "RSA", "n": _b64(b"\x01" * 256), "e": "AQAB", "kid": "k1"}
    with pytest.raises(ValueError, match=r"PyJWT\[crypto\]"):
        TokenVerifier(algorithms=["RS256"], jwks={"keys": [rsa_jwk]})


# --- TokenVerifier: RS256 and ES256 (need `cryptography`) ----------------------------------


class KeyPair:
    def __init__(self, private: Any, jwk: dict[str, Any]) -> None:
        self.private = private
        self.jwk = jwk

    def sign(self, alg: str, kid: str | None = "default", **changes: Any) -> str:
        headers = {"kid": self.jwk["kid"] if kid == "default" else kid} if kid else None
        return jwt.encode(claims(**changes), self.private, algorithm=alg, headers=headers)

    def public_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return bytes(
            self.private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )


def _rsa(kid: str) -> KeyPair:
    pytest.importorskip("cryptography")
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    return KeyPair(private, {**jwk, "kid": kid, "use": "sig"})


@pytest.fixture(scope="module")
def rsa_key() -> KeyPair:
    return _rsa("rsa-1")


@pytest.fixture(scope="module")
def other_rsa_key() -> KeyPair:
    return _rsa("rsa-2")


@pytest.fixture(scope="module")
def ec_key() -> KeyPair:
    pytest.importorskip("cryptography")
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    return KeyPair(private, {**jwk, "kid": "ec-1"})


def test_rs256_with_a_jwks_from_a_file_a_json_string_or_a_mapping(
    rsa_key: KeyPair, tmp_path: Path
) -> None:
    document = {"keys": [rsa_key.jwk]}
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(document))
    token = rsa_key.sign("RS256", account="ACME")
    for source in (str(path), path, json.dumps(document), document):
        verifier = TokenVerifier(algorithms=["RS256"], jwks=source)
        assert verifier.verify(token)["account"] == "ACME"


def test_rs256_keys_are_chosen_by_kid(rsa_key: KeyPair, other_rsa_key: KeyPair) -> None:
    verifier = TokenVerifier(
        algorithms=["RS256", "PS256"], jwks={"keys": [rsa_key.jwk, other_rsa_key.jwk]}
    )
    assert verifier.verify(other_rsa_key.sign("RS256"))["sub"] == "alice"
    assert verifier.verify(rsa_key.sign("PS256"))["sub"] == "alice"
    assert verifier.verify(rsa_key.sign("RS256", kid=None))["sub"] == "alice"  # tries each key
    unknown = rsa_key.sign("RS256", kid="rsa-9")
    assert refused(verifier, unknown) == "the token's key id names no key this server trusts"
    mislabelled = rsa_key.sign("RS256", kid="rsa-2")
    assert refused(verifier, mislabelled) == "the token's signature is not valid"


def test_rs256_signed_by_an_untrusted_key_is_refused(
    rsa_key: KeyPair, other_rsa_key: KeyPair
) -> None:
    verifier = TokenVerifier(algorithms=["RS256"], jwks={"keys": [rsa_key.jwk]})
    assert refused(verifier, other_rsa_key.sign("RS256", kid=None)) == (
        "the token's signature is not valid"
    )
    expired = rsa_key.sign("RS256", exp=now() - 10)
    assert refused(verifier, expired) == "the token has expired"
    assert refused(verifier, rsa_key.sign("RS256", exp=None)) == (
        "the token lacks the required claim 'exp'"
    )


def _hs256_signed_with(key: bytes, body: dict[str, Any], kid: str) -> str:
    signing_input = f"{_b64json({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{_b64json(body)}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def test_algorithm_confusion_is_refused(rsa_key: KeyPair) -> None:
    """An HS256 token "signed" with the RSA public key (which anyone has) as its secret."""
    jwks = {"keys": [rsa_key.jwk]}
    for key in (rsa_key.public_pem(), json.dumps(rsa_key.jwk).encode()):
        forged = _hs256_signed_with(key, claims(role="SP_ADMIN"), kid="rsa-1")
        rs_only = TokenVerifier(algorithms=["RS256"], jwks=jwks)
        assert refused(rs_only, forged) == "the token's signing algorithm 'HS256' is not accepted"
        mixed = TokenVerifier(secret=SECRET, algorithms=["HS256", "RS256"], jwks=jwks)
        assert refused(mixed, forged) == "the token's signature is not valid"
        assert mixed.verify(hs256())["sub"] == "alice"
        assert mixed.verify(rsa_key.sign("RS256"))["sub"] == "alice"


def test_es256_and_key_families(ec_key: KeyPair, rsa_key: KeyPair) -> None:
    verifier = TokenVerifier(algorithms=["ES256", "RS256"], jwks={"keys": [ec_key.jwk]})
    assert verifier.verify(ec_key.sign("ES256"))["sub"] == "alice"
    rsa_signed = rsa_key.sign("RS256", kid="ec-1")
    assert refused(verifier, rsa_signed) == "the token's key id names no key this server trusts"
    with pytest.raises(ValueError, match="no key of the JWKS can verify RS256"):
        TokenVerifier(algorithms=["RS256"], jwks={"keys": [ec_key.jwk]})


def test_jwks_refuses_private_keys_and_skips_encryption_keys(rsa_key: KeyPair) -> None:
    private_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.private))
    with pytest.raises(ValueError, match="private key material"):
        load_jwks({"keys": [private_jwk]})
    encryption = {**rsa_key.jwk, "use": "enc", "kid": "enc-1"}
    assert [k.kid for k in load_jwks({"keys": [encryption, rsa_key.jwk]})] == ["rsa-1"]
    with pytest.raises(ValueError, match="two keys with the key id"):
        load_jwks({"keys": [rsa_key.jwk, rsa_key.jwk]})
    with pytest.raises(ValueError, match="no asymmetric algorithm is accepted"):
        TokenVerifier(secret=SECRET, jwks={"keys": [rsa_key.jwk]})


# --- security headers -------------------------------------------------------------------

PAGE_CSP = "default-src 'self'"


async def _json(_request: Request) -> Response:
    return JSONResponse({"ok": True})


async def _page(_request: Request) -> Response:
    return HTMLResponse("<p>hi</p>", headers={"Content-Security-Policy": PAGE_CSP})


async def _framed(_request: Request) -> Response:
    return Response("x", headers={"X-Frame-Options": "SAMEORIGIN"})


def tiny_app(**settings: Any) -> Starlette:
    return Starlette(
        routes=[
            Route("/json", _json, methods=["GET", "POST"]),
            Route("/page", _page),
            Route("/framed", _framed),
        ],
        middleware=security_middleware(SimpleNamespace(**settings)),
    )


def client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t.test")


async def test_security_headers_are_added() -> None:
    async with client(tiny_app()) as http:
        response = await http.get("/json")
        missing = await http.get("/nowhere")
    for r in (response, missing):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["x-frame-options"] == "DENY"
        assert "camera=()" in r.headers["permissions-policy"]
        assert r.headers["content-security-policy"] == DEFAULT_CONTENT_SECURITY_POLICY
        assert "strict-transport-security" not in r.headers
    assert missing.status_code == 404


async def test_headers_a_response_sets_itself_are_kept() -> None:
    async with client(tiny_app()) as http:
        page = await http.get("/page")
        framed = await http.get("/framed")
    assert page.headers.get_list("content-security-policy") == [PAGE_CSP]
    assert page.headers["x-frame-options"] == "DENY"
    assert framed.headers.get_list("x-frame-options") == ["SAMEORIGIN"]


async def test_hsts_only_when_the_service_is_behind_https() -> None:
    async with client(tiny_app(https=True)) as http:
        response = await http.get("/json")
    assert response.headers["strict-transport-security"] == "max-age=31536000"


async def test_non_http_scopes_pass_through_untouched() -> None:
    seen: list[Any] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(send)

    async def send(_message: Any) -> None:
        return None

    async def receive() -> Any:
        return {}

    middleware = SecurityHeadersMiddleware(inner, https=True)
    await middleware({"type": "websocket"}, receive, send)
    assert seen == [send]


async def test_graphiql_keeps_its_own_policy_under_the_middleware(tmp_path: Path) -> None:
    from simgql.api.graphiql import CONTENT_SECURITY_POLICY, graphiql_response

    async def ide(_request: Request) -> Response:
        return graphiql_response()

    app = Starlette(routes=[Route("/graphql", ide)], middleware=security_middleware(object()))
    async with client(app) as http:
        page = await http.get("/graphql", headers={"accept": "text/html"})
    assert page.headers.get_list("content-security-policy") == [CONTENT_SECURITY_POLICY]
    assert page.headers["x-frame-options"] == "DENY"


# --- CORS -------------------------------------------------------------------------------

ALLOWED = "https://app.example.com"


def _preflight(origin: str) -> dict[str, str]:
    return {
        "origin": origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
    }


async def test_cors_preflight_from_an_allowed_origin() -> None:
    async with client(tiny_app(allowed_origins=[ALLOWED + ":443/"])) as http:
        preflight = await http.options("/json", headers=_preflight(ALLOWED))
        simple = await http.post("/json", json={}, headers={"origin": ALLOWED})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ALLOWED
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in preflight.headers
    assert preflight.headers["x-content-type-options"] == "nosniff"
    assert simple.headers["access-control-allow-origin"] == ALLOWED
    assert simple.headers["access-control-expose-headers"] == "Retry-After"


@pytest.mark.parametrize("origins", [[], [ALLOWED]])
async def test_cors_refuses_other_origins(origins: list[str]) -> None:
    evil = "https://evil.example.net"
    async with client(tiny_app(allowed_origins=origins)) as http:
        preflight = await http.options("/json", headers=_preflight(evil))
        simple = await http.post("/json", json={}, headers={"origin": evil})
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in simple.headers


def test_cors_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="wildcard"):
        cors_middleware(["*"], allow_credentials=True)
    cors_middleware(["*"])
    with pytest.raises(ValueError, match="Invalid origin"):
        cors_middleware(["https://app.example.com/path"])
    with pytest.raises(TypeError, match="not a string"):
        cors_middleware(ALLOWED)


# --- the production check ---------------------------------------------------------------

GOOD_SECRET = secrets.token_urlsafe(48)


def prod(**settings: Any) -> SimpleNamespace:
    base: dict[str, Any] = {
        "env": "production",
        "jwt_secret": GOOD_SECRET,
        "jwt_algorithms": ["HS256"],
        "jwt_jwks": None,
        "https": True,
        "introspection": False,
        "allowed_origins": [],
    }
    return SimpleNamespace(**{**base, **settings})


def test_development_checks_nothing() -> None:
    assert check_production(Settings()) == []  # today's settings: no `env` yet
    assert check_production(prod(env="development", jwt_secret=DEMO_JWT_SECRET)) == []


def test_a_sound_production_configuration_passes() -> None:
    assert check_production(prod()) == []
    rs_only = prod(jwt_secret=DEMO_JWT_SECRET, jwt_algorithms=["RS256"], jwt_jwks="/etc/jwks")
    assert check_production(rs_only) == []


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        pytest.param(prod(jwt_secret=DEMO_JWT_SECRET), "public demo secret", id="demo"),
        pytest.param(prod(env="PRODUCTION", jwt_secret=DEMO_JWT_SECRET), "demo", id="case"),
        pytest.param(prod(jwt_secret="x" * 31), "shorter than 32 bytes", id="short"),
        pytest.param(
            prod(jwt_secret="x" * 40, jwt_algorithms=["HS512"]), "shorter than 64", id="hs512"
        ),
        pytest.param(prod(jwt_secret=""), "no token can be verified", id="nothing"),
        pytest.param(prod(jwt_secret=None), "no token can be verified", id="none"),
        pytest.param(
            prod(jwt_algorithms=["RS256"]), "SIMGQL_JWT_JWKS is not set", id="rs256-no-jwks"
        ),
    ],
)
def test_insecure_production_settings_are_refused(settings: Any, problem: str) -> None:
    with pytest.raises(InsecureConfiguration, match=problem) as caught:
        check_production(settings)
    assert "SIMGQL_ENV=production" in str(caught.value)
    assert DEMO_JWT_SECRET not in str(caught.value)


def test_production_warnings() -> None:
    warnings = check_production(prod(https=False, introspection=True, allowed_origins=["*"]))
    assert len(warnings) == 3
    assert any("SIMGQL_HTTPS" in w for w in warnings)


# --- log hygiene ------------------------------------------------------------------------


def _capturing_logger(name: str) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    logger = logging.getLogger(name)
    logger.handlers = [logging.StreamHandler(stream)]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


def test_redaction_blanks_secrets_and_tokens_in_messages_and_tracebacks() -> None:
    logger, stream = _capturing_logger("simgql.test.redaction")
    try:
        logger.handlers[0].addFilter(RedactSecrets([SECRET]))
        token = hs256()
        logger.info("secret %s and header Bearer %s", SECRET, token)
        try:
            raise ValueError(f"bad token {token}")
        except ValueError:
            logger.exception("failed")
        logger.info("plain %d", 42)
    finally:
        logger.handlers = []
    text = stream.getvalue()
    assert SECRET not in text
    assert token not in text
    assert token.split(".")[2] not in text
    assert text.count(REDACTED) == 3
    assert "plain 42" in text


def test_install_log_redaction_covers_configured_handlers() -> None:
    logger, stream = _capturing_logger("simgql.test.install")
    try:
        redaction = install_log_redaction([SECRET])
        assert redaction in logger.handlers[0].filters
        install_log_redaction([OTHER_SECRET, "short"])  # a second app: added, not stacked
        assert logger.handlers[0].filters == [redaction]
        logger.warning("using %s and %s, not %s", SECRET, OTHER_SECRET, "short")
    finally:
        logger.handlers = []
    assert stream.getvalue() == f"using {REDACTED} and {REDACTED}, not short\n"


async def _seed(url: str) -> None:
    await upgrade(url)
    db = Database(url)
    try:
        await seed_demo(db)
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
def verbose_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real server with a known secret, logging every SQL statement and its parameters."""
    tmp = tmp_path_factory.mktemp("security")
    url = f"sqlite+aiosqlite:///{tmp / 'demo.db'}"
    asyncio.run(_seed(url))
    with running_server(tmp, database_url=url, jwt_secret=SECRET, sql_echo="true") as proc:
        yield proc


ME = "{ me { sub role account { code } } }"


async def test_the_server_never_logs_the_secret_or_a_token(
    verbose_server: ServerProcess,
) -> None:
    def token(role: Role, sub: str, account: str | None = None, **kw: Any) -> str:
        return mint_token(secret=SECRET, role=role, sub=sub, account=account, **kw)

    good = token(Role.ENTERPRISE_PURCHASER, "buyer@acme", "ACME")
    admin = token(Role.SP_ADMIN, "admin")
    expired = token(Role.SP_ADMIN, "admin", ttl=-dt.timedelta(minutes=1))
    forged = hs256(OTHER_SECRET)
    unknown_account = token(Role.ENTERPRISE_VIEWER, "v", "NO-SUCH-ACCOUNT")
    unsigned_token = unsigned("none", claims())
    used = [good, admin, expired, forged, unknown_account, unsigned_token]

    async with httpx.AsyncClient(timeout=10) as http:
        for value in used:
            response = await http.post(
                verbose_server.http_url,
                json={"query": ME},
                headers={"authorization": f"Bearer {value}"},
            )
            assert response.status_code == 200
            assert value not in response.text
            assert SECRET not in response.text
        ok = await http.post(
            verbose_server.http_url,
            json={"query": ME},
            headers={"authorization": f"Bearer {good}"},
        )
        assert ok.json()["data"]["me"]["account"]["code"] == "ACME"
        await http.post(
            verbose_server.http_url,
            json={"query": "{ purchaseOrders(first: 5) { totalCount } }"},
            headers={"authorization": f"Bearer {admin}"},
        )
    async with WsClient(verbose_server.ws_url) as ws:
        assert (await ws.init(admin))["type"] == "connection_ack"
    async with WsClient(verbose_server.ws_url) as ws:
        with pytest.raises(websockets.ConnectionClosed):
            await ws.init(forged)

    await asyncio.sleep(0.5)  # let the server flush its log
    log = verbose_server.output()
    assert "SELECT" in log, "the server logged no SQL: the check below would prove nothing"
    assert SECRET not in log
    for value in used:
        assert value not in log
        signature = value.split(".")[-1]
        assert not signature or signature not in log
