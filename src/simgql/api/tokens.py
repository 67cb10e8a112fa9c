"""Verifying bearer tokens: pinned algorithms, required expiry, bounded clock skew.

`TokenVerifier` is built from plain values (see `verifier_from_settings` for the settings
names) and turns a token into its claims, or raises `Unauthenticated` with a message that
says what is wrong without echoing the token back.

- Algorithms are pinned: only those configured are accepted, `none` never is, and the
  verifying key is chosen by the algorithm's family, so an HMAC token is only ever checked
  against the shared secret and an RS/ES/EdDSA token only against a public key of the JWKS
  (no "algorithm confusion": an HS256 token signed with the RSA public key as its secret
  fails like any other forgery).
- `exp` is required; `nbf` and `iat` in the future, beyond the leeway, are refused; the
  leeway is at most `MAX_LEEWAY_SECONDS`.
- An issuer and an audience can be required. A token that names an audience when none is
  configured is refused (it was meant for another service).
- Public keys come from a JWKS document, given as a file path or as the JSON itself; nothing
  is fetched over the network. To rotate keys, update the document and build a new verifier
  (restart the server). RS/ES/EdDSA need the `cryptography` package (`PyJWT[crypto]`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt

from simgql.domain.errors import Unauthenticated

if TYPE_CHECKING:
    from jwt.types import Options

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
ASYMMETRIC_ALGORITHMS = RSA_ALGORITHMS | frozenset(EC_CURVES) | frozenset({"EdDSA"})
SUPPORTED_ALGORITHMS = HMAC_ALGORITHMS | ASYMMETRIC_ALGORITHMS
DEFAULT_ALGORITHMS: tuple[str, ...] = ("HS256",)
MAX_LEEWAY_SECONDS = 300
MAX_TOKEN_BYTES = 8192
# Claims simgql reads from every token, besides `exp` (always required).
DEFAULT_REQUIRED_CLAIMS: tuple[str, ...] = ("sub", "role")
# JWK members that only a private key has: a verifier must never be handed one.
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


@dataclass(frozen=True)
class PublicKey:
    """One verification key of a JWKS document."""

    kid: str | None
    kty: str
    crv: str | None
    alg: str | None  # the JWK's own `alg`, when it names one
    key: Any  # the `cryptography` public key object

    def fits(self, alg: str) -> bool:
        """Whether a token signed with `alg` may be checked with this key."""
        if self.alg is not None:
            return self.alg == alg
        if alg in RSA_ALGORITHMS:
            return self.kty == "RSA"
        if alg in EC_CURVES:
            return self.kty == "EC" and self.crv == EC_CURVES[alg]
        if alg == "EdDSA":
            return self.kty == "OKP"
        return False


def load_jwks(source: str | os.PathLike[str] | Mapping[str, Any]) -> tuple[PublicKey, ...]:
    """The signing keys of a JWKS document: a mapping, a JSON string or a file path.

    Raises `ValueError` for anything an operator must fix: an unreadable file, a document
    that is not a JWKS, private or symmetric key material, or a missing `cryptography`.
    """
    document: Any
    if isinstance(source, Mapping):
        document = source
    else:
        text = os.fspath(source)
        if not text.lstrip().startswith("{"):
            path = Path(text)
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise ValueError(f"cannot read the JWKS file {path}: {exc.strerror}") from None
        try:
            document = json.loads(text)
        except ValueError:
            raise ValueError("the JWKS document is not valid JSON") from None
    keys = document.get("keys") if isinstance(document, Mapping) else None
    if not isinstance(keys, list):
        raise ValueError('a JWKS document is a JSON object with a "keys" list')
    loaded: list[PublicKey] = []
    for index, jwk in enumerate(keys):
        key = _public_key(index, jwk)
        if key is None:
            continue
        if key.kid is not None and any(k.kid == key.kid for k in loaded):
            raise ValueError(f"the JWKS has two keys with the key id {key.kid!r}")
        loaded.append(key)
    if not loaded:
        raise ValueError("the JWKS holds no signature verification key")
    return tuple(loaded)


def _public_key(index: int, jwk: Any) -> PublicKey | None:
    """One JWK as a `PublicKey`; None for keys that are not for verifying signatures."""
    where = f"key {index} of the JWKS"
    if not isinstance(jwk, Mapping):
        raise ValueError(f"{where} is not a JSON object")
    kty = jwk.get("kty")
    if kty == "oct":
        raise ValueError(
            f"{where} is a symmetric ('oct') key: set the shared secret instead, "
            "and keep it out of the JWKS"
        )
    if kty not in ("RSA", "EC", "OKP"):
        raise ValueError(f"{where} has an unsupported key type {kty!r}")
    private = sorted(_PRIVATE_MEMBERS & set(jwk))
    if private:
        raise ValueError(
            f"{where} holds private key material ({', '.join(private)}); "
            "give the server public keys only"
        )
    if jwk.get("use", "sig") != "sig":
        return None
    key_ops = jwk.get("key_ops")
    if isinstance(key_ops, list) and "verify" not in key_ops:
        return None
    alg = jwk.get("alg")
    if alg is not None and alg not in ASYMMETRIC_ALGORITHMS:
        raise ValueError(f"{where} names an unsupported algorithm {alg!r}")
    kid = jwk.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise ValueError(f"{where} has a key id that is not a string")
    try:
        parsed = jwt.PyJWK(dict(jwk))
    except jwt.exceptions.MissingCryptographyError:
        raise ValueError(
            "RS/PS/ES/EdDSA keys need the 'cryptography' package: install PyJWT[crypto]"
        ) from None
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise ValueError(f"{where} is not a valid {kty} public key ({exc})") from None
    crv = jwk.get("crv")
    return PublicKey(
        kid=kid,
        kty=str(kty),
        crv=crv if isinstance(crv, str) else None,
        alg=alg,
        key=parsed.key,
    )


def _names(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """A setting that is one name or several, as a tuple without blanks."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(item.strip() for item in items if isinstance(item, str) and item.strip())


class TokenVerifier:
    """Checks bearer tokens against one configuration; safe to share between requests."""

    def __init__(
        self,
        *,
        secret: str | None = None,
        algorithms: str | Sequence[str] = DEFAULT_ALGORITHMS,
        issuer: str | None = None,
        audience: str | Sequence[str] | None = None,
        leeway: float = 0,
        jwks: str | os.PathLike[str] | Mapping[str, Any] | None = None,
        require: Sequence[str] = DEFAULT_REQUIRED_CLAIMS,
        max_token_bytes: int = MAX_TOKEN_BYTES,
    ) -> None:
        names = _names(algorithms)
        if not names:
            raise ValueError("at least one JWT algorithm must be accepted")
        for name in names:
            if name.lower() == "none":
                raise ValueError("the 'none' algorithm (unsigned tokens) cannot be accepted")
            if name not in SUPPORTED_ALGORITHMS:
                supported = ", ".join(sorted(SUPPORTED_ALGORITHMS))
                raise ValueError(f"unsupported JWT algorithm {name!r} (supported: {supported})")
        if not 0 <= leeway <= MAX_LEEWAY_SECONDS:
            raise ValueError(
                f"the JWT leeway must be between 0 and {MAX_LEEWAY_SECONDS} seconds, not {leeway}"
            )
        shared = [n for n in names if n in HMAC_ALGORITHMS]
        asymmetric = [n for n in names if n in ASYMMETRIC_ALGORITHMS]
        if shared:
            if not secret:
                raise ValueError(f"{', '.join(shared)} needs a shared secret")
            if secret.lstrip().startswith(("-----BEGIN", "ssh-")):
                raise ValueError(
                    "the JWT secret looks like a PEM or SSH key: HMAC needs a random secret; "
                    "give public keys as a JWKS document"
                )
        keys = load_jwks(jwks) if jwks is not None else ()
        if asymmetric:
            if not keys:
                raise ValueError(f"{', '.join(asymmetric)} needs public keys (a JWKS document)")
            if not any(key.fits(alg) for key in keys for alg in asymmetric):
                raise ValueError(
                    f"no key of the JWKS can verify {', '.join(asymmetric)} signatures"
                )
        elif keys:
            raise ValueError(
                "a JWKS is configured but no asymmetric algorithm is accepted: "
                "add RS256 or ES256 (for example) to the accepted algorithms"
            )
        if max_token_bytes < 1:
            raise ValueError("max_token_bytes must be positive")
        self.algorithms = names
        self.issuer = issuer or None
        self.audience = _names(audience) or None
        self.leeway = float(leeway)
        self.max_token_bytes = max_token_bytes
        self._secret = secret if shared else None
        self._keys = keys
        required = ["exp", *(c for c in require if c != "exp")]
        if self.issuer is not None:
            required.append("iss")
        if self.audience is not None:
            required.append("aud")
        self.required_claims = tuple(required)

    def __repr__(self) -> str:  # never the secret
        return (
            f"TokenVerifier(algorithms={list(self.algorithms)}, issuer={self.issuer!r}, "
            f"audience={self.audience!r}, leeway={self.leeway}, public_keys={len(self._keys)})"
        )

    @property
    def uses_secret(self) -> bool:
        return self._secret is not None

    @property
    def public_keys(self) -> tuple[PublicKey, ...]:
        return self._keys

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid token; `Unauthenticated` for anything else."""
        if not isinstance(token, str) or not token.strip():
            raise Unauthenticated("a bearer token is required")
        if len(token) > self.max_token_bytes:
            raise Unauthenticated(f"the token is longer than {self.max_token_bytes} bytes")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("the token is malformed") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or not alg:
            raise Unauthenticated("the token names no signing algorithm")
        if alg.lower() == "none":
            raise Unauthenticated("unsigned tokens (alg 'none') are not accepted")
        if alg not in self.algorithms:
            shown = f" {alg!r}" if alg in SUPPORTED_ALGORITHMS else ""
            raise Unauthenticated(f"the token's signing algorithm{shown} is not accepted")
        for key in self._keys_for(alg, header.get("kid")):
            try:
                claims: dict[str, Any] = jwt.decode(
                    token,
                    key,
                    algorithms=[alg],
                    options=self._options(),
                    issuer=self.issuer,
                    audience=self.audience,
                    leeway=self.leeway,
                )
            except (jwt.InvalidSignatureError, jwt.InvalidKeyError):
                continue  # another key of the JWKS may fit (tokens without `kid`)
            except jwt.PyJWTError as exc:
                raise unauthenticated(exc) from None
            return claims
        raise Unauthenticated("the token's signature is not valid")

    def _keys_for(self, alg: str, kid: object) -> list[Any]:
        if alg in HMAC_ALGORITHMS:
            return [self._secret]
        fitting = [key for key in self._keys if key.fits(alg)]
        if kid is not None:
            fitting = [key for key in fitting if key.kid == kid]
            if not fitting:
                raise Unauthenticated("the token's key id names no key this server trusts")
        return [key.key for key in fitting]

    def _options(self) -> Options:
        return {
            "verify_signature": True,
            "verify_exp": True,
            "verify_nbf": True,
            "verify_iat": True,
            "verify_iss": True,
            "verify_aud": True,
            "require": list(self.required_claims),
        }


def unauthenticated(exc: jwt.PyJWTError) -> Unauthenticated:
    """What a PyJWT error means to the client: a message that carries no token content."""
    if isinstance(exc, jwt.ExpiredSignatureError):
        return Unauthenticated("the token has expired")
    if isinstance(exc, jwt.ImmatureSignatureError):
        return Unauthenticated("the token is not valid yet (its nbf or iat is in the future)")
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return Unauthenticated(f"the token lacks the required claim '{exc.claim}'")
    if isinstance(exc, jwt.InvalidIssuerError):
        return Unauthenticated("the token's issuer is not accepted")
    if isinstance(exc, jwt.InvalidAudienceError):
        return Unauthenticated("the token's audience is not accepted")
    if isinstance(exc, jwt.InvalidIssuedAtError):
        return Unauthenticated("the token's iat claim is not a number")
    if isinstance(exc, jwt.exceptions.InvalidSubjectError):
        return Unauthenticated("the token's subject is not valid")
    if isinstance(exc, jwt.InvalidSignatureError | jwt.InvalidKeyError):
        return Unauthenticated("the token's signature is not valid")
    if isinstance(exc, jwt.InvalidAlgorithmError):
        return Unauthenticated("the token's signing algorithm is not accepted")
    if isinstance(exc, jwt.DecodeError):
        return Unauthenticated("the token is malformed")
    return Unauthenticated("the token is not valid")


def verifier_from_settings(settings: object) -> TokenVerifier:
    """The verifier a `Settings` describes.

    Reads `jwt_secret`, `jwt_algorithms` (default HS256), `jwt_issuer`, `jwt_audience`,
    `jwt_leeway_seconds` and `jwt_jwks` (a file path or the JSON document), each optional,
    so it works with settings objects that do not have every field yet.
    """
    return TokenVerifier(
        secret=getattr(settings, "jwt_secret", None) or None,
        algorithms=getattr(settings, "jwt_algorithms", None) or DEFAULT_ALGORITHMS,
        issuer=getattr(settings, "jwt_issuer", None) or None,
        audience=getattr(settings, "jwt_audience", None) or None,
        leeway=getattr(settings, "jwt_leeway_seconds", 0) or 0,
        jwks=getattr(settings, "jwt_jwks", None) or None,
    )
