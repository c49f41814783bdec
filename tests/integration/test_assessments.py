"""Poverty assessments against rulesets kept as data, and re-scoring when a ruleset changes."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from services.registry import assessing
from services.registry.assessment import RULESETS_FOLDER, load_rulesets
from tests.integration.test_registry import registered
from tests.system import eventually, start_system

pytestmark = pytest.mark.integration

CITY = "bontang-2024-13.v1"
CITY_QUESTIONS = [
    "kepala_keluarga_tanpa_penghasilan_tetap",
    "penghasilan_tidak_cukup_kebutuhan_dasar",
    "makan_kurang_dari_dua_kali",
    "tidak_punya_jkn_aktif",
    "anak_usia_sekolah_tidak_sekolah",
    "luas_lantai_kurang_8m2_per_orang",
    "lantai_tidak_layak",
    "dinding_tidak_layak",
    "atap_tidak_layak",
    "tidak_ada_jamban_sendiri",
    "air_minum_tidak_layak",
    "listrik_450va_atau_tidak_ada",
    "tidak_punya_aset_atau_tabungan",
]


def city_answers(met: int) -> dict[str, bool]:
    return {question: n < met for n, question in enumerate(CITY_QUESTIONS)}


async def test_an_assessment_records_the_criteria_met_and_the_status(settings_for: Any) -> None:
    async with start_system(settings_for) as system:
        household_id = await registered(system.registry)
        response = await system.registry.post(
            f"/households/{household_id}/assessments",
            json={
                "ruleset": CITY,
                "answers": city_answers(6),
                "dtsen_desil": 1,
                "dtsen_source": "DTSEN Oktober 2026",
            },
        )
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "miskin"
        assert response.json()["criteria_met"] == CITY_QUESTIONS[:6]
        listed = await system.registry.get("/households", params={"poverty_status": "miskin"})
        assert [h["id"] for h in listed.json()["items"]] == [household_id]
        detail = (await system.registry.get(f"/households/{household_id}")).json()
        assert detail["latest_assessment"]["status"] == "miskin"
        assert detail["stunting_risks"] == []  # water and latrine were not among the 6
        timeline = await eventually(
            lambda: system.referrals.get(f"/households/{household_id}/timeline"),
            lambda r: len(r.json()["entries"]) == 3,
        )
    assessed, changed = timeline.json()["entries"][1:]
    assert assessed["data"]["ruleset"] == CITY
    assert assessed["data"]["dtsen_desil"] == 1
    assert changed["data"] == changed["data"] | {
        "previous_status": None,
        "status": "miskin",
        "reason": "assessment",
    }


async def test_kepmensos_screening_alone_makes_a_household_extremely_poor(
    settings_for: Any,
) -> None:
    kepmensos = load_rulesets()["kepmensos-262-2022.v1"]
    answers = {question.id: False for question in kepmensos.questions}
    answers["tidak_mempunyai_tempat_tinggal"] = True
    async with start_system(settings_for, services=("registry",)) as system:
        household_id = await registered(system.registry)
        response = await system.registry.post(
            f"/households/{household_id}/assessments",
            json={"ruleset": "kepmensos-262-2022.v1", "answers": answers},
        )
    assert response.json()["status"] == "miskin_ekstrem"
    assert response.json()["screening"] == "tidak_mempunyai_tempat_tinggal"


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({"ruleset": "tidak-ada.v9", "answers": {}}, "ruleset", "unknown"),
        ({"ruleset": CITY, "answers": {"lantai_tidak_layak": True}}, "answers.", "missing"),
        (
            {"ruleset": CITY, "answers": city_answers(2) | {"pertanyaan_baru": True}},
            "answers.",
            "unknown",
        ),
    ],
)
async def test_a_bad_assessment_is_a_422_naming_the_answer(
    settings_for: Any, body: dict[str, Any], field: str, rule: str
) -> None:
    async with start_system(settings_for, services=("registry",)) as system:
        household_id = await registered(system.registry)
        response = await system.registry.post(f"/households/{household_id}/assessments", json=body)
    assert response.status_code == 422, response.text
    problem = response.json()["errors"][0]
    assert problem["field"].startswith(field)
    assert problem["rule"] == rule


async def test_a_stricter_ruleset_version_rescores_only_the_affected_households(
    settings_for: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "rulesets"
    shutil.copytree(RULESETS_FOLDER, folder)
    v1 = (folder / f"{CITY}.yaml").read_text(encoding="utf-8")
    v2 = v1.replace("version: 1", "version: 2").replace("at_least: 6", "at_least: 7")
    assert v2 != v1
    (folder / "bontang-2024-13.v2.yaml").write_text(v2, encoding="utf-8")
    rulesets = load_rulesets(folder)

    async with start_system(settings_for) as system:
        runtime = system.runtime("registry")
        six = await registered(system.registry, "6474010101200011")
        eight = await registered(system.registry, "6474010101200012")
        for household_id, met in ((six, 6), (eight, 8)):
            await assessing.assess(
                runtime.uow,
                household_id=UUID(household_id),
                ruleset=CITY,
                answers=city_answers(met),
                dtsen_desil=None,
                dtsen_source=None,
            )
        report = await assessing.rescore(
            runtime.uow, old=CITY, new="bontang-2024-13.v2", rulesets=rulesets
        )
        assert (report.rescored, report.changed) == (2, 1)
        moved = (await system.registry.get(f"/households/{six}")).json()
        kept = (await system.registry.get(f"/households/{eight}")).json()
        assert (moved["poverty_status"], moved["poverty_ruleset"]) == (
            "rentan",
            "bontang-2024-13.v2",
        )
        assert kept["poverty_status"] == "miskin"
        timeline = await eventually(
            lambda: system.referrals.get(f"/households/{six}/timeline"),
            lambda r: len(r.json()["entries"]) == 5,
        )
    last = timeline.json()["entries"][-1]["data"]
    assert last == last | {
        "previous_status": "miskin",
        "status": "rentan",
        "reason": "ruleset_changed",
    }


async def test_no_safe_water_and_no_latrine_flag_the_family_as_at_risk_of_stunting(
    settings_for: Any,
) -> None:
    async with start_system(settings_for, services=("registry",)) as system:
        household_id = await registered(system.registry)
        await system.registry.post(
            f"/households/{household_id}/assessments",
            json={"ruleset": CITY, "answers": city_answers(13)},
        )
        detail = (await system.registry.get(f"/households/{household_id}")).json()
    assert detail["poverty_status"] == "miskin_ekstrem"
    assert detail["stunting_risks"] == ["tidak_ada_air_minum_layak", "tidak_ada_jamban_layak"]
