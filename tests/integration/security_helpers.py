"""Shared helpers for the security tests (`tests/integration/test_security_*.py`): the API
routes of an app and a concrete path for each, the tokens tried on them (one per role, and
forged ones), `sinergi token` run as a command, the kelurahan codes and household bodies the
object-level cases use, and a tally of the attempts that must fail, per OWASP class."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import jwt
from fastapi import FastAPI
from fastapi.routing import APIRoute

from sinergi.auth import REQUIRED_SCOPE, Role
from sinergi.issuer import ensure_key, load_key
from tests import tokens

OPEN = {"/healthz", "/readyz"}
SCOPES: dict[str, Any] = {
    "agency": "dspm",
    "kecamatan": "64.74.01",
    "kelurahan": "64.74.01.1003",
    "rw": 1,
    "rt": 1,
}


def routes(app: FastAPI) -> Iterator[tuple[APIRoute, list[Any]]]:
    """Every API route of `app` with the dependencies it runs (its router's and its own)."""
    for route in app.routes:
        if isinstance(route, APIRoute):
            yield route, list(route.dependencies)
            continue
        included = getattr(route, "original_router", None)
        if included is None:
            continue  # FastAPI's own documentation pages
        for inner in included.routes:
            if isinstance(inner, APIRoute):
                yield inner, [*route.include_context.dependencies, *inner.dependencies]


def concrete(route: APIRoute) -> str:
    """The route's path with a well-formed value in each parameter."""
    path = route.path
    for param in route.dependant.path_params:
        kind = param.field_info.annotation
        value = (
            "1"
            if kind is int
            else date(2026, 11, 29).isoformat()
            if kind is date
            else "receive"
            if param.name == "action"
            else str(uuid.uuid4())
        )
        path = path.replace(f"{{{param.name}}}", value)
    return path


def scope_for(role: Role) -> dict[str, Any]:
    return {name: SCOPES[name] for name in REQUIRED_SCOPE[role]}


def headers_for(role: Role) -> dict[str, str]:
    return tokens.bearer(role, f"uji-{role.value}", **scope_for(role))


def forged_tokens(tmp_path: Path) -> dict[str, str]:
    """Tokens that must not open anything, by what is wrong with them."""
    now = int(time.time())
    good = {"sub": "penyusup", "role": "coordinator", "iss": "sinergi-embedded",
            "aud": "sinergi", "iat": now, "exp": now + 600}  # fmt: skip
    key = tokens.KEY_FILE
    stranger = ensure_key(tmp_path / "other.pem")

    def signed(claims: dict[str, Any], with_key: Path = key) -> str:
        return jwt.encode(claims, load_key(with_key), algorithm="ES256")

    return {
        "tanpa token (none)": "",
        "bukan JWT (not a JWT)": "Bearer sembarang",
        "skema lain (Basic)": "Basic dXNlcjpwYXNz",
        "kunci lain (another key)": f"Bearer {signed(good, stranger)}",
        "kedaluwarsa (expired)": f"Bearer {signed(good | {'exp': now - 60})}",
        "audiens lain (audience)": f"Bearer {signed(good | {'aud': 'lain'})}",
        "penerbit lain (issuer)": f"Bearer {signed(good | {'iss': 'https://lain'})}",
        "alg none": "Bearer " + jwt.encode(good, None, algorithm="none").rstrip("."),  # type: ignore[arg-type]
        "HS256 dengan kunci publik (key confusion)": "Bearer "
        + jwt.encode(good, "rahasia-yang-cukup-panjang-untuk-hs256!", algorithm="HS256"),
        "peran tak dikenal (unknown role)": f"Bearer {signed(good | {'role': 'admin'})}",
        "rt tanpa cakupan (rt without scope)": f"Bearer {signed(good | {'role': 'rt'})}",
        "tanpa exp (no expiry)": f"Bearer {signed({k: v for k, v in good.items() if k != 'exp'})}",
    }


def sinergi_token(*options: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sinergi.cli", "token", *options],
        capture_output=True,
        text=True,
        env={"SINERGI_AUTH_KEY_FILE": str(tokens.KEY_FILE), "PATH": "/usr/bin:/bin"} | env,
    )


LOK_TUAN, API_API, TANJUNG_LAUT = "64.74.01.1003", "64.74.01.1006", "64.74.02.1001"


def place(no_kk: str, kelurahan: str = LOK_TUAN, rw: int = 1, rt: int = 1) -> dict[str, Any]:
    return {"no_kk": no_kk, "kelurahan_code": kelurahan, "rw": rw, "rt": rt,
            "address": "Jl. Pupuk Raya No. 1", "head_name": "Siti Aminah"}  # fmt: skip


class Tally:
    """Attempts that must fail, per OWASP class; what got through is kept to show."""

    def __init__(self) -> None:
        self.attempts: Counter[str] = Counter()
        self.through: list[str] = []

    def expect(self, kind: str, answer: Any, *refused: int) -> None:
        self.attempts[kind] += 1
        if answer.status_code not in refused:
            self.through.append(f"{kind}: {answer.request.method} {answer.request.url} → "
                                f"{answer.status_code} {answer.text[:200]}")  # fmt: skip

    def report(self) -> None:
        for kind, n in sorted(self.attempts.items()):
            print(f"\n{kind}: {n} percobaan, {sum(kind in t for t in self.through)} berhasil")
        assert self.through == []
