"""Who is calling, as the services record it: `agency:<code>`, `kelurahan:<code>`,
`coordinator:<name>` — taken from the verified bearer token (sinergi.auth), never from what
the caller says of itself."""

from __future__ import annotations

from sinergi.auth import Caller


def current_actor(principal: Caller) -> str:
    return principal.actor
