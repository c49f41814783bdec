"""What users read for the platform's codes and times: in Indonesian, in WITA."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone

EVENTS = {
    "household_registered": "Rumah tangga didaftarkan",
    "member_added": "Anggota ditambahkan",
    "household_submitted": "Diajukan ke kelurahan",
    "household_verified": "Diverifikasi kelurahan",
    "household_returned": "Dikembalikan ke RT",
    "nik_conflict_detected": "Konflik NIK ditemukan",
    "nik_conflict_resolved": "Konflik NIK diselesaikan",
    "duplicate_suspected": "Dugaan data ganda",
    "duplicate_dismissed": "Bukan data ganda",
    "members_merged": "Data anggota digabung",
    "household_assessed": "Penilaian kemiskinan",
    "poverty_status_changed": "Status kemiskinan berubah",
    "child_measured": "Anak diukur",
    "child_stunting_detected": "Anak stunting ditemukan",
    "household_visited": "Kunjungan Tengok Tetangga",
    "kk_changed": "No. KK berganti",
    "referral_requested": "Dirujuk",
    "referral_status_changed": "Status rujukan berubah",
    "referral_overdue": "Rujukan terlambat",
    "reassessment_requested": "Penilaian ulang diminta",
}


def event_name(ce_type: str) -> str:
    """`id.go.bontang.sinergi.registry.member_added.v1` → `member_added`."""
    parts = ce_type.split(".")
    return parts[-2] if len(parts) >= 2 else ce_type


def event_label(ce_type: str) -> str:
    name = event_name(ce_type)
    return EVENTS.get(name, name)


STATUS_LABELS = {
    "requested": "diminta",
    "received": "diterima",
    "accepted": "disetujui",
    "rejected": "ditolak",
    "in-progress": "dikerjakan",
    "on-hold": "ditunda",
    "completed": "selesai",
    "failed": "gagal",
    "cancelled": "dibatalkan",
    "entered-in-error": "salah input",
}
VERIFICATION = {
    "draft": "draf RT",
    "submitted": "diajukan ke kelurahan",
    "verified": "terverifikasi",
    "returned": "dikembalikan ke RT",
}
ACTION_LABELS = {
    "receive": "terima",
    "accept": "setujui",
    "reject": "tolak",
    "start": "mulai",
    "hold": "tunda",
    "resume": "lanjutkan",
    "complete": "selesaikan",
    "fail": "gagal",
    "cancel": "batalkan",
    "mark-error": "tandai salah input",
}
WITA = timezone(timedelta(hours=8), "WITA")  # Bontang's time: what its people read


def today() -> date:
    """Today in Bontang (WITA): from 16:00 UTC on, already tomorrow's date."""
    return datetime.now(WITA).date()


def local_time(moment: str | None) -> str:
    """An API's UTC time as Bontang reads it: "29-11-2026 18:10 WITA"."""
    if not moment:
        return "–"
    parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(WITA).strftime("%d-%m-%Y %H:%M WITA")


def poverty(status: str | None) -> str:
    return status.replace("_", " ") if status else "–"


def label_in(table: dict[str, str]) -> Callable[[str], str]:
    """A template filter: a code's label in `table`, or the code itself."""
    return lambda code: table.get(code, code)
