"""The embedded mode's built-in token issuer: an ES256 key made on first start in the data
folder (`SINERGI_AUTH_KEY_FILE`), the tokens `sinergi token` signs with it for trying the API,
and the verifier of those tokens. Not for production: the settings refuse it there."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sinergi.auth import ALGORITHM, AUDIENCE, EMBEDDED_ISSUER, Principal, Role, checked_principal


class KeyFileVerifier:
    """The built-in issuer's tokens, checked with the public half of its key."""

    def __init__(self, key_file: Path, *, issuer: str, audience: str) -> None:
        self._public_key = load_key(key_file).public_key()
        self._issuer, self._audience = issuer, audience

    async def verify(self, token: str) -> Principal:
        return checked_principal(token, self._public_key, [ALGORITHM], self._issuer, self._audience)


def load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path}: not an EC private key")
    return key


def ensure_key(path: Path) -> Path:
    """The built-in issuer's key at `path`, made (readable by this user only) if missing."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Written whole under another name, then linked in place: a service starting at the same
    # moment finds either no key or the whole key, and the first link wins.
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    try:
        os.link(partial, path)
    except FileExistsError:
        pass
    finally:
        partial.unlink()
    return path


def issue(
    key_file: Path,
    principal: Principal,
    *,
    issuer: str = EMBEDDED_ISSUER,
    audience: str = AUDIENCE,
    lifetime_seconds: float = 8 * 3600,
) -> str:
    """A token from the built-in issuer."""
    Principal.of(principal.claims())  # the same rules a service applies
    now = int(time.time())
    claims = {
        **principal.claims(),
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + int(lifetime_seconds),
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, load_key(key_file), algorithm=ALGORITHM)


def system_headers(key_file: Path, subject: str, lifetime_seconds: float = 3600) -> dict[str, str]:
    """Headers for a `system` caller (tools, benchmarks) signed by the built-in issuer."""
    principal = Principal(subject=subject, role=Role.SYSTEM)
    signed = issue(ensure_key(key_file), principal, lifetime_seconds=lifetime_seconds)
    return {"Authorization": f"Bearer {signed}"}
