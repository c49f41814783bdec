"""What a recipient reads: one Jinja template per event type and language, a block per channel.

`templates/<language>/<event name>.txt` extends `_base.txt` and fills `title` and `body` (the
inbox and the digest); the e-mail subject and body follow from them unless the template
fills `email_subject` / `email_body` too. Bahasa Indonesia first; English where asked.

Templates see the event as its recipient may: the event itself carries no NIK (only its last
four digits) and no health detail beyond a category, and each audience is sent only the
events that concern it (domain.audiences).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Final, Literal

import jinja2
from sinergi_contracts import Event

from services.notifications.domain import Party, Place

Language = Literal["id", "en"]
LANGUAGES: Final[tuple[Language, ...]] = ("id", "en")
TEMPLATES: Final = Path(__file__).parent / "templates"
WITA: Final = timezone(timedelta(hours=8), "WITA")  # Bontang's time zone
# Between the four blocks `_base.txt` lays out (ASCII record separator: never in a text).
_SEPARATOR: Final = "\x1e"

_STATUS: Final[dict[str, tuple[str, str]]] = {
    "requested": ("diminta", "requested"),
    "received": ("diterima masuk", "received"),
    "accepted": ("disetujui", "accepted"),
    "rejected": ("ditolak", "rejected"),
    "in-progress": ("sedang dilayani", "in progress"),
    "on-hold": ("ditunda", "on hold"),
    "completed": ("selesai", "completed"),
    "failed": ("gagal", "failed"),
    "cancelled": ("dibatalkan", "cancelled"),
    "entered-in-error": ("salah input", "entered in error"),
}
_ROLE: Final[dict[str, tuple[str, str]]] = {
    "rt": ("Ketua RT", "the RT head"),
    "lurah": ("lurah", "the lurah"),
    "camat": ("camat", "the camat"),
    "agency_head": ("kepala dinas", "the agency head"),
    "coordinator": ("koordinator kota", "the city coordinator"),
}


@dataclass(frozen=True)
class Notice:
    title: str
    body: str
    email_subject: str = ""  # rendered only when asked for (`with_email`)
    email_body: str = ""


@cache
def _environment(language: Language) -> jinja2.Environment:
    index = LANGUAGES.index(language)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES / language),
        undefined=jinja2.StrictUndefined,  # a field a template misspells fails its test
        autoescape=False,  # plain text: inbox, SMTP text/plain, JSON strings
        keep_trailing_newline=False,
        auto_reload=False,  # shipped files: no stat() per render
    )
    env.filters["status"] = lambda value: _STATUS.get(value, (value, value))[index]
    env.filters["peran"] = lambda value: _ROLE.get(value, (value, value))[index]
    env.filters["waktu"] = _local_time
    return env


def _local_time(moment: datetime) -> str:
    return moment.astimezone(WITA).strftime("%d-%m-%Y %H:%M WITA")


def _template(env: jinja2.Environment, name: str) -> jinja2.Template:
    try:
        return env.get_template(f"{name}.txt")
    except jinja2.TemplateNotFound:
        return env.get_template("_base.txt")


def render(
    event: Event,
    *,
    place: Place | None,
    party: Party | None,
    language: Language = "id",
    with_email: bool = True,
) -> Notice:
    template = _template(_environment(language), event.name)
    text = template.render(
        event=event, place=place, party=party, SEP=_SEPARATOR, with_email=with_email
    )
    parts = [part.strip() for part in text.split(_SEPARATOR)]
    title, body = parts[0][:300], parts[1]
    if not with_email:
        return Notice(title, body)
    return Notice(title, body, email_subject=parts[2][:300], email_body=parts[3])
