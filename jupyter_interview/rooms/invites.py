"""Invite tokens: sign and verify the JWTs that admit one participant, in one role, to one room."""

from __future__ import annotations

import logging
import math
import os
import secrets
import stat
import time
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from jwt.exceptions import InvalidJTIError, InvalidSubjectError
from jwt.types import Options

ROLES = ("interviewer", "candidate")

INVITE_ERROR_CODES = (
    "malformed",
    "alg_none",
    "unexpected_alg",
    "bad_signature",
    "expired",
    "not_yet_valid",
    "wrong_audience",
    "wrong_issuer",
    "missing_claim",
    "invalid_claim",
    "room_mismatch",
    "unknown_key",
)

REQUIRED_CLAIMS = ("exp", "iat", "aud", "iss", "sub", "jti", "role", "room", "name")

MIN_SECRET_BYTES = 32
_GENERATED_SECRET_BYTES = 64
_MAX_NAME_CHARS = 200
_MAX_ID_CHARS = 128
# Far larger than any invite we issue; refuses to spend work on megabyte-sized junk.
_MAX_TOKEN_CHARS = 8192
# Year 9999: the last instant `datetime` can render in a message.
_MAX_NUMERIC_DATE = 253402300799

_RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
_EC_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "ES256": ec.SECP256R1,
    "ES384": ec.SECP384R1,
    "ES512": ec.SECP521R1,
}
_PUBLIC_KEY_ALGORITHMS = (*_RSA_ALGORITHMS, *_EC_CURVES)
_MIN_RSA_BITS = 2048

_PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

log = logging.getLogger(__name__)


class InviteError(Exception):
    """A rejected invite. `code` is a stable snake_case reason, `message` is human: what was wrong
    and what is accepted."""

    code: str
    message: str

    def __init__(self, code: str, message: str) -> None:
        if code not in INVITE_ERROR_CODES:
            raise ValueError(f"unknown invite error code {code!r}; expected one of {INVITE_ERROR_CODES}")
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class InviteClaims:
    """The verified contents of an invite."""

    sub: str
    name: str
    role: str
    room: str
    jti: str
    iat: int
    exp: int
    iss: str
    aud: str


@dataclass(frozen=True)
class _VerifyKey:
    kid: str | None
    key: _PublicKey | bytes
    algorithms: tuple[str, ...]


class InviteKeys:
    """Which keys sign and verify. Built from config."""

    algorithms: tuple[str, ...]
    can_sign: bool

    def __init__(
        self, *, verify_keys: Sequence[_VerifyKey], signing_secret: bytes | None, algorithms: Sequence[str]
    ) -> None:
        self._verify_keys = tuple(verify_keys)
        self._signing_secret = signing_secret
        self.algorithms = tuple(algorithms)
        self.can_sign = signing_secret is not None

    def __repr__(self) -> str:
        # Never the secret: this object ends up in logs and tracebacks.
        return f"InviteKeys(algorithms={self.algorithms!r}, can_sign={self.can_sign!r})"

    @classmethod
    def hs256(cls, secret: bytes) -> InviteKeys:
        if not isinstance(secret, bytes):
            raise TypeError(f"the invite secret must be bytes, not {type(secret).__name__}")
        if len(secret) < MIN_SECRET_BYTES:
            # RFC 7518 3.2: an HS256 key shorter than the hash output weakens the MAC.
            raise ValueError(
                f"the invite secret is {len(secret)} bytes; "
                f"at least {MIN_SECRET_BYTES} random bytes are required"
            )
        return cls(
            verify_keys=[_VerifyKey(kid=None, key=secret, algorithms=("HS256",))],
            signing_secret=secret,
            algorithms=("HS256",),
        )

    @classmethod
    def public_keys(
        cls,
        pems: Sequence[str | bytes] | None = None,
        jwks: Mapping[str, Any] | None = None,
        algorithms: Sequence[str] = ("RS256", "ES256"),
    ) -> InviteKeys:
        accepted = tuple(algorithms)
        if not accepted:
            raise ValueError(
                f"no invite algorithms configured; choose from {', '.join(_PUBLIC_KEY_ALGORITHMS)}"
            )
        for alg in accepted:
            if alg not in _PUBLIC_KEY_ALGORITHMS:
                # Mixing HS* in here would let anyone holding the public key forge invites.
                raise ValueError(
                    f"invite algorithm {alg!r} cannot be used with public keys; "
                    f"choose from {', '.join(_PUBLIC_KEY_ALGORITHMS)}"
                )
        keys = [_key_from_pem(pem, index, accepted) for index, pem in enumerate(pems or ())]
        if jwks is not None:
            keys.extend(_keys_from_jwks(jwks, accepted))
        if not keys:
            raise ValueError(
                f"no usable invite verification key: give PEM public keys or a JWKS "
                f"with keys for {', '.join(accepted)}"
            )
        usable = tuple(alg for alg in accepted if any(alg in key.algorithms for key in keys))
        return cls(verify_keys=keys, signing_secret=None, algorithms=usable)

    @classmethod
    def load_or_create_secret(cls, path: str | os.PathLike[str]) -> InviteKeys:
        path = os.fspath(path)
        try:
            secret = _read_secret_file(path)
        except FileNotFoundError:
            secret = _create_secret_file(path)
        try:
            return cls.hs256(secret)
        except ValueError as exc:
            raise ValueError(f"invite secret file {path}: {exc}; delete it to generate a new one") from None

    def _sign(self, payload: Mapping[str, Any]) -> str:
        if self._signing_secret is None:
            raise RuntimeError(
                "this install only verifies invites from an external issuer and holds no signing key; "
                "configure an HS256 secret to issue invites here"
            )
        return jwt.encode(dict(payload), self._signing_secret, algorithm="HS256", headers={"typ": "JWT"})

    def _keys_for(self, alg: str, kid: str | None) -> list[_VerifyKey]:
        usable = [key for key in self._verify_keys if alg in key.algorithms]
        if kid is None:
            return usable
        named = [key for key in usable if key.kid == kid]
        if named:
            return named
        # A key configured without a kid (a PEM, the HS256 secret) vouches for any kid.
        unnamed = [key for key in usable if key.kid is None]
        if unnamed:
            return unnamed
        known = sorted({key.kid for key in usable if key.kid is not None})
        raise InviteError(
            "unknown_key",
            f"invite names signing key {_shorten(kid)!r}, which this server does not know for {alg}; "
            f"known key ids: {', '.join(known)}. If the issuer rotated its keys, update the configured JWKS",
        )


class InviteCodec:
    """Issues invites and verifies them under one issuer, audience and key set."""

    def __init__(
        self,
        keys: InviteKeys,
        issuer: str = "jupyter-interview",
        audience: str = "jupyter-interview",
        leeway_s: int = 30,
    ) -> None:
        if not issuer or not audience:
            raise ValueError("the invite issuer and audience must be non-empty strings")
        if leeway_s < 0:
            raise ValueError(f"invite clock leeway is {leeway_s}s; it must be 0 or more seconds")
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._leeway_s = leeway_s

    def issue(
        self,
        *,
        room: str,
        participant: str,
        name: str,
        role: str,
        expires_in_s: int,
        now: float | None = None,
    ) -> tuple[str, InviteClaims]:
        if role not in ROLES:
            raise ValueError(f"invite role {role!r} is unknown; accepted roles: {', '.join(ROLES)}")
        for claim, value in (("room", room), ("sub", participant), ("name", name)):
            problem = _string_claim_problem(claim, value)
            if problem is not None:
                raise ValueError(problem)
        if isinstance(expires_in_s, bool) or not isinstance(expires_in_s, int) or expires_in_s <= 0:
            raise ValueError(
                f"invite lifetime is {expires_in_s!r}; it must be a positive whole number of seconds"
            )
        issued_at = int(time.time() if now is None else now)
        claims = InviteClaims(
            sub=participant,
            name=name,
            role=role,
            room=room,
            jti=secrets.token_urlsafe(16),
            iat=issued_at,
            exp=issued_at + expires_in_s,
            iss=self._issuer,
            aud=self._audience,
        )
        return self._keys._sign(asdict(claims)), claims

    def verify(self, token: str, *, room: str | None = None, now: float | None = None) -> InviteClaims:
        if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN_CHARS:
            raise InviteError(
                "malformed", "invite is not a compact JWT (three base64url parts joined by '.')"
            )
        header = _unverified_header(token)
        alg = header.get("alg")
        if not isinstance(alg, str) or not alg:
            raise InviteError("malformed", "invite header names no signing algorithm ('alg')")
        accepted = ", ".join(self._keys.algorithms)
        if alg.lower() == "none":
            raise InviteError("alg_none", f"invite is unsigned (alg 'none'); this server accepts {accepted}")
        # Pinned before any key is touched: the header is attacker-controlled, and letting it pick
        # the algorithm is how a public RSA key gets used as an HMAC secret (RFC 8725 2.1).
        if alg not in self._keys.algorithms:
            raise InviteError(
                "unexpected_alg", f"invite signed with {_shorten(alg)}; this server accepts {accepted}"
            )
        kid = header.get("kid")
        payload = self._decode(token, self._keys._keys_for(alg, kid if isinstance(kid, str) else None))
        when = time.time() if now is None else now
        claims = self._claims_from(payload, when)
        if room is not None and claims.room != room:
            raise InviteError(
                "room_mismatch",
                f"invite is for room {_shorten(claims.room)!r}, not {_shorten(room)!r}; "
                "open the link the interviewer sent for this room",
            )
        return claims

    def _decode(self, token: str, keys: Sequence[_VerifyKey]) -> dict[str, Any]:
        options: Options = {
            "require": list(REQUIRED_CLAIMS),
            # Time claims are checked in _claims_from against the caller's clock, which PyJWT
            # cannot take; checking them twice against two clocks would disagree at the edges.
            "verify_exp": False,
            "verify_nbf": False,
            "verify_iat": False,
            "enforce_minimum_key_length": True,
        }
        for index, key in enumerate(keys):
            try:
                return jwt.decode(
                    token,
                    key=key.key,
                    algorithms=list(key.algorithms),
                    audience=self._audience,
                    issuer=self._issuer,
                    options=options,
                )
            except jwt.InvalidSignatureError as exc:
                # Without a kid, several keys may be candidates; only the last failure is final.
                if index < len(keys) - 1:
                    continue
                raise InviteError(
                    "bad_signature",
                    "invite signature does not match any key this server trusts; "
                    "the link was altered or signed by someone else",
                ) from exc
            except jwt.MissingRequiredClaimError as exc:
                raise InviteError(
                    "missing_claim",
                    f"invite lacks the '{exc.claim}' claim; invites must carry {', '.join(REQUIRED_CLAIMS)}",
                ) from exc
            except jwt.InvalidAudienceError as exc:
                raise InviteError(
                    "wrong_audience",
                    f"invite is addressed to another service; this server accepts audience "
                    f"{self._audience!r}",
                ) from exc
            except jwt.InvalidIssuerError as exc:
                raise InviteError(
                    "wrong_issuer",
                    f"invite was issued by someone else; this server accepts issuer {self._issuer!r}",
                ) from exc
            except InvalidSubjectError as exc:
                raise InviteError(
                    "invalid_claim", "invite claim 'sub' must be a string participant id"
                ) from exc
            except InvalidJTIError as exc:
                raise InviteError("invalid_claim", "invite claim 'jti' must be a string token id") from exc
            except jwt.InvalidAlgorithmError as exc:
                raise InviteError(
                    "unexpected_alg",
                    f"invite algorithm is not accepted; this server accepts "
                    f"{', '.join(self._keys.algorithms)}",
                ) from exc
            except jwt.InvalidTokenError as exc:
                raise InviteError(
                    "malformed", "invite is not a well-formed JWT with a JSON object payload"
                ) from exc
        # Unreachable while _keys_for returns a key for every accepted algorithm; kept as a refusal.
        raise InviteError("unknown_key", "this server holds no key for this invite")

    def _claims_from(self, payload: Mapping[str, Any], now: float) -> InviteClaims:
        iat = _numeric_date(payload, "iat")
        exp = _numeric_date(payload, "exp")
        nbf = _numeric_date(payload, "nbf") if "nbf" in payload else None
        leeway = self._leeway_s
        if iat > now + leeway:
            raise InviteError(
                "not_yet_valid",
                f"invite claims to be issued at {_iso(iat)}, after this server's clock ({_iso(now)}); "
                f"up to {leeway}s of clock skew is accepted, so check the issuer's clock",
            )
        if nbf is not None and nbf > now + leeway:
            raise InviteError(
                "not_yet_valid",
                f"invite is not valid until {_iso(nbf)} (server clock {_iso(now)}); open it again then",
            )
        if exp <= now - leeway:
            raise InviteError("expired", f"invite expired at {_iso(exp)}; ask the interviewer for a new link")
        for claim in ("sub", "name", "room", "jti"):
            problem = _string_claim_problem(claim, payload[claim])
            if problem is not None:
                raise InviteError("invalid_claim", problem)
        role = payload["role"]
        if role not in ROLES:
            raise InviteError(
                "invalid_claim",
                f"invite claim 'role' is {_shorten(str(role))!r}; accepted roles: {', '.join(ROLES)}",
            )
        return InviteClaims(
            sub=payload["sub"],
            name=payload["name"],
            role=role,
            room=payload["room"],
            jti=payload["jti"],
            iat=iat,
            exp=exp,
            iss=self._issuer,
            # PyJWT accepted either our audience or a list holding it; record the one that matched.
            aud=self._audience,
        )


def _unverified_header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise InviteError(
            "malformed", "invite is not a compact JWT (three base64url parts joined by '.', JSON header)"
        ) from exc


def _string_claim_problem(claim: str, value: object) -> str | None:
    limit = _MAX_NAME_CHARS if claim == "name" else _MAX_ID_CHARS
    if not isinstance(value, str) or not value.strip():
        return f"invite claim '{claim}' must be a non-empty string of at most {limit} characters"
    if len(value) > limit:
        return f"invite claim '{claim}' is {len(value)} characters; at most {limit} are accepted"
    # Names and ids are echoed into the UI and logs, where control characters can forge lines.
    if any(unicodedata.category(char) == "Cc" for char in value):
        return f"invite claim '{claim}' contains control characters; printable text is accepted"
    return None


def _numeric_date(payload: Mapping[str, Any], claim: str) -> int:
    value = payload[claim]
    # bool is an int subclass; `true` is not a date.
    valid = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not valid or not 0 <= value <= _MAX_NUMERIC_DATE:
        raise InviteError(
            "invalid_claim", f"invite claim '{claim}' must be a date in seconds since 1970 (a JSON number)"
        )
    return int(value)


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _shorten(text: str, limit: int = 40) -> str:
    # Header and claim values are attacker-chosen; keep what we echo back short.
    return text if len(text) <= limit else text[:limit] + "..."


def _algorithms_for(key: _PublicKey, accepted: Sequence[str]) -> tuple[str, ...]:
    if isinstance(key, rsa.RSAPublicKey):
        return tuple(alg for alg in accepted if alg in _RSA_ALGORITHMS)
    return tuple(alg for alg in accepted if alg in _EC_CURVES and isinstance(key.curve, _EC_CURVES[alg]))


def _describe(key: _PublicKey) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return f"an RSA-{key.key_size} key"
    return f"an EC {key.curve.name} key"


def _checked_public_key(key: object, where: str, accepted: Sequence[str]) -> _PublicKey:
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise ValueError(f"{where} is a {type(key).__name__}; only RSA and EC public keys are accepted")
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < _MIN_RSA_BITS:
        raise ValueError(f"{where} is {_describe(key)}; RSA keys need at least {_MIN_RSA_BITS} bits")
    if not _algorithms_for(key, accepted):
        raise ValueError(f"{where} is {_describe(key)}, which none of {', '.join(accepted)} can use")
    return key


def _key_from_pem(pem: str | bytes, index: int, accepted: Sequence[str]) -> _VerifyKey:
    where = f"invite PEM key #{index + 1}"
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            loaded: object = x509.load_pem_x509_certificate(data).public_key()
        else:
            loaded = load_pem_public_key(data)
    except ValueError as exc:
        raise ValueError(f"{where} is not a PEM public key or certificate ({exc})") from None
    key = _checked_public_key(loaded, where, accepted)
    return _VerifyKey(kid=None, key=key, algorithms=_algorithms_for(key, accepted))


def _keys_from_jwks(jwks: Mapping[str, Any], accepted: Sequence[str]) -> list[_VerifyKey]:
    entries = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(entries, list):
        raise ValueError("the invite JWKS must be a JSON object with a 'keys' list")
    keys = []
    for index, entry in enumerate(entries):
        where = f"invite JWKS key #{index + 1}"
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where} is not a JSON object")
        kid = entry.get("kid")
        if kid is not None:
            if not isinstance(kid, str):
                raise ValueError(f"{where} has a non-string 'kid'")
            where = f"invite JWKS key {kid!r}"
        # Issuers publish encryption keys and keys for other algorithms in the same set; those are
        # not ours to use, but a broken signing key is a config error worth stopping for.
        if entry.get("use", "sig") != "sig":
            continue
        kty = entry.get("kty")
        if kty not in ("RSA", "EC"):
            continue
        alg = entry.get("alg")
        if alg is not None and alg not in accepted:
            continue
        try:
            loaded: object = (RSAAlgorithm if kty == "RSA" else ECAlgorithm).from_jwk(dict(entry))
        except jwt.InvalidKeyError as exc:
            raise ValueError(f"{where} is not a usable {kty} key ({exc})") from None
        if isinstance(loaded, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            loaded = loaded.public_key()
        if isinstance(loaded, ec.EllipticCurvePublicKey) and not _algorithms_for(loaded, accepted):
            continue
        key = _checked_public_key(loaded, where, accepted)
        algorithms = _algorithms_for(key, accepted)
        if alg is not None:
            if alg not in algorithms:
                raise ValueError(f"{where} says alg {alg!r} but is {_describe(key)}")
            algorithms = (alg,)
        keys.append(_VerifyKey(kid=kid, key=key, algorithms=algorithms))
    return keys


def _read_secret_file(path: str) -> bytes:
    mode = stat.S_IMODE(os.stat(path).st_mode)
    # Windows reports 0o666 for every writable file; its permissions live in ACLs instead.
    if os.name == "posix" and mode & ~0o600:
        log.warning("invite secret file %s had mode %o; set it to 600 (owner read/write only)", path, mode)
        os.chmod(path, 0o600)
    with open(path, "rb") as file:
        return file.read()


def _make_private_dirs(directory: str) -> None:
    missing = []
    current = os.path.abspath(directory)
    while not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    # os.makedirs gives intermediate directories the default mode, not 0o700.
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue


def _create_secret_file(path: str) -> bytes:
    directory = os.path.dirname(os.path.abspath(path))
    _make_private_dirs(directory)
    secret = secrets.token_bytes(_GENERATED_SECRET_BYTES)
    staging = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(8)}.tmp")
    fd = os.open(staging, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(secret)
            file.flush()
            os.fsync(file.fileno())
        try:
            # link, unlike rename, never replaces: the first process to publish wins, and no
            # process can read the secret half-written, as it could if we wrote in place.
            os.link(staging, path)
        except FileExistsError:
            return _read_secret_file(path)
    finally:
        os.unlink(staging)
    return secret
