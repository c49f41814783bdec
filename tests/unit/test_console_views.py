"""The console's pure helpers: times in WITA, event labels, the dashboard's shaping."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader

from services.console import dashboard, labels

TEMPLATES = Path(dashboard.__file__).parent / "templates"


def test_times_are_shown_in_wita_and_event_types_by_their_indonesian_name() -> None:
    assert labels.local_time("2026-11-29T18:10:00Z") == "30-11-2026 02:10 WITA"
    assert labels.local_time("2026-11-29T18:10:00") == "30-11-2026 02:10 WITA"  # SQLite: no zone
    assert labels.local_time(None) == "–"
    kind = "id.go.bontang.sinergi.registry.child_stunting_detected.v1"
    assert labels.event_label(kind) == "Anak stunting ditemukan"
    assert labels.event_label("x.y.something_new.v1") == "something_new"
    assert labels.label_in(labels.STATUS_LABELS)("in-progress") == "dikerjakan"


def test_the_burndown_runs_from_day_0_to_now_on_a_100_day_axis() -> None:
    chart = dashboard.burndown([10, 8, 8, 5], days=100, width=600, height=100)
    points = [tuple(map(float, p.split(","))) for p in chart.points.split()]
    assert points[0] == (0.0, 0.0) and points[-1] == (18.0, 50.0)  # 5 of 10, day 3 of 100
    assert chart.today_x == 18.0 and chart.last == 5 and chart.top == 10
    empty = dashboard.burndown([0], days=100)
    assert empty.top == 1 and empty.last == 0


def test_agencies_get_their_names_funnel_latency_and_overdue_by_ladder_rung() -> None:
    statuses = dict.fromkeys(labels.STATUS_LABELS, 0)
    report = {
        "ladder": ["rt", "lurah", "camat", "agency_head", "coordinator"],
        "latency": [{"agency": "dspm", "step": "requested→accepted", "median_hours": 5.5}],
        "funnel": [
            {"agency": "dspm", "by_status": statuses | {"requested": 4, "completed": 2},
             "overdue_by_level": {"1": 3, "5": 1}},
            {"agency": "baznas", "by_status": statuses, "overdue_by_level": {"2": 2}},
        ],
    }  # fmt: skip
    directory = {"agencies": [{"code": "dspm", "name": "Dinas Sosial"}]}
    dspm, baznas = dashboard.agencies(report, directory)
    assert (dspm.name, baznas.name) == ("Dinas Sosial", "baznas")
    assert [(s, n, w) for s, _, n, w in dspm.funnel] == [
        ("requested", 4, 100.0), ("accepted", 0, 0.0), ("completed", 2, 50.0), ("rejected", 0, 0.0)
    ]  # fmt: skip
    assert dspm.hours_to_accept == 5.5 and dspm.hours_to_complete is None
    assert dspm.overdue == [(1, "Ketua RT", 3), (5, "Koordinator", 1)]
    assert dashboard.overdue_total([dspm, baznas]) == [
        (1, "Ketua RT", 3), (2, "Lurah", 2), (5, "Koordinator", 1)
    ]  # fmt: skip
    # A ladder naming one role twice keeps its levels apart: each rung opens its own list.
    twice = report | {
        "ladder": ["rt", "lurah", "lurah", "camat", "coordinator"],
        "funnel": [{"agency": "baznas", "by_status": statuses,
                    "overdue_by_level": {"2": 2, "3": 1}}],
    }  # fmt: skip
    (baznas,) = dashboard.agencies(twice, directory)
    assert dashboard.overdue_total([baznas]) == [(2, "Lurah", 2), (3, "Lurah", 1)]


class Links(HTMLParser):
    """Each link of a page: its address and all the text inside it, as a screen reader has it."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self._inside: list[str] | None = None
        self._href = ""
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href, self._inside = dict(attrs).get("href") or "", []

    def handle_data(self, data: str) -> None:
        if self._inside is not None:
            self._inside.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._inside is not None:
            self.found.append((self._href, " ".join("".join(self._inside).split())))
            self._inside = None


STUNTING = {"children_found": 7, "children_referred": 5}


def panel(**context: Any) -> str:
    """The dashboard's panel as the console renders it."""
    templates = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)
    empty = {"report": {"hundred_days": [], "days": 100, "stunting": STUNTING},
             "kelurahan": [], "agencies": [], "overdue": []}  # fmt: skip
    return templates.get_template("_panel.html").render(empty | context)


def test_each_overdue_rung_and_stunting_figure_opens_the_list_behind_it() -> None:
    shown = panel(overdue=[(1, "Ketua RT", 3), (2, "Lurah", 2), (5, "Koordinator", 1)])
    assert Links(shown).found == [
        ("/daftar-stunting", "7 anak stunting ditemukan"),
        ("/daftar-stunting?dirujuk=ya", "5 anak stunting dirujuk"),
        ("/daftar-rujukan?overdue=true&tingkat=1", "3 rujukan terlambat sampai Ketua RT"),
        ("/daftar-rujukan?overdue=true&tingkat=2", "2 rujukan terlambat sampai Lurah"),
        ("/daftar-rujukan?overdue=true&tingkat=5", "1 rujukan terlambat sampai Koordinator"),
        ("/daftar-rujukan?overdue=true", "Lihat semua yang terlambat"),
    ]
    # What a screen reader adds is hidden from sight; the figures keep their data-figure.
    assert shown.count('<span class="sr"> rujukan terlambat</span>') == 3
    assert '<dd data-figure="stunting_found"><a href="/daftar-stunting">7<span class="sr">' in shown
    assert '<dd data-figure="stunting_referred"><a' in shown
    assert [f'<li data-level="{n}">' in shown for n in (1, 2, 5)] == [True] * 3
    # Nothing overdue: no rung, and the page says so.
    quiet = panel()
    assert "tingkat=" not in quiet and 'data-figure="overdue_none"' in quiet
