"""The duplicate review queue: probable duplicates found in the background, decided by an officer.

Adding a member queues it in `duplicate_checks` in the same transaction, so none is left
unchecked. The scanner takes the queue a kelurahan at a time: it loads the people of that
kelurahan, and anyone in the city of the same sex born the same day, runs the matcher
(matching.py) in a thread, and keeps the pairs that involve a queued member and a member
without NIK (two NIKs are compared exactly, as NIK conflicts). Each new pair becomes a
candidate with a `DuplicateSuspected` event for both households, in one transaction with the
removal of the checks; the unique pair makes a second replica's scan insert nothing.

Across kelurahan only people born the same day are compared: someone who moved and whose birth
date was mistyped is left to the kelurahan officers.

A kelurahan officer then decides: not a duplicate (`DuplicateDismissed`), or merge
(`MembersMerged`): the kept record takes the NIK the other had, the measurements move to it,
the other record is removed, and the other open candidates of the removed member close.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar
from uuid import UUID, uuid4

from sinergi_contracts import DuplicateDismissed, DuplicateSuspected, MembersMerged
from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.registry import domain, store
from services.registry.matching import Candidate, Person, candidate_pairs
from services.registry.models import (
    duplicate_candidates,
    duplicate_checks,
    households,
    measurements,
    members,
)
from services.registry.publishing import publish
from sinergi.db import chunks, insert_many
from sinergi.outbox import Transaction, UnitOfWork

log = logging.getLogger(__name__)
V = TypeVar("V")

State = Literal["open", "merged", "not_duplicate", "closed"]
Decision = Literal["merge", "not_duplicate"]


def _now() -> datetime:
    return datetime.now(UTC)


async def queue_checks(conn: AsyncConnection, member_ids: Sequence[UUID]) -> None:
    """Queue members for the scanner, in the caller's transaction."""
    if member_ids:
        now = _now()
        await insert_many(
            conn, duplicate_checks, [{"member_id": str(m), "queued_at": now} for m in member_ids]
        )


async def queue_kelurahan(uow: UnitOfWork, kelurahan_code: str | None) -> int:
    """Queue every member of a kelurahan (or of the city) again, e.g. after the matcher changed."""
    async with uow.begin() as tx:
        query = select(members.c.id).join(households, households.c.id == members.c.household_id)
        if kelurahan_code:
            query = query.where(households.c.kelurahan_code == kelurahan_code)
        queued = {r for (r,) in await tx.conn.execute(select(duplicate_checks.c.member_id))}
        wanted = [UUID(m) for (m,) in await tx.conn.execute(query) if m not in queued]
        await queue_checks(tx.conn, wanted)
    return len(wanted)


async def waiting(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(duplicate_checks)) or 0)


# --- the scanner ---------------------------------------------------------------------------


@dataclass
class ScanReport:
    checked: int = 0
    candidates: int = 0


_PERSON_COLUMNS = (
    members.c.id,
    members.c.household_id,
    members.c.name,
    members.c.birth_date,
    members.c.sex,
    members.c.nik,
    households.c.kelurahan_code,
    households.c.rw,
    households.c.rt,
    households.c.address,
    households.c.head_name,
)


@dataclass(frozen=True)
class _Seen:
    """A member as the scanner loaded it: the matcher's Person and what the officer is shown."""

    person: Person
    nik: str | None
    head_name: str

    def side(self) -> dict[str, Any]:
        p = self.person
        return {
            "member_id": p.member_id,
            "household_id": p.household_id,
            "name": p.name,
            "sex": p.sex,
            "birth_date": p.birth_date.isoformat() if p.birth_date else None,
            "nik_last4": self.nik[-4:] if self.nik else None,
            "kelurahan_code": p.kelurahan_code,
            "rw": p.rw,
            "rt": p.rt,
            "address": p.address,
            "head_name": self.head_name,
        }


def _seen(row: Any) -> _Seen:
    person = Person(
        row.id, row.household_id, row.name, row.birth_date, row.sex, row.kelurahan_code,
        row.rw, row.rt, row.address,
    )  # fmt: skip
    return _Seen(person, row.nik, row.head_name)


async def _queued(engine: AsyncEngine, limit: int) -> dict[str, list[_Seen]]:
    """Queued members still in the registry, by kelurahan; checks of removed members go."""
    async with engine.begin() as conn:
        ids = [
            m
            for (m,) in await conn.execute(
                select(duplicate_checks.c.member_id)
                .order_by(duplicate_checks.c.queued_at)
                .limit(limit)
            )
        ]
        found: dict[str, list[_Seen]] = defaultdict(list)
        present = set()
        for chunk in chunks(ids):
            rows = await conn.execute(
                select(*_PERSON_COLUMNS)
                .join(households, households.c.id == members.c.household_id)
                .where(members.c.id.in_(chunk))
            )
            for row in rows:
                found[row.kelurahan_code].append(_seen(row))
                present.add(row.id)
        gone = [m for m in ids if m not in present]
        for chunk in chunks(gone):
            await conn.execute(
                delete(duplicate_checks).where(duplicate_checks.c.member_id.in_(chunk))
            )
    return found


async def _neighbourhood(
    engine: AsyncEngine, kelurahan_code: str, queued: list[_Seen]
) -> list[_Seen]:
    """The kelurahan's people, and the people elsewhere born the day a queued member was."""
    days = sorted({s.person.birth_date for s in queued if s.person.birth_date is not None})
    async with engine.connect() as conn:
        rows = list(
            await conn.execute(
                select(*_PERSON_COLUMNS)
                .join(households, households.c.id == members.c.household_id)
                .where(households.c.kelurahan_code == kelurahan_code)
            )
        )
        for chunk in chunks(days):
            rows += await conn.execute(
                select(*_PERSON_COLUMNS)
                .join(households, households.c.id == members.c.household_id)
                .where(
                    households.c.kelurahan_code != kelurahan_code, members.c.birth_date.in_(chunk)
                )
            )
    return [_seen(row) for row in rows]


def _relevant(found: list[Candidate], queued: set[str], seen: dict[str, _Seen]) -> list[Candidate]:
    return [
        c
        for c in found
        if (c.left in queued or c.right in queued)
        and (seen[c.left].nik is None or seen[c.right].nik is None)
    ]


async def scan_kelurahan(
    uow: UnitOfWork, engine: AsyncEngine, kelurahan_code: str, queued: list[_Seen]
) -> int:
    """Match one kelurahan's queued members; returns the new candidates."""
    people = await _neighbourhood(engine, kelurahan_code, queued)
    seen = {s.person.member_id: s for s in people}
    found = await asyncio.to_thread(candidate_pairs, [s.person for s in people])
    wanted = _relevant(found, {s.person.member_id for s in queued}, seen)
    created = 0
    async with uow.begin() as tx:
        for candidate in wanted:
            created += await _record(tx, candidate, seen[candidate.left], seen[candidate.right])
        ids = [s.person.member_id for s in queued]
        for chunk in chunks(ids):
            await tx.conn.execute(
                delete(duplicate_checks).where(duplicate_checks.c.member_id.in_(chunk))
            )
    return created


async def _record(tx: Transaction, candidate: Candidate, left: _Seen, right: _Seen) -> int:
    """Store a new candidate and announce it to both households; 0 if the pair is known."""
    known = await tx.conn.scalar(
        select(duplicate_candidates.c.id).where(
            duplicate_candidates.c.left_member_id == candidate.left,
            duplicate_candidates.c.right_member_id == candidate.right,
        )
    )
    if known is not None:
        return 0
    candidate_id = uuid4()
    await tx.conn.execute(
        insert(duplicate_candidates).values(
            id=str(candidate_id),
            left_member_id=candidate.left,
            right_member_id=candidate.right,
            left_household_id=left.person.household_id,
            right_household_id=right.person.household_id,
            left_kelurahan_code=left.person.kelurahan_code,
            right_kelurahan_code=right.person.kelurahan_code,
            score=candidate.score,
            reasons=list(candidate.reasons),
            sides=[left.side(), right.side()],
            state="open",
            detected_at=_now(),
        )
    )
    for here, there in each_way(
        left.person, right.person, same=left.person.household_id == right.person.household_id
    ):
        publish(
            tx,
            DuplicateSuspected(
                household_id=UUID(here.household_id),
                candidate_id=candidate_id,
                member_id=UUID(here.member_id),
                other_member_id=UUID(there.member_id),
                other_household_id=UUID(there.household_id),
                score=candidate.score,
                reasons=list(candidate.reasons),
            ),
        )
    return 1


def each_way(left: V, right: V, *, same: bool) -> list[tuple[V, V]]:
    """Each household's view of a pair, its own side first; one view when `same` household."""
    return [(left, right)] if same else [(left, right), (right, left)]


async def scan_pending(uow: UnitOfWork, engine: AsyncEngine, *, limit: int = 20_000) -> ScanReport:
    """Work through up to `limit` queued members, one kelurahan (one transaction) at a time."""
    report = ScanReport()
    for kelurahan_code, queued in (await _queued(engine, limit)).items():
        report.candidates += await scan_kelurahan(uow, engine, kelurahan_code, queued)
        report.checked += len(queued)
    return report


def _aware(moment: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; they were written in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def settled(engine: AsyncEngine, *, quiet: float, longest: float) -> bool:
    """Whether the queue is ready: nothing added for `quiet` seconds, or a check waited `longest`.

    Scanning a kelurahan matches all its people again, so scanning while a bulk import is
    still adding to it would repeat that work every few seconds and slow the import down.
    """
    async with engine.connect() as conn:
        oldest, newest = (
            await conn.execute(
                select(
                    func.min(duplicate_checks.c.queued_at), func.max(duplicate_checks.c.queued_at)
                )
            )
        ).one()
    if oldest is None or newest is None:
        return False
    now = _now()
    return (now - _aware(newest)).total_seconds() >= quiet or (
        now - _aware(oldest)
    ).total_seconds() >= longest


async def watch(uow: UnitOfWork, engine: AsyncEngine, *, every: float, longest: float) -> None:
    """Scan the queue once it settled (see `settled`), looking every `every` seconds."""
    while True:
        try:
            if not await settled(engine, quiet=every, longest=longest):
                await asyncio.sleep(every)
                continue
            report = await scan_pending(uow, engine)
            if report.checked:
                log.info(
                    "pemeriksaan duplikat (duplicate scan)",
                    extra={"checked": report.checked, "candidates": report.candidates},
                )
                continue  # more may be queued
        except Exception:
            log.exception("pemeriksaan duplikat gagal (duplicate scan failed)")
        await asyncio.sleep(every)


# --- the officer's decision -----------------------------------------------------------------


async def decide(
    uow: UnitOfWork,
    candidate_id: UUID,
    *,
    decision: Decision,
    keep_member_id: UUID | None,
    note: str,
    officer: str,
    officer_name: str | None = None,
) -> None:
    """`officer` is who decided as the token says (`<role>:<sub>`, on the events);
    `officer_name` what they call themselves, kept beside it for the people reading."""
    # Within the column's 200 characters, the verified identity first.
    decided_by = (f"{officer} ({officer_name})" if officer_name else officer)[:200]
    async with uow.begin() as tx:
        row = (
            await tx.conn.execute(
                select(duplicate_candidates).where(duplicate_candidates.c.id == str(candidate_id))
            )
        ).first()
        if row is None:
            raise domain.NotFound("Calon duplikat tidak ditemukan (duplicate candidate not found)")
        if row.state != "open":
            raise domain.Conflict(
                f"calon duplikat ini sudah diputuskan ({row.state}) "
                f"(this candidate was already decided: {row.state})"
            )
        if decision == "not_duplicate":
            await _dismiss(tx, row, note=note, officer=officer, decided_by=decided_by)
        else:
            await _merge(tx, row, keep_member_id, note=note, officer=officer, decided_by=decided_by)


async def _close(tx: Transaction, row: Any, state: State, **values: Any) -> None:
    await tx.conn.execute(
        update(duplicate_candidates)
        .where(duplicate_candidates.c.id == row.id)
        .values(state=state, decided_at=_now(), **values)
    )


def _pair(row: Any) -> tuple[tuple[str, str], tuple[str, str]]:
    """(member id, household id) of both sides."""
    return (row.left_member_id, row.left_household_id), (
        row.right_member_id,
        row.right_household_id,
    )


async def _dismiss(tx: Transaction, row: Any, *, note: str, officer: str, decided_by: str) -> None:
    await _close(tx, row, "not_duplicate", decided_by=decided_by, note=note)
    left, right = _pair(row)
    for (member, household), (other, other_household) in each_way(
        left, right, same=left[1] == right[1]
    ):
        publish(
            tx,
            DuplicateDismissed(
                household_id=UUID(household),
                candidate_id=UUID(row.id),
                member_id=UUID(member),
                other_member_id=UUID(other),
                other_household_id=UUID(other_household),
                note=note,
                recorded_by=officer,
            ),
        )


async def _merge(
    tx: Transaction,
    row: Any,
    keep_member_id: UUID | None,
    *,
    note: str,
    officer: str,
    decided_by: str,
) -> None:
    sides = {row.left_member_id, row.right_member_id}
    if keep_member_id is None or str(keep_member_id) not in sides:
        raise domain.FieldRejected(
            field="keep_member_id",
            rule="member_of_pair",
            pesan="untuk menggabung, pilih salah satu dari dua anggota yang dibandingkan",
            message="to merge, choose one of the two members compared",
        )
    kept_id = str(keep_member_id)
    (removed_id,) = sides - {kept_id}
    kept = await member(tx.conn, kept_id)
    removed = await member(tx.conn, removed_id)
    if kept.nik is None and removed.nik is not None:
        # The record without NIK is usually the copy; the person keeps the NIK either way.
        await tx.conn.execute(
            update(members).where(members.c.id == kept_id).values(nik=removed.nik)
        )
    await fold_member(tx.conn, removed, into=kept, note=f"digabung (merged): {row.id}")
    await _close(tx, row, "merged", decided_by=decided_by, note=note, kept_member_id=kept_id)
    for household_id in dict.fromkeys((kept.household_id, removed.household_id)):
        publish(
            tx,
            MembersMerged(
                household_id=household_id,
                candidate_id=UUID(row.id),
                kept_member_id=kept.id,
                kept_household_id=kept.household_id,
                removed_member_id=removed.id,
                removed_household_id=removed.household_id,
                note=note,
                recorded_by=officer,
            ),
        )


async def fold_member(
    conn: AsyncConnection, removed: domain.Member, *, into: domain.Member, note: str
) -> None:
    """Remove a second record of a person: its measurements move to the record that stays,
    its queued check goes, its open candidates close, and both households get a new version."""
    member_id = str(removed.id)
    await conn.execute(
        update(measurements)
        .where(measurements.c.member_id == member_id)
        .values(member_id=str(into.id), household_id=str(into.household_id))
    )
    await conn.execute(delete(duplicate_checks).where(duplicate_checks.c.member_id == member_id))
    await conn.execute(delete(members).where(members.c.id == member_id))
    await conn.execute(
        update(duplicate_candidates)
        .where(
            duplicate_candidates.c.state == "open",
            or_(
                duplicate_candidates.c.left_member_id == member_id,
                duplicate_candidates.c.right_member_id == member_id,
            ),
        )
        .values(state="closed", decided_at=_now(), note=note)
    )
    for household_id in {removed.household_id, into.household_id}:
        await _touch(conn, household_id)


async def member(conn: AsyncConnection, member_id: str) -> domain.Member:
    household_id = await conn.scalar(
        select(members.c.household_id).where(members.c.id == member_id)
    )
    if household_id is None:
        raise domain.Conflict(
            "salah satu anggota sudah tidak ada di registry; muat ulang antrean "
            "(one of the members is no longer in the registry; reload the queue)"
        )
    return await store.load_member(conn, UUID(household_id), UUID(member_id))


async def _touch(conn: AsyncConnection, household_id: UUID) -> None:
    """A new version of a household whose members changed, its stunted count recounted."""
    before = await store.load_household(conn, household_id)
    after = replace(
        before,
        stunted_children=await store.stunted_children(conn, household_id),
        version=before.version + 1,
    )
    await store.save_household(conn, before, after)


# --- reading the queue ------------------------------------------------------------------------


@dataclass(frozen=True)
class CandidateFilter:
    kelurahan_code: str | None = None
    state: State | None = "open"
    min_score: float | None = None
    kecamatan_code: str | None = None


async def list_candidates(
    engine: AsyncEngine, where: CandidateFilter, *, after: str | None, limit: int
) -> list[Any]:
    """Most probable first; `after` is the `cursor` of the last row of the previous page."""
    t = duplicate_candidates
    query = select(t)
    if where.kelurahan_code:
        query = query.where(
            or_(
                t.c.left_kelurahan_code == where.kelurahan_code,
                t.c.right_kelurahan_code == where.kelurahan_code,
            )
        )
    if where.kecamatan_code:
        prefix = f"{where.kecamatan_code}."
        query = query.where(
            or_(
                t.c.left_kelurahan_code.startswith(prefix, autoescape=True),
                t.c.right_kelurahan_code.startswith(prefix, autoescape=True),
            )
        )
    if where.state:
        query = query.where(t.c.state == where.state)
    if where.min_score is not None:
        query = query.where(t.c.score >= where.min_score)
    if after:
        score, candidate_id = parse_cursor(after)
        query = query.where(or_(t.c.score < score, and_(t.c.score == score, t.c.id > candidate_id)))
    query = query.order_by(t.c.score.desc(), t.c.id).limit(limit)
    async with engine.connect() as conn:
        return list(await conn.execute(query))


async def load_candidate(engine: AsyncEngine, candidate_id: UUID) -> Any:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(duplicate_candidates).where(duplicate_candidates.c.id == str(candidate_id))
            )
        ).first()
    if row is None:
        raise domain.NotFound("Calon duplikat tidak ditemukan (duplicate candidate not found)")
    return row


def cursor(row: Any) -> str:
    return f"{row.score!r}_{row.id}"


def parse_cursor(text: str) -> tuple[float, str]:
    try:
        score, candidate_id = text.split("_", 1)
        return float(score), str(UUID(candidate_id))
    except ValueError:
        raise domain.FieldRejected(
            field="after",
            rule="cursor",
            pesan="kursor halaman tidak dikenal; pakai next_after dari halaman sebelumnya",
            message="unknown page cursor; use next_after from the previous page",
        ) from None
