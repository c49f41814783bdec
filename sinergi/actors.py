"""Who is calling: `agency:<code>`, `kelurahan:<code>`, `coordinator:<name>`.

Until sign-in lands (the security issue) the caller names itself in the `X-Sinergi-Actor`
header; the services check every rule against it, so only this function changes when the
name comes from a verified token instead.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from fastapi import Header

from sinergi.errors import problem

ACTOR: Final = re.compile(r"^(agency|kelurahan|coordinator):[A-Za-z0-9._\- ]{1,100}$")


def current_actor(
    x_sinergi_actor: Annotated[
        str | None,
        Header(
            description="Pelaku: agency:<kode>, kelurahan:<kode> atau coordinator:<nama> "
            "(the caller, until sign-in exists)",
            examples=["agency:dspm"],
        ),
    ] = None,
) -> str:
    if x_sinergi_actor is None:
        raise problem(
            401,
            "header X-Sinergi-Actor wajib: siapa yang melakukan ini "
            "(the X-Sinergi-Actor header is required: who is doing this)",
        )
    if not ACTOR.match(x_sinergi_actor):
        raise problem(
            401,
            "X-Sinergi-Actor harus agency:<kode>, kelurahan:<kode> atau coordinator:<nama> "
            "(X-Sinergi-Actor must be agency:<code>, kelurahan:<code> or coordinator:<name>)",
        )
    return x_sinergi_actor
