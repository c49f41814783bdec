"""Kemendagri area codes of Kota Bontang (kota → kecamatan → kelurahan)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

AREAS_CSV = Path(__file__).parent / "data" / "bontang-wilayah.csv"


@dataclass(frozen=True)
class Area:
    code: str
    level: str
    name: str
    parent: str
    priority: bool


@cache
def areas() -> dict[str, Area]:
    with AREAS_CSV.open(newline="", encoding="utf-8") as file:
        return {
            row["kode"]: Area(
                code=row["kode"],
                level=row["tingkat"],
                name=row["nama"],
                parent=row["induk"],
                priority=row["prioritas_100_hari"] == "ya",
            )
            for row in csv.DictReader(file)
        }


def kelurahan(code: str) -> Area | None:
    area = areas().get(code)
    return area if area and area.level == "kelurahan" else None


@dataclass(frozen=True)
class AreaNode:
    """One area with the areas inside it (kota → kecamatan → kelurahan)."""

    code: str
    level: str
    name: str
    priority: bool
    children: list[AreaNode]


def tree() -> list[AreaNode]:
    children: dict[str, list[AreaNode]] = {}
    for area in sorted(areas().values(), key=lambda a: (len(a.code), a.code), reverse=True):
        node = AreaNode(
            area.code, area.level, area.name, area.priority, children.get(area.code, [])
        )
        children.setdefault(area.parent, []).insert(0, node)
    return [n for n in children.get("64", [])]
