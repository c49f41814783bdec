"""The console's pure helpers: times in WITA, event labels, the dashboard's shaping."""

from __future__ import annotations

from services.console import dashboard, labels


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
    assert dspm.overdue == [("Ketua RT", 3), ("Koordinator", 1)]
    assert dashboard.overdue_total([dspm, baznas]) == [
        ("Ketua RT", 3), ("Lurah", 2), ("Koordinator", 1)
    ]  # fmt: skip
