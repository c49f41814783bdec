"""Registry use cases: one transaction each, state and events together."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from uuid import UUID, uuid4

from sinergi_contracts import (
    ChildMeasured,
    ChildStuntingDetected,
    HouseholdVisited,
    NikConflictDetected,
    NikConflictResolved,
)
from sinergi_contracts.household import RegistryEvent
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from services.registry import domain, duplicates, store
from services.registry.domain import Household, Member, NotFound, Relation, Sex
from services.registry.growth import GrowthAssessment, GrowthInputError, Position, assess_growth
from services.registry.models import kk_history, measurements, members, nik_conflicts, visits
from services.registry.publishing import publish
from sinergi.outbox import Transaction, UnitOfWork


def _now() -> datetime:
    return datetime.now(UTC)


_INSERT_KK = insert(kk_history).values(reason="daftar")


async def register_household(
    uow: UnitOfWork,
    *,
    no_kk: str,
    kelurahan_code: str,
    rw: int,
    rt: int,
    address: str,
    head_name: str,
) -> Household:
    now = _now()
    household, event = domain.register_household(
        no_kk=no_kk,
        kelurahan_code=kelurahan_code,
        rw=rw,
        rt=rt,
        address=address,
        head_name=head_name,
        now=now,
    )
    try:
        async with uow.begin() as tx:
            await store.insert_household(tx.conn, household)
            await tx.conn.execute(
                _INSERT_KK,
                {"household_id": str(household.id), "no_kk": no_kk, "valid_from": now},
            )
            publish(tx, event)
    except IntegrityError:
        # The unique No. KK: also catches two RTs registering the same card at once.
        raise domain.DuplicateKK(no_kk) from None
    return household


async def change_kk(
    uow: UnitOfWork, household_id: UUID, *, no_kk: str, reason: domain.KkReason
) -> Household:
    now = _now()
    try:
        async with uow.begin() as tx:
            before = await store.load_household(tx.conn, household_id)
            after, event = domain.change_kk(before, no_kk=no_kk, reason=reason)
            await store.save_household(tx.conn, before, after)
            await tx.conn.execute(
                update(kk_history)
                .where(
                    kk_history.c.household_id == str(household_id), kk_history.c.valid_to.is_(None)
                )
                .values(valid_to=now)
            )
            await tx.conn.execute(
                insert(kk_history).values(
                    household_id=str(household_id), no_kk=no_kk, valid_from=now, reason=reason
                )
            )
            publish(tx, event)
    except IntegrityError:
        raise domain.DuplicateKK(no_kk) from None
    return after


async def add_member(
    uow: UnitOfWork,
    household_id: UUID,
    *,
    nik: str | None,
    name: str,
    sex: Sex,
    birth_date: date,
    relation: Relation,
    occupation: str | None,
    working: bool,
    disability: bool,
    pregnant: bool,
    insist: bool,
) -> Member:
    async with uow.begin() as tx:
        before = await store.load_household(tx.conn, household_id)
        after, member, event = domain.add_member(
            before,
            nik=nik,
            name=name,
            sex=sex,
            birth_date=birth_date,
            relation=relation,
            occupation=occupation,
            working=working,
            disability=disability,
            pregnant=pregnant,
            insist=insist,
            now=_now(),
        )
        await store.save_household(tx.conn, before, after)
        await store.insert_member(tx.conn, member)
        await duplicates.queue_checks(tx.conn, [member.id])
        publish(tx, event)
        if member.nik:
            await record_nik_conflicts(tx, member)
    return member


async def record_nik_conflicts(tx: Transaction, member: Member) -> None:
    """The same NIK in two households blocks both from verification until resolved."""
    assert member.nik is not None
    others = await store.households_with_nik(
        tx.conn, member.nik, except_household=member.household_id
    )
    for other_household, _ in others:
        conflict_id = uuid4()
        await tx.conn.execute(
            insert(nik_conflicts).values(
                id=str(conflict_id),
                nik=member.nik,
                household_id=str(member.household_id),
                member_id=str(member.id),
                other_household_id=str(other_household),
                state="open",
                detected_at=_now(),
            )
        )
        for here, there in (
            (member.household_id, other_household),
            (other_household, member.household_id),
        ):
            publish(
                tx,
                NikConflictDetected(
                    household_id=here,
                    conflict_id=conflict_id,
                    member_id=member.id,
                    other_household_id=there,
                    nik_last4=member.nik[-4:],
                ),
            )


VerificationStep = Callable[[Household, int], tuple[Household, RegistryEvent]]


async def _verification_step(
    uow: UnitOfWork, household_id: UUID, step: VerificationStep
) -> Household:
    async with uow.begin() as tx:
        return await verification_step_in(tx, household_id, step)


async def verification_step_in(
    tx: Transaction, household_id: UUID, step: VerificationStep
) -> Household:
    """One step of the kelurahan's verification in the caller's transaction."""
    before = await store.load_household(tx.conn, household_id)
    conflicts = await store.open_conflicts(tx.conn, household_id)
    after, event = step(before, conflicts)
    await store.save_household(tx.conn, before, after)
    publish(tx, event)
    return after


async def submit(uow: UnitOfWork, household_id: UUID) -> Household:
    return await _verification_step(uow, household_id, lambda h, _: domain.submit(h))


async def verify(uow: UnitOfWork, household_id: UUID) -> Household:
    return await _verification_step(
        uow, household_id, lambda h, conflicts: domain.verify(h, open_conflicts=conflicts)
    )


async def return_to_rt(uow: UnitOfWork, household_id: UUID, *, note: str) -> Household:
    return await _verification_step(
        uow, household_id, lambda h, _: domain.return_to_rt(h, note=note)
    )


async def resolve_conflict(
    uow: UnitOfWork, conflict_id: UUID, *, remove_member: UUID, note: str
) -> None:
    """The officer decides which household the person really belongs to.

    The member record in the other household is removed; both timelines show the decision.
    """
    async with uow.begin() as tx:
        row = (
            await tx.conn.execute(
                select(nik_conflicts).where(
                    nik_conflicts.c.id == str(conflict_id), nik_conflicts.c.state == "open"
                )
            )
        ).first()
        if row is None:
            raise NotFound("Konflik terbuka tidak ditemukan (open conflict not found)")
        holders = {
            m: h
            for m, h in await tx.conn.execute(
                select(members.c.id, members.c.household_id).where(members.c.nik == row.nik)
            )
        }
        if str(remove_member) not in holders:
            raise domain.FieldRejected(
                field="remove_member",
                rule="not_in_conflict",
                pesan="anggota itu tidak memegang NIK yang berkonflik",
                message="that member does not hold the conflicting NIK",
            )
        removed = await store.load_member(tx.conn, UUID(holders[str(remove_member)]), remove_member)
        # Another record with the NIK stays: the person's measurements go with it.
        stays = next((m for m in holders if m != str(remove_member)), None)
        if stays is None:
            raise domain.Conflict(
                "tidak ada catatan lain dengan NIK ini lagi; konflik sudah tidak berlaku "
                "(no other record holds this NIK any more)"
            )
        kept = await store.load_member(tx.conn, UUID(holders[stays]), UUID(stays))
        await duplicates.fold_member(
            tx.conn, removed, into=kept, note=f"konflik NIK (NIK conflict) {conflict_id}"
        )
        await tx.conn.execute(
            update(nik_conflicts)
            .where(nik_conflicts.c.id == str(conflict_id))
            .values(state="resolved", decision="member_removed", note=note, resolved_at=_now())
        )
        for household in {row.household_id, row.other_household_id}:
            publish(
                tx,
                NikConflictResolved(
                    household_id=UUID(household),
                    conflict_id=conflict_id,
                    member_id=remove_member,
                    decision="member_removed",
                    note=note,
                ),
            )


async def record_visit(
    uow: UnitOfWork,
    household_id: UUID,
    *,
    visited_on: date,
    visitor: str,
    note: str,
    observations: list[str],
) -> UUID:
    visit_id = uuid4()
    async with uow.begin() as tx:
        await store.load_household(tx.conn, household_id)
        await tx.conn.execute(
            insert(visits).values(
                id=str(visit_id),
                household_id=str(household_id),
                visited_on=visited_on,
                visitor=visitor,
                note=note,
                observations=observations,
                recorded_at=_now(),
            )
        )
        publish(
            tx,
            HouseholdVisited(
                household_id=household_id,
                visit_id=visit_id,
                visited_on=visited_on,
                visitor=visitor,
                note=note,
                observations=observations,
            ),
        )
    return visit_id


async def record_measurement(
    uow: UnitOfWork,
    household_id: UUID,
    member_id: UUID,
    *,
    measured_on: date,
    length_height_cm: float,
    position: Position,
    weight_kg: float | None,
) -> tuple[UUID, GrowthAssessment]:
    """A cadre's measurement; a child newly found stunted is announced for the Puskesmas."""
    async with uow.begin() as tx:
        return await measure(
            tx,
            household_id,
            member_id,
            measured_on=measured_on,
            length_height_cm=length_height_cm,
            position=position,
            weight_kg=weight_kg,
        )


async def measure(
    tx: Transaction,
    household_id: UUID,
    member_id: UUID,
    *,
    measured_on: date,
    length_height_cm: float,
    position: Position,
    weight_kg: float | None,
) -> tuple[UUID, GrowthAssessment]:
    """`record_measurement` in the caller's transaction (the demo loader batches them)."""
    measurement_id = uuid4()
    before = await store.load_household(tx.conn, household_id)
    child = await store.load_member(tx.conn, household_id, member_id)
    try:
        result = assess_growth(
            sex=child.sex,
            birth_date=child.birth_date,
            measured_on=measured_on,
            length_height_cm=length_height_cm,
            position=position,
            weight_kg=weight_kg,
        )
    except GrowthInputError as error:
        raise domain.FieldRejected(
            field=error.field, rule="implausible", pesan=error.pesan, message=error.message
        ) from None
    was_stunted = await store.latest_is_stunted(tx.conn, member_id)
    await tx.conn.execute(
        insert(measurements).values(
            id=str(measurement_id),
            member_id=str(member_id),
            household_id=str(household_id),
            measured_on=measured_on,
            age_days=result.age_days,
            length_height_cm=result.length_height_cm,
            position=position,
            weight_kg=weight_kg,
            hfa_z=result.hfa_z,
            hfa_category=result.hfa_category,
            wfa_z=result.wfa_z,
            wfa_category=result.wfa_category,
            outside_standard=result.outside_standard,
            recorded_at=_now(),
        )
    )
    stunted = await store.stunted_children(tx.conn, household_id)
    if stunted != before.stunted_children:
        after = replace(before, stunted_children=stunted, version=before.version + 1)
        await store.save_household(tx.conn, before, after)
    publish(
        tx,
        ChildMeasured(
            household_id=household_id,
            member_id=member_id,
            measurement_id=measurement_id,
            measured_on=measured_on,
            age_days=result.age_days,
            length_height_cm=result.length_height_cm,
            weight_kg=weight_kg,
            hfa_z=result.hfa_z,
            hfa_category=result.hfa_category,
            wfa_z=result.wfa_z,
            wfa_category=result.wfa_category,
            outside_standard=result.outside_standard,
        ),
    )
    if result.stunted and not was_stunted and result.hfa_z is not None:
        assert result.hfa_category in ("pendek", "sangat_pendek")
        publish(
            tx,
            ChildStuntingDetected(
                household_id=household_id,
                member_id=member_id,
                measurement_id=measurement_id,
                measured_on=measured_on,
                hfa_z=result.hfa_z,
                hfa_category=result.hfa_category,
                kelurahan_code=before.kelurahan_code,
            ),
        )
    return measurement_id, result
