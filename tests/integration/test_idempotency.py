"""Sent once: a command with an Idempotency-Key is applied once per caller and key, against a
real database (and nats-server), however often and however concurrently it arrives."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from sinergi.auth import Role
from tests import tokens
from tests.integration.test_registry import member
from tests.integration.test_slice import household
from tests.system import start_system

pytestmark = pytest.mark.integration

LOK_TUAN = "64.74.01.1003"
RT = tokens.bearer(Role.RT, "pak-rahmat", kelurahan=LOK_TUAN, rw=3, rt=12)


def key(name: str) -> dict[str, str]:
    return RT | {"Idempotency-Key": f"formulir-{name}-0001"}


async def count(system: Any, table: str) -> int:
    runtime = system.runtime("registry")
    tables = runtime.definition.tables
    chosen = {"outbox": tables.outbox, "keys": tables.idempotency_keys}[table]
    async with runtime.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(chosen)) or 0)


async def test_a_command_sent_again_with_its_key_is_applied_once_and_answered_the_same(
    settings_for: Any,
) -> None:
    async with start_system(settings_for, services=("registry",)) as system:
        first = await system.registry.post("/households", json=household(), headers=key("a"))
        assert first.status_code == 201, first.text
        events = await count(system, "outbox")
        again = await system.registry.post("/households", json=household(), headers=key("a"))
        assert (again.status_code, again.json()) == (201, first.json())
        assert again.headers["Idempotent-Replayed"] == "true"
        assert await count(system, "outbox") == events  # no second event, no second household

        # The same key for another command is refused, naming the header and the rule.
        household_id = first.json()["id"]
        other = await system.registry.post(
            f"/households/{household_id}/members", json=member(), headers=key("a")
        )
        assert other.status_code == 422
        assert other.json()["errors"][0]["field"] == "Idempotency-Key"
        assert other.json()["errors"][0]["rule"] == "reused"

        # A refused command applied nothing: corrected, it goes through with the same key.
        bad = household("6474010101200002", rt=0)
        refused = await system.registry.post("/households", json=bad, headers=key("b"))
        assert refused.status_code == 422
        fixed = household("6474010101200002")
        accepted = await system.registry.post("/households", json=fixed, headers=key("b"))
        assert accepted.status_code == 201, accepted.text

        # Keys are the caller's: another user's same key is another command, and never sees
        # this one's answer.
        kader = tokens.bearer(Role.KELURAHAN, "bu-lurah", kelurahan=LOK_TUAN)
        theirs = await system.registry.post(
            "/households", json=household("6474010101200003"),
            headers=kader | {"Idempotency-Key": "formulir-a-0001"},
        )  # fmt: skip
        assert theirs.status_code == 201 and theirs.json()["id"] != household_id

        malformed = await system.registry.post(
            "/households", json=household("6474010101200004"),
            headers=RT | {"Idempotency-Key": "pendek"},
        )  # fmt: skip
        assert malformed.status_code == 422
        assert malformed.json()["errors"][0]["field"] == "Idempotency-Key"


async def test_copies_racing_each_other_apply_the_command_once(settings_for: Any) -> None:
    async with start_system(settings_for, services=("registry",)) as system:
        household_id = (
            await system.registry.post("/households", json=household(), headers=RT)
        ).json()["id"]
        path = f"/households/{household_id}/members"
        child = member(None, name="Putri Ayu", sex="P", birth_date="2023-05-10", relation="anak",
                       working=False)  # fmt: skip
        answers = await asyncio.gather(
            *(system.registry.post(path, json=child, headers=key("race")) for _ in range(5))
        )
        statuses = sorted(a.status_code for a in answers)
        assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}, statuses
        detail = await system.registry.get(f"/households/{household_id}", headers=RT)
        assert [m["name"] for m in detail.json()["members"]].count("Putri Ayu") == 1
        assert await count(system, "keys") == 1  # the household's key-less POST claimed none
