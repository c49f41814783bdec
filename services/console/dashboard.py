"""The coordinators' "100 hari" dashboard: the figures from the referrals service's one
dashboard read, shaped for the page, with its charts as inline SVG (no script, no library:
a phone on a weak connection draws them as fast as text)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.console.labels import STATUS_LABELS
from services.registry.areas import areas

FUNNEL = ("requested", "accepted", "completed", "rejected")
LADDER_LABELS = {
    "rt": "Ketua RT",
    "lurah": "Lurah",
    "camat": "Camat",
    "agency_head": "Kepala instansi",
    "coordinator": "Koordinator",
}


@dataclass(frozen=True)
class Burndown:
    """A line over the days so far, on a chart as wide as the 100 days, with the target."""

    points: str  # SVG polyline points
    width: int
    height: int
    top: int  # the largest count, the y axis' top
    today_x: float
    last: int


def burndown(series: list[int], days: int, *, width: int = 600, height: int = 180) -> Burndown:
    top = max([1, *series])
    step = width / max(1, days)

    def y(count: int) -> float:
        return height - height * count / top

    points = " ".join(f"{i * step:.1f},{y(c):.1f}" for i, c in enumerate(series))
    return Burndown(
        points, width, height, top, (len(series) - 1) * step, series[-1] if series else 0
    )


@dataclass(frozen=True)
class AgencyRow:
    code: str
    name: str
    funnel: list[tuple[str, str, int, float]]  # (status, label, count, bar width %)
    open_total: int
    overdue: list[tuple[int, str, int]]  # (escalation level, its ladder rung, referrals at it)
    hours_to_accept: float | None
    hours_to_complete: float | None


def rung_name(ladder: list[str], level: int) -> str:
    """Who an overdue referral at `level` has reached, by the directory's ladder (level 0:
    overdue before the deadline check raised it, still the first rung)."""
    rung = ladder[min(max(1, level), len(ladder)) - 1]
    return LADDER_LABELS.get(rung, rung)


def agencies(report: dict[str, Any], directory: dict[str, Any]) -> list[AgencyRow]:
    names = {a["code"]: a["name"] for a in directory["agencies"]}
    ladder = report["ladder"]
    latency = {(x["agency"], x["step"]): x["median_hours"] for x in report["latency"]}
    widest = max([1, *(f["by_status"][s] for f in report["funnel"] for s in FUNNEL)])
    rows = []
    for f in report["funnel"]:
        counts = f["by_status"]
        overdue = {int(level): n for level, n in f["overdue_by_level"].items()}
        rows.append(
            AgencyRow(
                code=f["agency"],
                name=names.get(f["agency"], f["agency"]),
                funnel=[(s, STATUS_LABELS[s], counts[s], 100 * counts[s] / widest) for s in FUNNEL],
                open_total=sum(counts[s] for s in ("requested", "received", "accepted")),
                overdue=[
                    (level, rung_name(ladder, level), n) for level, n in sorted(overdue.items())
                ],
                hours_to_accept=latency.get((f["agency"], "requested→accepted")),
                hours_to_complete=latency.get((f["agency"], "accepted→completed")),
            )
        )
    return rows


@dataclass(frozen=True)
class KelurahanRow:
    code: str
    name: str
    day: int
    at_start: int
    now: int
    graduated: int
    target: int
    chart: Burndown


def card_name(code: str) -> str:
    """A 100-day card's name: its kelurahan's, or the city's for "kota"."""
    known = areas()
    return "Kota Bontang" if code == "kota" else known[code].name if code in known else code


def kelurahan(report: dict[str, Any]) -> list[KelurahanRow]:
    rows = []
    for x in report["hundred_days"]:
        code = x["kelurahan_code"]
        rows.append(
            KelurahanRow(
                code=code,
                name=card_name(code),
                day=x["day"],
                at_start=x["extreme_at_start"],
                now=x["extreme_now"],
                graduated=x["graduated"],
                target=x["target"],
                chart=burndown(report["burndown"].get(code, [x["extreme_now"]]), report["days"]),
            )
        )
    return rows


def overdue_total(rows: list[AgencyRow]) -> list[tuple[int, str, int]]:
    """Overdue referrals of all agencies by escalation level, up the ladder: each a list of
    its own (a ladder naming one role twice shows it twice, each with its own referrals)."""
    totals: dict[int, tuple[str, int]] = {}
    for row in rows:
        for level, rung, n in row.overdue:
            totals[level] = (rung, totals.get(level, (rung, 0))[1] + n)
    return [(level, rung, n) for level, (rung, n) in sorted(totals.items())]
