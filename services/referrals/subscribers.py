"""What the referrals service listens to."""

from __future__ import annotations

from sinergi_contracts import subjects

from services.referrals.handlers import project_timeline
from sinergi.service import Runtime
from sinergi.subscribers import add_batch_subscriber


def register(runtime: Runtime) -> None:
    add_batch_subscriber(
        runtime,
        durable=subjects.TIMELINE_DURABLE,
        filter_subject=f"{subjects.PREFIX}.hh.>",
        apply=project_timeline,
        title="referrals/timeline",
        description=(
            "Linimasa kasus: setiap event rumah tangga dari semua layanan, urut stream. "
            "(Case timeline: every household event from every service, in stream order.)"
        ),
    )
