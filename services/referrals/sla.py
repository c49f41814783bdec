"""Deadlines and the escalation ladder: overdue referrals climb RT → lurah → camat → agency
head → coordinator as time passes.

A referral's deadline (`due_at`) is stored with it whenever it changes state, so timers survive
restarts: the checker only compares stored deadlines with the clock. Raising a level is a
compare-and-set on the level the checker read, written with its event in one transaction, so
two replicas checking at once announce each level once.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sinergi_contracts import ReferralOverdue
from sqlalchemy import select, update

from services.referrals import referrals
from services.referrals.directory import Directory
from services.referrals.models import referrals as table
from sinergi.outbox import UnitOfWork

log = logging.getLogger(__name__)


async def escalate(uow: UnitOfWork, directory: Directory, now: datetime) -> int:
    """Raise the level of every overdue open referral that climbed; returns how many."""
    raised = 0
    async with uow.begin() as tx:
        rows = await tx.conn.execute(
            select(table).where(table.c.open_slot.is_not(None), table.c.due_at <= now)
        )
        for row in rows.all():
            referral = referrals.from_row(row)
            assert referral.due_at is not None
            level = directory.escalation_level(referral.due_at, now)
            if level <= referral.escalation_level:
                continue
            moved = await tx.conn.execute(
                update(table)
                .where(
                    table.c.id == str(referral.id),
                    table.c.escalation_level == referral.escalation_level,
                    table.c.status == referral.status,
                )
                .values(escalation_level=level)
            )
            if moved.rowcount != 1:
                continue  # another replica raised it, or the referral moved on
            raised += 1
            referrals.publish(
                tx,
                ReferralOverdue(
                    household_id=referral.household_id,
                    referral_id=referral.id,
                    agency=referral.agency,
                    actor="system:sla",
                    programme=referral.programme,
                    status=referral.status,
                    due_at=referral.due_at,
                    level=level,
                    escalate_to=directory.ladder[level - 1],
                    kelurahan_code=referral.kelurahan_code,
                ),
            )
    return raised


async def watch(uow: UnitOfWork, directory: Directory, *, every: float) -> None:
    while True:
        try:
            raised = await escalate(uow, directory, referrals.now())
            if raised:
                log.info("rujukan terlambat (overdue referrals)", extra={"raised": raised})
        except Exception:
            log.exception("pemeriksaan tenggat gagal (deadline check failed)")
        await asyncio.sleep(every)
