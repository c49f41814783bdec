"""What the referrals service learns from the registry's events, and the automatic referrals.

One durable consumer (`referrals-facts`) applies each batch of registry events in stream order,
in one transaction: the household and member facts, the poverty history, then the rules that
fire on each event. A referral a rule makes is written with its event in the same transaction
(and the batch's processed-event ids), so a redelivered event refers nobody twice; an open
referral to the same programme is never made twice either.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from datetime import date
from typing import Any
from uuid import UUID

from sinergi_contracts import (
    ChildStuntingDetected,
    Event,
    HouseholdRegistered,
    HouseholdReturned,
    HouseholdVerified,
    MemberAdded,
    MembersMerged,
    NikConflictResolved,
    PovertyStatusChanged,
)
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.referrals import directory as directories
from services.referrals import referrals, rules
from services.referrals.models import household_facts, member_facts, poverty_history, tables
from services.referrals.models import referrals as referrals_table
from sinergi.config import Settings
from sinergi.consumer import Apply, Delivered
from sinergi.errors import Conflict
from sinergi.outbox import Transaction

log = logging.getLogger(__name__)

CONSUMES: tuple[type[Event], ...] = (
    HouseholdRegistered,
    HouseholdVerified,
    HouseholdReturned,
    MemberAdded,
    MembersMerged,
    NikConflictResolved,
    PovertyStatusChanged,
    ChildStuntingDetected,
)
WORKING_AGE = (15, 64)


def configure(settings: Settings) -> Apply:
    directory = directories.load(settings.directory_file)
    ruleset = rules.load(directory, settings.rules_file)
    listened = {name for rule in ruleset for name in rule.on}

    async def apply(conn: AsyncConnection, batch: Sequence[Delivered]) -> None:
        tx = Transaction(conn, tables.outbox)
        for delivered in batch:
            event = delivered.envelope.event
            await learn(conn, event, delivered)
            if event.name not in listened:
                continue  # no rule listens: the facts need not be read
            fired = rules.firing(ruleset, event.name, await facts_of(conn, event))
            for rule in fired:
                await _refer(tx, directory, rule, event)
        await tx.flush()

    return apply


# Built once: the values go in as parameters, and SQLAlchemy finds the statement compiled.
_NEW_HOUSEHOLD = insert(household_facts)
_NEW_MEMBER = insert(member_facts)


async def learn(conn: AsyncConnection, event: Event, delivered: Delivered) -> None:
    key = str(event.household_id)
    facts = household_facts.c
    if isinstance(event, HouseholdRegistered):
        await conn.execute(
            _NEW_HOUSEHOLD,
            {
                "household_id": key,
                "kelurahan_code": event.kelurahan_code,
                "rw": event.rw,
                "rt": event.rt,
                "verified": False,
            },
        )
    elif isinstance(event, HouseholdVerified | HouseholdReturned):
        await conn.execute(
            update(household_facts)
            .where(facts.household_id == key)
            .values(verified=isinstance(event, HouseholdVerified))
        )
    elif isinstance(event, MemberAdded):
        await conn.execute(
            _NEW_MEMBER,
            {
                "member_id": str(event.member_id),
                "household_id": key,
                "birth_date": event.birth_date,
                "working": event.working,
            },
        )
    elif isinstance(event, MembersMerged):
        # The person's referrals follow them to the record that stays.
        await _forget(conn, event.removed_member_id)
        await conn.execute(
            update(referrals_table)
            .where(referrals_table.c.member_id == str(event.removed_member_id))
            .values(member_id=str(event.kept_member_id))
        )
    elif isinstance(event, NikConflictResolved):
        await _forget(conn, event.member_id)
    elif isinstance(event, PovertyStatusChanged):
        await conn.execute(
            update(household_facts)
            .where(facts.household_id == key)
            .values(poverty_status=event.status)
        )
        await conn.execute(
            insert(poverty_history).values(
                household_id=key, status=event.status, since=delivered.envelope.attributes.time
            )
        )


async def _forget(conn: AsyncConnection, member_id: UUID) -> None:
    await conn.execute(delete(member_facts).where(member_facts.c.member_id == str(member_id)))


async def facts_of(conn: AsyncConnection, event: Event) -> dict[str, Any]:
    """The facts rules see for the household of `event` (and the event's own, if any)."""
    key = str(event.household_id)
    row = (
        await conn.execute(select(household_facts).where(household_facts.c.household_id == key))
    ).first()
    if row is None:
        return {}
    today = date.today()
    unemployed = await conn.scalar(
        select(func.count()).where(
            member_facts.c.household_id == key,
            member_facts.c.working.is_(False),
            # aged 15 to 64 today
            member_facts.c.birth_date <= years_before(today, WORKING_AGE[0]),
            member_facts.c.birth_date > years_before(today, WORKING_AGE[1] + 1),
        )
    )
    facts: dict[str, Any] = {
        "poverty_status": row.poverty_status,
        "verified": row.verified,
        "kelurahan_code": row.kelurahan_code,
        "unemployed_working_age": int(unemployed or 0),
    }
    if isinstance(event, ChildStuntingDetected):
        facts["hfa_category"] = event.hfa_category
        facts["hfa_z"] = event.hfa_z
    return facts


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


async def _refer(
    tx: Transaction, directory: directories.Directory, rule: rules.Rule, event: Event
) -> None:
    facts = await facts_of(tx.conn, event)
    member = getattr(event, "member_id", None) if rule.member else None
    # Already open for this programme: nobody is referred twice.
    with contextlib.suppress(Conflict):
        await referrals.request(
            tx,
            directory,
            household_id=event.household_id,
            programme=rule.refer_to,
            actor=f"kelurahan:{facts['kelurahan_code']}",
            member_id=member,
            note=rule.description,
            rule=rule.id,
            facts={k: v for k, v in facts.items() if k != "kelurahan_code"},
        )
