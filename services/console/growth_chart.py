"""A child's length/height against the WHO 2006 lines, drawn as inline SVG."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WIDTH, HEIGHT = 600, 300
MONTH_DAYS = 30.4375
LOW_CM, HIGH_CM = 40.0, 125.0
LINE_CLASS = {"-3": "sd3", "-2": "sd2", "0": "median", "2": "sd2", "3": "sd3"}


@dataclass(frozen=True)
class GrowthChart:
    name: str
    lines: list[tuple[str, str, str]]  # (z, css class, SVG points)
    dots: list[tuple[float, float, str]]  # (x, y, what it says)
    ticks: list[tuple[float, int]]  # (x, months) every 12 months
    summary: str  # for screen readers


def _x(days: float) -> float:
    return round(WIDTH * days / (60 * MONTH_DAYS), 1)


def _y(cm: float) -> float:
    return round(HEIGHT - HEIGHT * (cm - LOW_CM) / (HIGH_CM - LOW_CM), 1)


def growth_chart(data: dict[str, Any]) -> GrowthChart:
    lines = [
        (z, LINE_CLASS.get(z, "median"), " ".join(f"{_x(d)},{_y(cm)}" for d, cm in points))
        for z, points in data["curves"].items()
    ]
    dots = []
    for m in data["measurements"]:
        category = (m["hfa_category"] or "tidak dinilai").replace("_", " ")
        z = "–" if m["hfa_z"] is None else f"{m['hfa_z']:.2f}"
        what = f"{m['measured_on']}: {m['length_height_cm']} cm, z {z}, {category}"
        dots.append((_x(m["age_days"]), _y(m["length_height_cm"]), what))
    last = data["measurements"][-1] if data["measurements"] else None
    summary = f"Grafik tinggi menurut umur {data['name']}: {len(dots)} pengukuran" + (
        f", terakhir {dots[-1][2]}" if last else ""
    )
    ticks = [(_x(month * MONTH_DAYS), month) for month in range(0, 61, 12)]
    return GrowthChart(data["name"], lines, dots, ticks, summary)
