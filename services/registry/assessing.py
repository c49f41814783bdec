"""Assessing households against poverty rulesets, and re-scoring when a ruleset changes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID, uuid4

from sinergi_contracts import HouseholdAssessed, PovertyStatusChanged
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.registry import store
from services.registry.assessment import (
    AnswerError,
    Ruleset,
    Score,
    score,
    shipped_rulesets,
    status_changes,
)
from services.registry.domain import FieldRejected
from services.registry.models import assessments, households
from services.registry.publishing import publish
from sinergi.outbox import Transaction, UnitOfWork


def ruleset_named(key: str, rulesets: Mapping[str, Ruleset]) -> Ruleset:
    try:
        return rulesets[key]
    except KeyError:
        known = ", ".join(sorted(rulesets))
        raise FieldRejected(
            field="ruleset",
            rule="unknown",
            pesan=f"aturan {key!r} tidak dikenal; pilih salah satu: {known}",
            message=f"unknown ruleset {key!r}; choose one of: {known}",
        ) from None


async def _record(
    tx: Transaction,
    household_id: UUID,
    result: Score,
    answers: Mapping[str, bool],
    *,
    reason: Literal["assessment", "ruleset_changed"],
    dtsen_desil: int | None = None,
    dtsen_source: str | None = None,
) -> UUID:
    """Store one assessment, move the household's status, and publish what happened."""
    before = await store.load_household(tx.conn, household_id)
    assessment_id = uuid4()
    await tx.conn.execute(
        insert(assessments).values(
            id=str(assessment_id),
            household_id=str(household_id),
            ruleset=result.ruleset_key,
            answers=dict(answers),
            criteria_met=list(result.met),
            screening=result.screening_fired,
            status=result.status,
            dtsen_desil=dtsen_desil,
            dtsen_source=dtsen_source,
            assessed_at=datetime.now(UTC),
        )
    )
    after = replace(
        before,
        poverty_status=result.status,
        poverty_ruleset=result.ruleset_key,
        version=before.version + 1,
    )
    await store.save_household(tx.conn, before, after)
    events: list[Any] = [
        HouseholdAssessed(
            household_id=household_id,
            assessment_id=assessment_id,
            ruleset=result.ruleset_key,
            criteria_met=list(result.met),
            screening=result.screening_fired,
            status=result.status,
            dtsen_desil=dtsen_desil,
            dtsen_source=dtsen_source,
        )
    ]
    if before.poverty_status != result.status:
        events.append(
            PovertyStatusChanged(
                household_id=household_id,
                previous_status=before.poverty_status,
                status=result.status,
                ruleset=result.ruleset_key,
                reason=reason,
            )
        )
    publish(tx, *events)
    return assessment_id


async def assess(
    uow: UnitOfWork,
    household_id: UUID,
    *,
    ruleset: str,
    answers: Mapping[str, bool],
    dtsen_desil: int | None,
    dtsen_source: str | None,
    rulesets: Mapping[str, Ruleset] | None = None,
) -> tuple[UUID, Score]:
    async with uow.begin() as tx:
        return await assess_in(
            tx,
            household_id,
            ruleset=ruleset,
            answers=answers,
            dtsen_desil=dtsen_desil,
            dtsen_source=dtsen_source,
            rulesets=rulesets,
        )


async def assess_in(
    tx: Transaction,
    household_id: UUID,
    *,
    ruleset: str,
    answers: Mapping[str, bool],
    dtsen_desil: int | None = None,
    dtsen_source: str | None = None,
    rulesets: Mapping[str, Ruleset] | None = None,
) -> tuple[UUID, Score]:
    """`assess` in the caller's transaction (the demo loader batches them)."""
    chosen = ruleset_named(ruleset, rulesets or shipped_rulesets())
    try:
        result = score(chosen, answers)
    except AnswerError as error:
        raise FieldRejected(
            field=error.field, rule=error.rule, pesan=error.pesan, message=error.message
        ) from None
    assessment_id = await _record(
        tx,
        household_id,
        result,
        answers,
        reason="assessment",
        dtsen_desil=dtsen_desil,
        dtsen_source=dtsen_source,
    )
    return assessment_id, result


@dataclass(frozen=True)
class RescoreReport:
    old: str
    new: str
    rescored: int
    changed: int
    needs_reassessment: list[str]  # household ids whose answers the new version cannot score


async def _current_answers(conn: AsyncConnection, ruleset_key: str) -> list[tuple[str, Any]]:
    """(household id, answers) of the assessment behind each household's current status."""
    rows = await conn.execute(
        select(assessments.c.household_id, assessments.c.answers)
        .join(households, households.c.id == assessments.c.household_id)
        .where(households.c.poverty_ruleset == ruleset_key, assessments.c.ruleset == ruleset_key)
        .order_by(assessments.c.assessed_at)
    )
    latest = {household: answers for household, answers in rows}
    return list(latest.items())


async def rescore(
    uow: UnitOfWork, *, old: str, new: str, rulesets: Mapping[str, Ruleset] | None = None
) -> RescoreReport:
    """Move every household scored with `old` to `new`; each status change is an event."""
    known = rulesets or shipped_rulesets()
    old_rules, new_rules = ruleset_named(old, known), ruleset_named(new, known)
    async with uow.begin() as tx:
        current = await _current_answers(tx.conn, old)
        change = status_changes(old_rules, new_rules, current)
        unscorable = {item.assessment_id for item in change.needs_reassessment}
        for household, answers in current:
            if household not in unscorable:
                await _record(
                    tx,
                    UUID(household),
                    score(new_rules, answers),
                    answers,
                    reason="ruleset_changed",
                )
    return RescoreReport(
        old=old,
        new=new,
        rescored=len(current) - len(unscorable),
        changed=len(change.changed),
        needs_reassessment=sorted(unscorable),
    )
