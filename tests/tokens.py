"""Bearer tokens for the tests, from a built-in issuer key made once per test run."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from sinergi.auth import AGENCY_ROLES, Principal, Role
from sinergi.issuer import ensure_key, issue, system_headers

KEY_FILE = ensure_key(Path(tempfile.mkdtemp(prefix="sinergi-test-auth-")) / "issuer.pem")


def token(role: Role | str, subject: str = "uji", **scope: Any) -> str:
    principal = Principal(subject=subject, role=Role(role), **scope)
    return issue(KEY_FILE, principal)


def bearer(role: Role | str, subject: str = "uji", **scope: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role, subject, **scope)}"}


def as_actor(actor: str, *, role: Role | None = None) -> dict[str, str]:
    """Headers for the caller the services will know as `actor` (agency:dspm,
    kelurahan:<code>, coordinator:<name>)."""
    kind, _, name = actor.partition(":")
    if kind == "agency":
        chosen = role or Role.AGENCY_STAFF
        assert chosen in AGENCY_ROLES
        return bearer(chosen, f"staf-{name}", agency=name)
    if kind == "kelurahan":
        return bearer(role or Role.KELURAHAN, f"lurah-{name}", kelurahan=name)
    if kind == "coordinator":
        return bearer(role or Role.COORDINATOR, name)
    raise ValueError(actor)


SYSTEM = system_headers(KEY_FILE, "uji-sistem", 8 * 3600)
