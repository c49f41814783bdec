"""Referral use cases: request, hand on, move through the lifecycle. One transaction each.

Every change writes the referral, a step row (the audit trail) and its event together. A
change is a compare-and-set on the referral's version, so of two concurrent updates (an
accept and a cancel) exactly one wins and the other gets 409; nothing is overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from sinergi_contracts import (
    Envelope,
    Outcome,
    ReassessmentRequested,
    ReferralRequested,
    ReferralStatusChanged,
)
from sinergi_contracts.referral import ReferralEvent, ReferralStatus
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.referrals import lifecycle
from services.referrals.directory import Directory
from services.referrals.models import household_facts, referral_steps, referrals
from sinergi.errors import Conflict, FieldRejected, Forbidden, NotFound
from sinergi.outbox import Transaction, UnitOfWork

SOURCE = "/sinergi/referrals"


def now() -> datetime:
    return datetime.now(UTC)


def publish(tx: Transaction, *events: ReferralEvent) -> None:
    tx.publish(*(Envelope.wrap(event, source=SOURCE) for event in events))


@dataclass(frozen=True)
class Referral:
    id: UUID
    household_id: UUID
    member_id: UUID | None
    kelurahan_code: str
    programme: str
    agency: str
    funding: str
    referrer: str
    status: ReferralStatus
    note: str | None
    reason: str | None
    outcome: dict[str, Any] | None
    parent_id: UUID | None
    rule: str | None
    facts: dict[str, Any] | None
    requested_at: datetime
    status_since: datetime
    due_at: datetime | None
    escalation_level: int
    version: int

    @property
    def open(self) -> bool:
        return self.status in lifecycle.OPEN

    def row(self) -> dict[str, Any]:
        values = vars(self) | {
            "id": str(self.id),
            "household_id": str(self.household_id),
            "member_id": str(self.member_id) if self.member_id else None,
            "parent_id": str(self.parent_id) if self.parent_id else None,
        }
        values["open_slot"] = f"{self.household_id}:{self.programme}" if self.open else None
        return values


def from_row(row: Any) -> Referral:
    values = {k: v for k, v in row._asdict().items() if k != "open_slot"}
    for key in ("id", "household_id", "member_id", "parent_id"):
        values[key] = UUID(values[key]) if values[key] else None
    for key in ("requested_at", "status_since", "due_at"):
        if values[key] is not None and values[key].tzinfo is None:
            values[key] = values[key].replace(tzinfo=UTC)  # SQLite keeps no offset
    return Referral(**values)


async def load(conn: AsyncConnection, referral_id: UUID) -> Referral:
    row = (await conn.execute(select(referrals).where(referrals.c.id == str(referral_id)))).first()
    if row is None:
        raise NotFound("Rujukan tidak ditemukan (referral not found)")
    return from_row(row)


async def _step(tx: Transaction, referral: Referral, previous: str | None, actor: str) -> None:
    await tx.conn.execute(
        insert(referral_steps).values(
            referral_id=str(referral.id),
            agency=referral.agency,
            previous_status=previous,
            status=referral.status,
            actor=actor,
            reason=referral.reason if referral.status != "requested" else referral.note,
            at=referral.status_since,
        )
    )


async def _household(conn: AsyncConnection, household_id: UUID) -> Any:
    row = (
        await conn.execute(
            select(household_facts).where(household_facts.c.household_id == str(household_id))
        )
    ).first()
    if row is None:
        raise NotFound(
            "rumah tangga belum dikenal layanan rujukan; bila baru didaftarkan, coba lagi "
            "sebentar (household not known to the referrals service yet)"
        )
    return row


def _unknown_programme(programme: str, directory: Directory) -> FieldRejected:
    known = ", ".join(sorted(directory.programmes))
    return FieldRejected(
        field="programme",
        rule="unknown_programme",
        pesan=f"program {programme!r} tidak ada di direktori; pilih: {known}",
        message=f"programme {programme!r} is not in the directory; choose: {known}",
    )


async def request(
    tx: Transaction,
    directory: Directory,
    *,
    household_id: UUID,
    programme: str,
    actor: str,
    member_id: UUID | None = None,
    note: str | None = None,
    parent_id: UUID | None = None,
    rule: str | None = None,
    facts: dict[str, Any] | None = None,
) -> Referral:
    """Refer a household to a programme, in the caller's transaction.

    The household's kelurahan refers; an agency refers when it hands on a case it received
    (`parent_id`); the referrer of a rejected, failed or cancelled referral may refer again.
    """
    household = await _household(tx.conn, household_id)
    if programme not in directory.programmes:
        raise _unknown_programme(programme, directory)
    if parent_id is not None:
        parent = await load(tx.conn, parent_id)
        _check_parent(parent, household_id, actor)
    elif actor != f"kelurahan:{household.kelurahan_code}":
        raise Forbidden(
            "rujukan baru dibuat oleh kelurahan rumah tangga itu; instansi meneruskan kasus "
            "dengan parent_id (a new referral comes from the household's kelurahan; an agency "
            "hands a case on with parent_id)"
        )
    chosen = directory.programmes[programme]
    moment = now()
    referral = Referral(
        id=uuid4(),
        household_id=household_id,
        member_id=member_id,
        kelurahan_code=household.kelurahan_code,
        programme=programme,
        agency=chosen.agency,
        funding=chosen.funding,
        referrer=actor,
        status="requested",
        note=note,
        reason=None,
        outcome=None,
        parent_id=parent_id,
        rule=rule,
        facts=facts,
        requested_at=moment,
        status_since=moment,
        due_at=directory.deadline(chosen.agency, "requested", moment),
        escalation_level=0,
        version=1,
    )
    values = referral.row()
    if await tx.conn.scalar(
        select(referrals.c.id).where(referrals.c.open_slot == values["open_slot"])
    ):
        raise already_open(programme)
    # Two requests at once both pass the check: the unique open_slot fails the second's
    # transaction, which `request_alone` answers the same way.
    await tx.conn.execute(insert(referrals).values(**values))
    await _step(tx, referral, None, actor)
    publish(
        tx,
        ReferralRequested(
            household_id=household_id,
            referral_id=referral.id,
            agency=referral.agency,
            actor=actor,
            programme=programme,
            funding=referral.funding,
            member_id=member_id,
            kelurahan_code=referral.kelurahan_code,
            note=note,
            parent_id=parent_id,
            rule=rule,
            facts=facts,
            due_at=referral.due_at,
        ),
    )
    return referral


def already_open(programme: str) -> Conflict:
    return Conflict(
        f"rumah tangga ini sudah punya rujukan terbuka ke program {programme} "
        f"(the household already has an open referral to {programme})"
    )


async def request_alone(uow: UnitOfWork, directory: Directory, **fields: Any) -> Referral:
    """`request` in a transaction of its own (an HTTP request)."""
    try:
        async with uow.begin() as tx:
            return await request(tx, directory, **fields)
    except IntegrityError:
        raise already_open(str(fields["programme"])) from None


def _check_parent(parent: Referral, household_id: UUID, actor: str) -> None:
    if parent.household_id != household_id:
        raise FieldRejected(
            field="parent_id",
            rule="other_household",
            pesan="rujukan induk milik rumah tangga lain",
            message="the parent referral belongs to another household",
        )
    handing_on = actor == f"agency:{parent.agency}" and parent.status not in (
        "requested",
        "entered-in-error",
    )
    again = actor == parent.referrer and parent.status in ("rejected", "failed", "cancelled")
    if not (handing_on or again):
        raise Forbidden(
            "meneruskan kasus hanya oleh instansi yang menanganinya, atau merujuk ulang oleh "
            "perujuk setelah ditolak, gagal atau dibatalkan (only the agency handling a case "
            "hands it on; the referrer refers again after a rejection, failure or cancellation)"
        )


async def act(
    uow: UnitOfWork,
    directory: Directory,
    referral_id: UUID,
    action_name: str,
    *,
    actor: str,
    expected_version: int | None,
    reason: str | None,
    outcome: Outcome | None,
) -> Referral:
    """Move a referral by one lifecycle action, if this actor may and nobody moved it first."""
    async with uow.begin() as tx:
        before = await load(tx.conn, referral_id)
        if expected_version is not None and expected_version != before.version:
            raise _stale(before.version)
        sides = lifecycle.sides_of(actor, referrer=before.referrer, agency=before.agency)
        action = lifecycle.check(action_name, before.status, sides)
        _check_needs(action, reason, outcome)
        moment = now()
        after = replace(
            before,
            status=action.to,
            reason=reason,
            outcome=outcome.model_dump(mode="json") if outcome else before.outcome,
            status_since=moment,
            due_at=directory.deadline(before.agency, action.to, moment),
            escalation_level=0,
            version=before.version + 1,
        )
        await save(tx.conn, before, after)
        await _step(tx, after, before.status, actor)
        publish(
            tx,
            ReferralStatusChanged(
                household_id=after.household_id,
                referral_id=after.id,
                agency=after.agency,
                actor=actor,
                programme=after.programme,
                previous_status=before.status,
                status=after.status,
                referral_version=after.version,
                reason=reason,
                outcome=outcome,
                due_at=after.due_at,
            ),
        )
        if after.status == "completed":
            await _close_the_loop(tx, after, actor)
    return after


def _stale(version: int) -> Conflict:
    return Conflict(
        f"rujukan sudah diubah orang lain (versi sekarang {version}); muat ulang lalu coba "
        f"lagi (the referral was changed meanwhile, now version {version}; reload and retry)"
    )


def _check_needs(action: lifecycle.Action, reason: str | None, outcome: Outcome | None) -> None:
    if action.needs == "reason" and not (reason and reason.strip()):
        raise FieldRejected(
            field="reason",
            rule="required",
            pesan=f"'{action.name}' wajib disertai alasan",
            message=f"'{action.name}' needs a reason",
        )
    if action.needs == "outcome" and outcome is None:
        raise FieldRejected(
            field="outcome",
            rule="required",
            pesan="selesai wajib disertai hasil layanan (apa, kapan, berapa)",
            message="completing needs an outcome (what was delivered, when, how much)",
        )


async def save(conn: AsyncConnection, before: Referral, after: Referral) -> None:
    """Write `after` only if the referral is still at `before`'s version."""
    values = after.row()
    result = await conn.execute(
        update(referrals)
        .where(referrals.c.id == str(before.id), referrals.c.version == before.version)
        .values(**values)
    )
    if result.rowcount != 1:
        raise _stale(before.version + 1)


async def _close_the_loop(tx: Transaction, done: Referral, actor: str) -> None:
    """The last open referral of an extreme-poor household completed: ask for a re-assessment."""
    household = await _household(tx.conn, done.household_id)
    if household.poverty_status != "miskin_ekstrem":
        return
    counts = dict(
        (
            await tx.conn.execute(
                select(referrals.c.open_slot.is_(None), func.count())
                .where(referrals.c.household_id == str(done.household_id))
                .group_by(referrals.c.open_slot.is_(None))
            )
        ).all()
    )
    if counts.get(False, 0):
        return  # still open referrals
    completed = await tx.conn.scalar(
        select(func.count()).where(
            referrals.c.household_id == str(done.household_id),
            referrals.c.status == "completed",
        )
    )
    publish(
        tx,
        ReassessmentRequested(
            household_id=done.household_id,
            referral_id=done.id,
            agency=done.agency,
            actor=actor,
            kelurahan_code=done.kelurahan_code,
            referrals_completed=int(completed or 0),
        ),
    )
