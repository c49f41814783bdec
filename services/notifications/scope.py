"""Whose inbox and whose subscriptions a caller may use: object-level authorisation here.

A caller reads the inboxes that are theirs: its agency's or kelurahan's (the actor its token
names), its RT's, and its own `user:<sub>`; coordinators (and other services) any. A
subscription's owner is one of those too, so nobody subscribes in another's name.
"""

from __future__ import annotations

from typing import Any

from sinergi.auth import AGENCY_ROLES, Principal, Role
from sinergi.errors import problem

SUBSCRIPTION_NOT_FOUND = "Langganan tidak ditemukan (subscription not found)"


def own_recipients(principal: Principal) -> frozenset[str] | None:
    """The recipient names that are the caller's (None: any, for city-wide roles)."""
    if principal.city_wide:
        return None
    names = {f"user:{principal.subject}"}
    if principal.role in AGENCY_ROLES or principal.role is Role.KELURAHAN:
        names.add(principal.actor)
    if principal.role is Role.RT:
        names.add(f"rt:{principal.kelurahan}:{principal.rw}:{principal.rt}")
    return frozenset(names)


def check_own(principal: Principal, name: str, field: str) -> None:
    own = own_recipients(principal)
    if own is not None and name not in own:
        raise problem(
            403,
            f"{field} {name} bukan milik Anda; milik Anda: {', '.join(sorted(own))} "
            f"({field} {name} is not yours)",
        )


def owned(principal: Principal, subscription: dict[str, Any]) -> dict[str, Any]:
    """The subscription, if the caller owns it (404 otherwise: ids cannot be probed)."""
    own = own_recipients(principal)
    if own is not None and subscription["owner"] not in own:
        raise problem(404, SUBSCRIPTION_NOT_FOUND)
    return subscription
