"""Invite JWT signing and verification, including every rejection reason, with real keys and files."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import stat
import threading
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from jupyter_interview.rooms.invites import (
    REQUIRED_CLAIMS,
    ROLES,
    InviteClaims,
    InviteCodec,
    InviteError,
    InviteKeys,
)

# 2027-01-15T08:00:00Z: a fixed clock keeps dates in messages predictable.
NOW = 1_800_000_000
posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX permissions")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def hand_made_token(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join(
        [b64url(json.dumps(header).encode()), b64url(json.dumps(payload).encode()), b64url(signature)]
    )


def valid_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "sub": "participant-1",
        "name": "Ada Lovelace",
        "role": "candidate",
        "room": "room-1",
        "jti": "jti-1",
        "iat": NOW,
        "exp": NOW + 3600,
        "iss": "jupyter-interview",
        "aud": "jupyter-interview",
    }
    payload.update(overrides)
    return payload


def pem_of(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def rejection(codec: InviteCodec, token: str, **kwargs: Any) -> InviteError:
    with pytest.raises(InviteError) as caught:
        codec.verify(token, **kwargs)
    return caught.value


@pytest.fixture
def secret() -> bytes:
    return secrets.token_bytes(32)


@pytest.fixture
def codec(secret: bytes) -> InviteCodec:
    return InviteCodec(InviteKeys.hs256(secret))


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def rsa_codec(rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> InviteCodec:
    return InviteCodec(InviteKeys.public_keys(pems=[pem_of(rsa_key), pem_of(ec_key)]))


# Round trip


def test_issued_invite_verifies_to_the_same_claims(codec: InviteCodec) -> None:
    token, issued = codec.issue(
        room="room-1", participant="p-1", name="Grace Hopper", role="interviewer", expires_in_s=600
    )

    assert codec.verify(token, room="room-1") == issued
    assert issued.role == "interviewer"
    assert issued.exp - issued.iat == 600
    assert (issued.iss, issued.aud) == ("jupyter-interview", "jupyter-interview")


def test_issued_invite_uses_the_given_clock_and_whole_seconds(codec: InviteCodec) -> None:
    token, issued = codec.issue(
        room="r", participant="p", name="n", role="candidate", expires_in_s=60, now=NOW + 0.9
    )

    assert (issued.iat, issued.exp) == (NOW, NOW + 60)
    assert codec.verify(token, now=NOW + 30) == issued


def test_issued_invite_has_hs256_jwt_header_and_a_fresh_jti(codec: InviteCodec) -> None:
    first, first_claims = codec.issue(room="r", participant="p", name="n", role="candidate", expires_in_s=60)
    _, second_claims = codec.issue(room="r", participant="p", name="n", role="candidate", expires_in_s=60)

    assert jwt.get_unverified_header(first) == {"alg": "HS256", "typ": "JWT"}
    assert first_claims.jti != second_claims.jti
    assert len(first_claims.jti) >= 16


def test_every_role_can_be_issued_and_verified(codec: InviteCodec) -> None:
    for role in ROLES:
        token, _ = codec.issue(room="r", participant="p", name="n", role=role, expires_in_s=60)
        assert codec.verify(token).role == role


def test_issuing_an_unknown_role_raises_value_error(codec: InviteCodec) -> None:
    with pytest.raises(ValueError, match="interviewer, candidate"):
        codec.issue(room="r", participant="p", name="n", role="admin", expires_in_s=60)


@pytest.mark.parametrize(
    "overrides",
    [
        {"name": "x" * 201},
        {"participant": ""},
        {"room": "r" * 129},
        {"name": "line\nbreak"},
        {"expires_in_s": 0},
        {"expires_in_s": -5},
    ],
)
def test_issuing_an_invite_it_would_reject_raises_value_error(
    codec: InviteCodec, overrides: dict[str, Any]
) -> None:
    arguments: dict[str, Any] = {
        "room": "r",
        "participant": "p",
        "name": "n",
        "role": "candidate",
        "expires_in_s": 60,
    }
    arguments.update(overrides)

    with pytest.raises(ValueError):
        codec.issue(**arguments)


# Malformed and unsigned


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not-a-jwt",
        "a.b.c",
        "!!!.???.***",
        b64url(b"[1, 2]") + "." + b64url(b"{}") + ".",
        "x" * 10_000,
    ],
)
def test_garbage_is_rejected_with_malformed_code(codec: InviteCodec, token: str) -> None:
    assert rejection(codec, token).code == "malformed"


def test_payload_that_is_not_json_is_rejected_with_malformed_code(codec: InviteCodec, secret: bytes) -> None:
    signing_input = b64url(b'{"alg":"HS256","typ":"JWT"}') + "." + b64url(b"not json")
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()

    assert rejection(codec, signing_input + "." + b64url(signature)).code == "malformed"


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_unsigned_invite_is_rejected_with_alg_none_code(codec: InviteCodec, alg: str) -> None:
    token = hand_made_token({"alg": alg, "typ": "JWT"}, valid_payload())

    error = rejection(codec, token, now=NOW)

    assert error.code == "alg_none"
    assert "HS256" in error.message


# Algorithm confusion (RFC 8725 2.1)


def test_hs256_invite_signed_with_the_public_key_is_rejected_by_public_key_install_with_unexpected_alg(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    public_pem = pem_of(rsa_key)
    codec = InviteCodec(InviteKeys.public_keys(pems=[public_pem]))
    # Built by hand: PyJWT refuses to use a PEM as an HMAC secret, an attacker's script would not.
    signing_input = (
        b64url(b'{"alg":"HS256","typ":"JWT"}') + "." + b64url(json.dumps(valid_payload()).encode())
    )
    signature = hmac.new(public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()

    error = rejection(codec, signing_input + "." + b64url(signature), now=NOW)

    assert error.code == "unexpected_alg"
    assert error.message == "invite signed with HS256; this server accepts RS256"


def test_rs256_invite_is_rejected_by_hs256_install_with_unexpected_alg(
    codec: InviteCodec, rsa_key: rsa.RSAPrivateKey
) -> None:
    token = jwt.encode(valid_payload(), rsa_key, algorithm="RS256")

    error = rejection(codec, token, now=NOW)

    assert error.code == "unexpected_alg"
    assert error.message == "invite signed with RS256; this server accepts HS256"


def test_es256_invite_is_rejected_by_rsa_only_install_with_unexpected_alg(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    codec = InviteCodec(InviteKeys.public_keys(pems=[pem_of(rsa_key)]))
    token = jwt.encode(valid_payload(), ec_key, algorithm="ES256")

    assert rejection(codec, token, now=NOW).code == "unexpected_alg"


def test_hs512_invite_is_rejected_by_hs256_install_with_unexpected_alg(
    codec: InviteCodec, secret: bytes
) -> None:
    token = jwt.encode(valid_payload(), secret * 2, algorithm="HS512")

    assert rejection(codec, token, now=NOW).code == "unexpected_alg"


# Signatures


def test_tampered_payload_is_rejected_with_bad_signature_code(codec: InviteCodec) -> None:
    token, _ = codec.issue(room="r", participant="p", name="n", role="candidate", expires_in_s=60, now=NOW)
    header, _, signature = token.split(".")
    promoted = valid_payload(sub="p", name="n", room="r", role="interviewer", exp=NOW + 60)

    error = rejection(codec, f"{header}.{b64url(json.dumps(promoted).encode())}.{signature}", now=NOW)

    assert error.code == "bad_signature"


def test_invite_signed_with_another_secret_is_rejected_with_bad_signature_code(codec: InviteCodec) -> None:
    token = jwt.encode(valid_payload(), secrets.token_bytes(32), algorithm="HS256")

    assert rejection(codec, token, now=NOW).code == "bad_signature"


def test_rs256_invite_signed_by_an_unknown_key_is_rejected_with_bad_signature_code(
    rsa_codec: InviteCodec, other_rsa_key: rsa.RSAPrivateKey
) -> None:
    token = jwt.encode(valid_payload(), other_rsa_key, algorithm="RS256")

    assert rejection(rsa_codec, token, now=NOW).code == "bad_signature"


# Time


def test_expired_invite_is_rejected_with_expired_code(codec: InviteCodec, secret: bytes) -> None:
    token = jwt.encode(valid_payload(exp=NOW + 3600), secret, algorithm="HS256")

    error = rejection(codec, token, now=NOW + 3600 + 31)

    assert error.code == "expired"
    assert error.message == "invite expired at 2027-01-15T09:00:00Z; ask the interviewer for a new link"


def test_invite_just_past_expiry_is_accepted_within_clock_leeway(codec: InviteCodec, secret: bytes) -> None:
    token = jwt.encode(valid_payload(exp=NOW + 3600), secret, algorithm="HS256")

    assert codec.verify(token, now=NOW + 3600 + 29).exp == NOW + 3600


def test_expired_invite_is_rejected_against_the_real_clock(codec: InviteCodec, secret: bytes) -> None:
    an_hour_ago = int(time.time()) - 3600
    token = jwt.encode(valid_payload(iat=an_hour_ago - 60, exp=an_hour_ago), secret, algorithm="HS256")

    assert rejection(codec, token).code == "expired"


def test_invite_with_future_nbf_is_rejected_with_not_yet_valid_code(
    codec: InviteCodec, secret: bytes
) -> None:
    token = jwt.encode(valid_payload(nbf=NOW + 600), secret, algorithm="HS256")

    error = rejection(codec, token, now=NOW)

    assert error.code == "not_yet_valid"
    assert "2027-01-15T08:10:00Z" in error.message
    assert codec.verify(token, now=NOW + 600).sub == "participant-1"


def test_invite_issued_in_the_future_is_rejected_with_not_yet_valid_code(
    codec: InviteCodec, secret: bytes
) -> None:
    token = jwt.encode(valid_payload(iat=NOW + 600, exp=NOW + 4200), secret, algorithm="HS256")

    error = rejection(codec, token, now=NOW)

    assert error.code == "not_yet_valid"
    assert "30s of clock skew" in error.message


def test_invite_issued_slightly_in_the_future_is_accepted_within_clock_leeway(
    codec: InviteCodec, secret: bytes
) -> None:
    token = jwt.encode(valid_payload(iat=NOW + 20), secret, algorithm="HS256")

    assert codec.verify(token, now=NOW).iat == NOW + 20


# Audience and issuer


def test_invite_for_another_audience_is_rejected_with_wrong_audience_code(
    codec: InviteCodec, secret: bytes
) -> None:
    token = jwt.encode(valid_payload(aud="another-service"), secret, algorithm="HS256")

    error = rejection(codec, token, now=NOW)

    assert error.code == "wrong_audience"
    assert "'jupyter-interview'" in error.message


def test_invite_whose_audience_list_includes_this_server_is_accepted(
    codec: InviteCodec, secret: bytes
) -> None:
    token = jwt.encode(valid_payload(aud=["other", "jupyter-interview"]), secret, algorithm="HS256")

    assert codec.verify(token, now=NOW).aud == "jupyter-interview"


def test_invite_from_another_issuer_is_rejected_with_wrong_issuer_code(
    codec: InviteCodec, secret: bytes
) -> None:
    token = jwt.encode(valid_payload(iss="someone-else"), secret, algorithm="HS256")

    error = rejection(codec, token, now=NOW)

    assert error.code == "wrong_issuer"
    assert "'jupyter-interview'" in error.message


def test_codec_with_custom_issuer_or_audience_rejects_default_invites(secret: bytes) -> None:
    keys = InviteKeys.hs256(secret)
    default_token, _ = InviteCodec(keys).issue(
        room="r", participant="p", name="n", role="candidate", expires_in_s=60
    )

    assert rejection(InviteCodec(keys, issuer="hub"), default_token).code == "wrong_issuer"
    assert rejection(InviteCodec(keys, audience="hub-interviews"), default_token).code == "wrong_audience"


# Claims


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
def test_invite_missing_a_required_claim_is_rejected_naming_the_claim(
    codec: InviteCodec, secret: bytes, claim: str
) -> None:
    payload = valid_payload()
    del payload[claim]
    token = jwt.encode(payload, secret, algorithm="HS256")

    error = rejection(codec, token, now=NOW)

    assert error.code == "missing_claim"
    assert f"'{claim}'" in error.message


def test_invite_with_an_unknown_role_is_rejected_with_invalid_claim_code(
    codec: InviteCodec, secret: bytes
) -> None:
    token = jwt.encode(valid_payload(role="admin"), secret, algorithm="HS256")

    error = rejection(codec, token, now=NOW)

    assert error.code == "invalid_claim"
    assert "'role'" in error.message
    assert "interviewer, candidate" in error.message


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("sub", 42),
        ("sub", ""),
        ("jti", ["a"]),
        ("jti", "j" * 129),
        ("room", "r" * 129),
        ("room", "   "),
        ("name", "n" * 201),
        ("name", "evil\r\nInjected: log line"),
        ("name", 7),
        ("iat", "yesterday"),
        ("exp", True),
        ("exp", 10**20),
        ("nbf", "soon"),
    ],
)
def test_invite_with_a_badly_typed_or_sized_claim_is_rejected_with_invalid_claim_code(
    codec: InviteCodec, secret: bytes, claim: str, value: object
) -> None:
    token = jwt.encode(valid_payload(**{claim: value}), secret, algorithm="HS256")

    error = rejection(codec, token, now=NOW)

    assert error.code == "invalid_claim"
    assert f"'{claim}'" in error.message


def test_longest_accepted_name_and_ids_verify(codec: InviteCodec, secret: bytes) -> None:
    payload = valid_payload(name="n" * 200, sub="s" * 128, room="r" * 128, jti="j" * 128)
    token = jwt.encode(payload, secret, algorithm="HS256")

    assert codec.verify(token, now=NOW).name == "n" * 200


def test_invite_for_another_room_is_rejected_with_room_mismatch_code(codec: InviteCodec) -> None:
    token, _ = codec.issue(room="room-a", participant="p", name="n", role="candidate", expires_in_s=60)

    error = rejection(codec, token, room="room-b")

    assert error.code == "room_mismatch"
    assert "'room-a'" in error.message and "'room-b'" in error.message


# External issuer keys


def test_rs256_invite_from_external_issuer_verifies_with_its_pem(
    rsa_codec: InviteCodec, rsa_key: rsa.RSAPrivateKey
) -> None:
    token = jwt.encode(valid_payload(), rsa_key, algorithm="RS256")

    claims = rsa_codec.verify(token, room="room-1", now=NOW)

    assert claims == InviteClaims(
        sub="participant-1",
        name="Ada Lovelace",
        role="candidate",
        room="room-1",
        jti="jti-1",
        iat=NOW,
        exp=NOW + 3600,
        iss="jupyter-interview",
        aud="jupyter-interview",
    )


def test_es256_invite_from_external_issuer_verifies_with_its_pem(
    rsa_codec: InviteCodec, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    token = jwt.encode(valid_payload(), ec_key, algorithm="ES256")

    assert rsa_codec.verify(token, now=NOW).role == "candidate"


def test_external_keys_accept_rs256_and_es256_by_default(rsa_codec: InviteCodec) -> None:
    keys = InviteKeys.public_keys(pems=[pem_of(rsa.generate_private_key(65537, 2048))])

    assert keys.algorithms == ("RS256",)
    assert keys.can_sign is False
    assert rsa_codec._keys.algorithms == ("RS256", "ES256")


def jwks_of(**keys_by_kid: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    entries = []
    for kid, private_key in keys_by_kid.items():
        if isinstance(private_key, rsa.RSAPrivateKey):
            entry = RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
        else:
            entry = ECAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
        entries.append({**entry, "kid": kid, "use": "sig"})
    return {"keys": entries}


def test_jwks_invite_verifies_with_the_key_its_kid_names(
    rsa_key: rsa.RSAPrivateKey, other_rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    codec = InviteCodec(InviteKeys.public_keys(jwks=jwks_of(old=other_rsa_key, new=rsa_key, ec=ec_key)))

    rs_token = jwt.encode(valid_payload(), rsa_key, algorithm="RS256", headers={"kid": "new"})
    es_token = jwt.encode(valid_payload(), ec_key, algorithm="ES256", headers={"kid": "ec"})
    mislabelled = jwt.encode(valid_payload(), rsa_key, algorithm="RS256", headers={"kid": "old"})

    assert codec.verify(rs_token, now=NOW).sub == "participant-1"
    assert codec.verify(es_token, now=NOW).sub == "participant-1"
    assert rejection(codec, mislabelled, now=NOW).code == "bad_signature"


def test_jwks_invite_without_kid_verifies_against_any_matching_key(
    rsa_key: rsa.RSAPrivateKey, other_rsa_key: rsa.RSAPrivateKey
) -> None:
    codec = InviteCodec(InviteKeys.public_keys(jwks=jwks_of(old=other_rsa_key, new=rsa_key)))
    token = jwt.encode(valid_payload(), rsa_key, algorithm="RS256")

    assert codec.verify(token, now=NOW).sub == "participant-1"


def test_jwks_invite_naming_an_unknown_kid_is_rejected_with_unknown_key_code(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    codec = InviteCodec(InviteKeys.public_keys(jwks=jwks_of(current=rsa_key)))
    token = jwt.encode(valid_payload(), rsa_key, algorithm="RS256", headers={"kid": "retired"})

    error = rejection(codec, token, now=NOW)

    assert error.code == "unknown_key"
    assert "'retired'" in error.message and "current" in error.message


def test_jwks_skips_encryption_and_symmetric_keys(rsa_key: rsa.RSAPrivateKey) -> None:
    jwks = jwks_of(sig=rsa_key)
    jwks["keys"].append({**jwks["keys"][0], "kid": "enc", "use": "enc"})
    jwks["keys"].append({"kty": "oct", "kid": "hmac", "k": b64url(b"k" * 32)})

    keys = InviteKeys.public_keys(jwks=jwks)

    assert keys.algorithms == ("RS256",)


def test_jwks_with_only_symmetric_keys_is_refused() -> None:
    with pytest.raises(ValueError, match="no usable invite verification key"):
        InviteKeys.public_keys(jwks={"keys": [{"kty": "oct", "k": b64url(b"k" * 32)}]})


@pytest.mark.parametrize("algorithms", [["HS256"], ["none"], ["RS256", "HS256"], []])
def test_public_keys_refuse_non_public_key_algorithms(
    rsa_key: rsa.RSAPrivateKey, algorithms: list[str]
) -> None:
    with pytest.raises(ValueError):
        InviteKeys.public_keys(pems=[pem_of(rsa_key)], algorithms=algorithms)


def test_public_keys_refuse_short_rsa_keys() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)

    with pytest.raises(ValueError, match="2048"):
        InviteKeys.public_keys(pems=[pem_of(weak)])


def test_public_keys_refuse_a_pem_that_is_not_a_public_key() -> None:
    with pytest.raises(ValueError, match="PEM key #1"):
        InviteKeys.public_keys(pems=["-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n"])


def test_verify_only_install_cannot_issue_invites(rsa_codec: InviteCodec) -> None:
    with pytest.raises(RuntimeError, match="this install only verifies invites"):
        rsa_codec.issue(room="r", participant="p", name="n", role="candidate", expires_in_s=60)


# Messages


def test_rejection_messages_never_contain_the_token_or_the_secret(codec: InviteCodec, secret: bytes) -> None:
    tokens = [
        jwt.encode(valid_payload(exp=NOW - 3600), secret, algorithm="HS256"),
        jwt.encode(valid_payload(aud="x"), secret, algorithm="HS256"),
        jwt.encode(valid_payload(), secrets.token_bytes(32), algorithm="HS256"),
        jwt.encode(valid_payload(role="root"), secret, algorithm="HS256"),
        hand_made_token({"alg": "none"}, valid_payload()),
    ]
    for token in tokens:
        error = rejection(codec, token, now=NOW)
        for part in token.split("."):
            if part:
                assert part not in error.message
        assert secret.hex() not in error.message
        assert b64url(secret) not in error.message
        assert str(error) == error.message


def test_invite_keys_repr_does_not_show_the_secret(secret: bytes) -> None:
    shown = repr(InviteKeys.hs256(secret))

    assert secret.hex() not in shown and repr(secret) not in shown


def test_invite_error_refuses_an_unknown_code() -> None:
    with pytest.raises(ValueError):
        InviteError("nope", "message")


# Secrets


def test_short_hs256_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        InviteKeys.hs256(b"k" * 31)


@posix_only
def test_secret_file_is_created_with_mode_0600_in_private_directories(tmp_path: Path) -> None:
    path = tmp_path / "config" / "interview" / "invite_secret"

    keys = InviteKeys.load_or_create_secret(str(path))

    assert keys.can_sign and keys.algorithms == ("HS256",)
    assert len(path.read_bytes()) == 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
    assert os.listdir(path.parent) == ["invite_secret"]


def test_second_load_reuses_the_secret_file(tmp_path: Path) -> None:
    path = str(tmp_path / "invite_secret")
    first = InviteCodec(InviteKeys.load_or_create_secret(path))
    contents = Path(path).read_bytes()
    token, claims = first.issue(room="r", participant="p", name="n", role="candidate", expires_in_s=60)

    second = InviteCodec(InviteKeys.load_or_create_secret(path))

    assert second.verify(token) == claims
    assert Path(path).read_bytes() == contents


@posix_only
def test_secret_file_with_loose_mode_is_tightened_to_0600_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "invite_secret"
    secret = secrets.token_bytes(48)
    path.write_bytes(secret)
    path.chmod(0o644)

    keys = InviteKeys.load_or_create_secret(str(path))

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == secret
    token = jwt.encode(valid_payload(), secret, algorithm="HS256")
    assert InviteCodec(keys).verify(token, now=NOW).sub == "participant-1"


def test_secret_file_holding_too_few_bytes_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "invite_secret"
    path.write_bytes(b"short")
    path.chmod(0o600)

    with pytest.raises(ValueError, match="invite_secret"):
        InviteKeys.load_or_create_secret(str(path))


def load_concurrently(path: Path, count: int) -> list[InviteKeys]:
    start = threading.Barrier(count)
    loaded: list[InviteKeys] = []
    failures: list[BaseException] = []

    def load() -> None:
        start.wait()
        try:
            loaded.append(InviteKeys.load_or_create_secret(str(path)))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=load) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    return loaded


def test_concurrent_secret_creation_yields_one_secret(tmp_path: Path) -> None:
    # Repeated because one pair of threads may not overlap; across attempts some do.
    for attempt in range(25):
        path = tmp_path / f"attempt-{attempt}" / "invite_secret"

        first, second = (InviteCodec(keys) for keys in load_concurrently(path, 2))

        token, claims = first.issue(room="r", participant="p", name="n", role="candidate", expires_in_s=60)
        assert second.verify(token) == claims
        assert os.listdir(path.parent) == ["invite_secret"]
