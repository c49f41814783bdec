"""Events the registry publishes about households."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from sinergi_contracts.events import Event, register


@register
class HouseholdRegistered(Event):
    """A Ketua RT registered a household of the RT (rumah tangga didaftarkan)."""

    service: ClassVar[str] = "registry"
    name: ClassVar[str] = "household_registered"

    kelurahan_code: str = Field(description="Kemendagri code of the kelurahan, e.g. 64.74.01.1001")
    rw: int = Field(ge=1)
    rt: int = Field(ge=1)
    address: str
    head_name: str = Field(description="Name of the head of household (kepala keluarga)")
    registered_at: datetime
