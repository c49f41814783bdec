"""Duplicate detection benchmark: precision, recall and time of the NIK-less member matcher.

Run ``python -m benchmarks.duplicates [--people 10000 180000] [--seed 7] [--show N]``. For each
size it generates synthetic Bontang households (15 kelurahan, 12 RW of 8 RT each, several family
cards in one house, Javanese, Bugis, Banjar, Batak and Toraja style names with titles and
degrees, twins, the placeholder birth dates of older people), treats every member as having no
NIK (harder than the demo data), plants 3% second records of existing people and runs
``services.registry.matching.candidate_pairs``. It prints the machine, the time, precision,
recall and F1 at the default threshold and others, and recall by where the copy was planted.

The planted errors: where -- 10% the same family card typed twice (an exact repeat, sometimes
in capitals), 35% another card in the same RT (60% of them in the same house when there is
one), 40% elsewhere in the kelurahan, 15% another kelurahan. The name -- 20% as before, 60% one
change, 20% two; a change is a typo (30%: a neighbouring key, a letter dropped, added, doubled
or swapped), a spelling variant (30%: Muhammad/M./Moh./Muh., Nur/Noor, Siti/St., Rizki/Rizky,
Aminah/Amina, u/oe, Yusuf/Jusuf ...), a title added or dropped (20%), the tokens reordered (10%)
or capitals (10%). The birth date -- 80% as before, 3% left empty, 7% day and month swapped,
2% two adjacent digits swapped, 8% one digit wrong (the year's last two digits 30% of those).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import metadata
from typing import Literal

from services.registry.areas import areas
from services.registry.matching import (
    DEFAULT_THRESHOLD,
    Candidate,
    Person,
    candidate_pairs,
    name_tokens,
)


def _words(text: str) -> list[str]:
    return text.split()


MALE = _words(
    "Agus Budi Slamet Joko Bambang Eko Sugeng Heru Wahyu Hendra Rudi Dedi Andi Arif Rahmat "
    "Ridwan Syamsul Hasan Husain Yusuf Ismail Ibrahim Hamzah Ilham Fajar Rizki Rizal Fauzan "
    "Hidayat Taufik Irfan Anwar Hairul Ramli Baharuddin Syahrir Amiruddin Nasrullah Jufri "
    "Basri Darmawan Sulaiman Zainal Saiful Iwan Yanto Sutrisno Sugiarto Purwanto Mulyadi "
    "Suparman Rusdi Asri Aswin Erwin Firman Gunawan Haris Imran Jamal Kamaruddin Lukman Mansur "
    "Nasir Rahman Sahrul Tamrin Umar Usman Yunus Zulkifli Aditya Bayu Dimas Galih Naufal Rafi "
    "Fadli Alif Farhan Daffa Arkan Zidan Raka Hafiz Yohanes Markus Petrus Daniel Samuel Yosua "
    "Frans Paulus Stefanus Kornelius Amir Syarif Darwis Muhlis Akbar Ardiansyah Kasim Herman "
    "Mahmud Safaruddin Samsudin Sudirman Suwarno Tarmizi Wahid Gilang Reza Arya Bima Rendi "
    "Abdullah Adnan Agung Alimuddin Anshar Arifin Asdar Aswar Burhanuddin Dahlan Darwin Edi "
    "Effendi Fahmi Faisal Fikri Hakim Hamdan Hasanuddin Hendri Idris Ikhsan Jaenal Khairil "
    "Kamaluddin Lutfi Mappa Masri Mukhtar Najib Nurdin Rasyid Rusli Sainal Salahuddin Sofyan "
    "Suardi Sukri Syukur Wawan Yudi Zakaria Ardi Bahtiar Dedy Fadil Hairuddin Jumadi Marzuki "
    "Nanang Rachmat Ruslan Samsul Tasman Yahya Alfian Ilyas Kurnia Mustafa Rasid Sahabuddin"
)
FEMALE = _words(
    "Aminah Fatimah Aisyah Khadijah Maryam Rahmah Nurhayati Hasnah Rosmini Rukmini Salmah "
    "Wahyuni Rahayu Lestari Wulandari Handayani Yuliani Suryani Sumiati Sulastri Suharti "
    "Suprapti Ernawati Herlina Hartini Indah Intan Jumiati Kartini Kasmawati Marlina Megawati "
    "Murni Nurjanah Nurlela Nursia Nurul Rosdiana Rostina Rusmini Saodah Sitti Halimah Hafsah "
    "Hajrah Haslinda Hasmawati Irmawati Jusmiati Kurniati Mardiana Masitah Mulyani Nining "
    "Novi Puspita Ratna Rini Risma Rosita Sartika Sri Susanti Syamsiah Tuti Wati Yanti Yulia "
    "Zahra Anisa Aulia Azzahra Bunga Citra Dinda Fitri Keisha Nabila Nadia Nayla Putri Salsabila "
    "Syifa Zaskia Alya Kayla Naura Maria Yosefina Agustina Debora Ester Magdalena Yuliana Rut "
    "Agnes Melati Sekar Ayu Dewi Ningsih Sukma Yuni Nurmala Darmawati Jumriani Asmawati Rasmi "
    "Andriani Asniati Bahriah Darmiati Ernawati Fatmawati Hamsiah Hasriani Herawati Irawati "
    "Juhriah Kamariah Lisdawati Masnah Mariani Nurbaya Nurhaeni Nurmiati Rahmatia Ramlah "
    "Rosdiana Rusnah Sahriani Saripah Sumarni Suriani Syarifah Wardah Yusniar Zubaidah Aprilia "
    "Farida Hasmiah Indriani Jamilah Kasmiati Linda Musdalifah Nurmawati Rohani Sarifah Suhartini "
    "Taslim Wahida Aida Erni Hartati Jumriah Marwah Normah Rabiah Sahara Sinta Yulianti Zainab"
)
MALE_SECOND = _words(
    "Saputra Pratama Ramadhan Hidayat Setiawan Kurniawan Wijaya Santoso Nugroho Firmansyah Hakim "
    "Syahputra Maulana Alfarizi Akbar Fadillah Hasibuan Siregar Nasution Lubis Harahap Tandi "
    "Palinggi Pakiding Rantelino Sambira Gunawan Prasetyo Susanto Wibowo Hermawan Rahman Ilham"
)
FEMALE_SECOND = _words(
    "Lestari Wulandari Rahmawati Puspitasari Safitri Handayani Anggraini Permatasari Ningsih "
    "Rahayu Utami Sari Ramadhani Putri Azzahra Nurjannah Amelia Oktaviani Aprilia Maharani "
    "Siregar Nasution Lubis Tandi Palinggi Pakiding Febriani Kurniasih Hasanah Fitriani"
)
# Javanese- and Bugis-style names are built from a root and an ending (Su-yanto, Har-wati):
# this gives the diversity of real given names that fixed lists lack.
ROOTS_M = _words(
    "Su Sugi Supri Sar Har Pur Mul Wid Bud Sut Kus Jum Ras Dar Sap Sam Suk Mar Tar War Bas Jam "
    "Kar Lam Mad Nas Rah Sah Tam Yan"
)
ENDS_M = _words(
    "yanto yadi jono wanto darto diman tono sono rianto man ardi adi win aryo ono udin iman "
    "sidi ruddin jaya lan mani"
)
ROOTS_F = _words(
    "Su Sri Har Pur Mul Wid Kus Jum Ras Dar Mar Sar Ros Rus Nur Has Ham Ir Er Yul Fat Jus Kas "
    "Mus Rah Sum Tas Wahy Yus Zul"
)
ENDS_F = _words(
    "yanti yati wati tini ni nah sih iyah mini riani mawati diana lina asih ani aeni miati "
    "rina ningsih dah lia ida"
)
PREFIX_M = {"Muhammad": 0.22, "Ahmad": 0.06, "Abdul": 0.04, "Andi": 0.08}
PREFIX_F = {"Siti": 0.18, "Nur": 0.07, "Sri": 0.06, "Andi": 0.06, "Dewi": 0.03}
DEGREES = [", S.Pd", ", S.E.", ", S.Sos", ", A.Md.Kep", ", S.Kom", ", S.H.", ", S.Pd.I"]
STREETS = _words(
    "Pupuk_Raya Ahmad_Yani MT_Haryono S._Parman Brigjen_Katamso KS_Tubun Cipto_Mangunkusumo "
    "Imam_Bonjol Hayam_Wuruk Gajah_Mada Bhayangkara DI_Panjaitan Sudirman Kapal_Laut Pelabuhan "
    "Selat_Makassar Awang_Long Pattimura Lok_Tuan Cumi-Cumi Kakap Tongkol Padat_Karya "
    "Soekarno-Hatta"
)
TYPO_NEIGHBOURS = {"a": "seq", "i": "uoe", "u": "iy", "e": "ri", "o": "ip", "n": "mb", "m": "n"}


@dataclass
class Household:
    id: str
    kelurahan: str
    rw: int
    rt: int
    address: str
    members: list[Person]


def _name(rng: random.Random, sex: str, born: date, family: str | None) -> str:
    if rng.random() < 0.45:
        roots, ends = (ROOTS_M, ENDS_M) if sex == "L" else (ROOTS_F, ENDS_F)
        given = rng.choice(roots) + rng.choice(ends)
    else:
        given = rng.choice(MALE if sex == "L" else FEMALE)
    parts = [given]
    for prefix, chance in (PREFIX_M if sex == "L" else PREFIX_F).items():
        if rng.random() < chance and prefix != given:
            parts.insert(0, prefix)
            break
    modern = born.year >= 2000
    if family is not None:
        parts.append(family)
    elif rng.random() < (0.75 if modern else 0.5):
        parts.append(rng.choice(MALE_SECOND if sex == "L" else FEMALE_SECOND))
    if modern and rng.random() < 0.25:
        parts.insert(-1, rng.choice(MALE if sex == "L" else FEMALE))
    name = " ".join(dict.fromkeys(parts))
    age = 2026 - born.year
    if age > 45 and rng.random() < 0.15:
        name = ("H. " if sex == "L" else "Hj. ") + name
    if 24 < age < 60 and rng.random() < 0.05:
        name += rng.choice(DEGREES)
    return name


def _birth(rng: random.Random, year: int) -> date:
    if year < 1970 and rng.random() < 0.3:  # the date was not known: placeholder days
        return date(year, *rng.choice([(1, 1), (12, 31), (7, 1)]))
    return date(year, 1, 1) + timedelta(days=rng.randrange(365))


def generate(rng: random.Random, people: int) -> list[Household]:
    codes = [a.code for a in areas().values() if a.level == "kelurahan"]
    households: list[Household] = []
    count = 0
    streets: dict[tuple[str, int, int], str] = {}
    while count < people:
        index = len(households)
        if households and rng.random() < 0.12:  # another family card in the same house
            host = rng.choice(households[-50:])
            kel, rw, rt, address = host.kelurahan, host.rw, host.rt, host.address
        else:
            kel, rw, rt = rng.choice(codes), rng.randint(1, 12), rng.randint(1, 8)
            # an RT is a few streets: most of its houses are on "its" street
            street = streets.setdefault((kel, rw, rt), rng.choice(STREETS).replace("_", " "))
            if rng.random() < 0.3:
                street = rng.choice(STREETS).replace("_", " ")
            address = f"Jl. {street} No. {rng.randint(1, 150)}"
            if rng.random() < 0.4:
                address += f" Gg. {rng.choice(FEMALE + MALE)}"
        hh = Household(f"H{index:06d}", kel, rw, rt, address, [])
        family = rng.choice(MALE_SECOND[17:27]) if rng.random() < 0.08 else None
        head_year = rng.randint(1950, 2002)
        roster: list[tuple[str, date, str | None]] = [("L", _birth(rng, head_year), family)]
        if rng.random() < 0.8:
            roster.append(("P", _birth(rng, head_year + rng.randint(-3, 8)), None))
        year = max(head_year + 20, 1975)
        for _ in range(rng.choice([0, 1, 1, 2, 2, 2, 3, 3, 4])):
            year += rng.randint(1, 4)
            if year > 2025:
                break
            born = _birth(rng, year)
            roster.append((rng.choice("LP"), born, family))
            if rng.random() < 0.015:  # twins: same day, different names
                roster.append((rng.choice("LP"), born, family))
        if rng.random() < 0.08:
            roster.append((rng.choice("LP"), _birth(rng, head_year - rng.randint(20, 30)), None))
        for sex, born, fam in roster:
            name = _name(rng, sex, born, fam)
            while any(m.name == name for m in hh.members):  # twins get different names
                name = _name(rng, sex, born, fam)
            member = _person(hh, f"M{count:07d}", name, born, sex)
            hh.members.append(member)
            count += 1
        households.append(hh)
    return households


def _person(hh: Household, member_id: str, name: str, born: date | None, sex: str) -> Person:
    code: Literal["L", "P"] = "P" if sex == "P" else "L"
    return Person(member_id, hh.id, name, born, code, hh.kelurahan, hh.rw, hh.rt, hh.address)


def _typo(rng: random.Random, name: str) -> str:
    positions = [i for i, c in enumerate(name) if c.isalpha()]
    i = rng.choice(positions[1:] or positions)
    kind = rng.choice(["sub", "del", "ins", "swap", "double"])
    c = name[i]
    if kind == "sub":
        new = rng.choice(TYPO_NEIGHBOURS.get(c.lower(), "aiueo"))
        return name[:i] + (new.upper() if c.isupper() else new) + name[i + 1 :]
    if kind == "del":
        return name[:i] + name[i + 1 :]
    if kind == "ins":
        return name[:i] + rng.choice("aiueonrh") + name[i:]
    if kind == "swap" and i + 1 < len(name) and name[i + 1].isalpha():
        return name[:i] + name[i + 1] + c + name[i + 2 :]
    return name[:i] + c + name[i:]


_VARIANTS = [
    tuple(pair.replace("_", " ").split(">"))
    for pair in _words(
        "Muhammad>M. Muhammad>Moh. Muhammad>Muh. Muhammad>Muhamad Muhammad>Mochammad Nur>Noor "
        "Siti>St. Rizki>Rizky ah_>a_ Hairul>Chairul Sitti>Siti Ahmad>Achmad "
        "Nurhayati>Nur_Hayati Azzahra>Az-Zahra Yusuf>Jusuf u>oe"
    )
]


def _perturb_name(rng: random.Random, name: str, sex: str) -> str:
    """A second record's name: 20% as typed before, 60% one change, 20% two."""
    for _ in range(rng.choice([0, 1, 1, 1, 2])):
        kind = rng.choices(["typo", "variant", "title", "swap", "upper"], [30, 30, 20, 10, 10])[0]
        parts = name.split(", ")[0].split()
        if kind == "title":
            stripped = name.removeprefix("H. ").removeprefix("Hj. ")
            titles = ["H. ", "Bpk "] if sex == "L" else ["Hj. ", "Ibu "]
            name = stripped if stripped != name else rng.choice(titles) + name
        elif kind == "swap" and len(parts) > 1 and parts[0] not in ("H.", "Hj.", "Bpk", "Ibu"):
            name = " ".join(parts[1:] + parts[:1]) + name[len(name.split(", ")[0]) :]
        elif kind == "variant":
            options = [(a, b) for a, b in _VARIANTS if a in name or b in name]
            if options:
                a, b = rng.choice(options)
                name = name.replace(a, b, 1) if a in name else name.replace(b, a, 1)
        elif kind == "upper":
            name = name.upper()
        else:
            name = _typo(rng, name)
    return name


def _perturb_date(rng: random.Random, born: date) -> date | None:
    """80% as before, 3% left empty, 7% day and month swapped, 2% two digits, 8% one digit."""
    roll = rng.random()
    if roll < 0.8:
        return born
    if roll < 0.83:
        return None
    if roll < 0.9 and born.day <= 12 and born.day != born.month:
        return date(born.year, born.day, born.month)
    digits = f"{born.year:04d}{born.month:02d}{born.day:02d}"
    for _ in range(50):
        if roll < 0.92:  # two adjacent digits typed the wrong way round
            i = rng.randrange(2, 7)
            new = digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :]
        else:  # one digit wrong: the year's last two digits less often than day and month
            i = rng.randrange(2, 4) if rng.random() < 0.3 else rng.randrange(4, 8)
            new = digits[:i] + str(rng.randrange(10)) + digits[i + 1 :]
        try:
            candidate = date(int(new[:4]), int(new[4:6]), int(new[6:]))
        except ValueError:
            continue
        if candidate != born and candidate.year <= 2026:
            return candidate
    return born


def plant(
    rng: random.Random, households: list[Household], count: int
) -> tuple[list[Person], dict[tuple[str, str], str]]:
    """Adds `count` second records of existing people: everyone, and the true pairs with
    where the second record went."""
    people = [p for hh in households for p in hh.members]
    by_rt: dict[tuple[str, int, int], list[Household]] = {}
    by_kel: dict[str, list[Household]] = {}
    for hh in households:
        by_rt.setdefault((hh.kelurahan, hh.rw, hh.rt), []).append(hh)
        by_kel.setdefault(hh.kelurahan, []).append(hh)
    index = {hh.id: hh for hh in households}
    truth: dict[tuple[str, str], str] = {}
    for n, source in enumerate(rng.sample(people, count)):
        home = index[source.household_id]
        home_place = (home.kelurahan, home.rw, home.rt)
        where = rng.random()
        name, born = source.name, source.birth_date
        if where < 0.1:  # typed twice into the same family card
            target = home
            name = name.upper() if rng.random() < 0.5 else name
        else:
            if where < 0.45:
                pool = by_rt[home_place]
            elif where < 0.85:
                pool = by_kel[home.kelurahan]
            else:
                pool = households
            # a small RT may hold no other card: then the kelurahan
            others = [hh for hh in pool if hh is not home] or [
                hh for hh in by_kel[home.kelurahan] if hh is not home
            ]
            # a grown child still on the parents' card and on their own, in the same house
            same_house = [hh for hh in others if hh.address == home.address]
            target = rng.choice(same_house if same_house and rng.random() < 0.6 else others)
            name = _perturb_name(rng, name, source.sex)
            born = _perturb_date(rng, born) if born else None
        dup = _person(target, f"D{n:07d}", name, born, source.sex)
        place = (target.kelurahan, target.rw, target.rt)
        kind = "same card" if target is home else "same RT" if place == home_place else None
        kind = kind or ("same kelurahan" if place[0] == home.kelurahan else "other kelurahan")
        people.append(dup)
        left, right = sorted((source.member_id, dup.member_id))
        truth[left, right] = kind
    rng.shuffle(people)
    return people, truth


def evaluate(found: list[Candidate], truth: dict[tuple[str, str], str], threshold: float) -> str:
    predicted = {(c.left, c.right) for c in found if c.score >= threshold}
    hits = len(predicted & truth.keys())
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return (
        f"threshold {threshold:.2f}  precision {precision:.4f}  recall {recall:.4f}  "
        f"F1 {f1:.4f}  (flagged {len(predicted)}, true {hits}, planted {len(truth)})"
    )


def machine() -> str:
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        cpu = next((line.split(":")[1].strip() for line in info if "model name" in line), "?")
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"rapidfuzz {metadata.version('rapidfuzz')}; load average before: {os.getloadavg()[0]:.2f}"
    )


def run(size: int, seed: int, rate: float, sweep: list[float], show: int) -> None:
    rng = random.Random(seed)
    planted = int(size * rate)
    households = generate(rng, size - planted)
    people, truth = plant(rng, households, planted)
    start = time.perf_counter()
    found = candidate_pairs(people, threshold=min([DEFAULT_THRESHOLD, *sweep]))
    elapsed = time.perf_counter() - start
    print(f"\n{len(people)} people in {len(households)} households, {planted} planted duplicates")
    print(f"candidate_pairs: {elapsed:.2f} s ({len(people) / elapsed:,.0f} people/s)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"peak memory of the process: {peak} MiB")
    print("default " + evaluate(found, truth, DEFAULT_THRESHOLD))
    for threshold in sweep:
        print("        " + evaluate(found, truth, threshold))
    by_id = {p.member_id: p for p in people}
    flagged = [c for c in found if c.score >= DEFAULT_THRESHOLD]
    found_pairs = {(c.left, c.right) for c in flagged}
    kinds = Counter(truth.values())
    hits = Counter(kind for pair, kind in truth.items() if pair in found_pairs)
    print(
        "recall by where the copy went: "
        + ", ".join(
            f"{kind} {hits[kind] / total:.3f} ({total})" for kind, total in sorted(kinds.items())
        )
    )
    false = [c for c in flagged if (c.left, c.right) not in truth]
    same = sum(
        name_tokens(by_id[c.left].name) == name_tokens(by_id[c.right].name)
        and by_id[c.left].birth_date == by_id[c.right].birth_date
        for c in false
    )
    print(f"false positives with the same normalised name and birth date: {same}/{len(false)}")
    missed = [pair for pair in sorted(truth) if pair not in found_pairs]
    for label, items in (("false positive", false[:show]), ("missed", missed[:show])):
        for item in items:
            left, right = (item.left, item.right) if isinstance(item, Candidate) else item
            extra = f" {item.score} {item.reasons}" if isinstance(item, Candidate) else ""
            print(f"  {label}: {_describe(by_id[left])} | {_describe(by_id[right])}{extra}")


def _describe(p: Person) -> str:
    return f"{p.name} {p.birth_date} {p.sex} {p.kelurahan_code[-7:]}/{p.rw}/{p.rt}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, nargs="+", default=[10_000, 180_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate", type=float, default=0.03, help="share of planted duplicates")
    parser.add_argument("--sweep", type=float, nargs="*", default=[0.3, 0.4, 0.6, 0.7, 0.8])
    parser.add_argument("--show", type=int, default=0, help="print N misses and false positives")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    for size in args.people:
        run(size, args.seed, args.rate, args.sweep, args.show)


if __name__ == "__main__":
    main()
