"""Each agency's own NATS consumer: an agency system reads only what was forwarded to it.

The fan-out forwards every event an agency hears of to `sinergi.agency.<code>.<service>.
<event>` (stream SINERGI_AGENCY, through the outbox). Here the service makes one durable
consumer per agency of the directory (`agency-<code>`, filtered to that agency's subjects), so
an agency system that was offline for days goes on where it stopped, and credentials can
confine it to that consumer (security issue). The directory is the referrals service's
configuration file (SINERGI_DIRECTORY_FILE), read with its own loader.
"""

from __future__ import annotations

import logging

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError, BadRequestError
from sinergi_contracts import subjects

from services.referrals.directory import load
from sinergi.service import Runtime

log = logging.getLogger(__name__)


def agency_consumer(agency: str, *, ack_wait: float) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=subjects.agency_durable(agency),
        description=f"Kiriman untuk {agency} (deliveries for {agency})",
        filter_subject=subjects.agency_filter(agency),
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=ack_wait,
        max_deliver=-1,  # an agency system that is down keeps its messages until it is back
    )


async def provision_agency_consumers(runtime: Runtime) -> None:
    """Create the durable of every agency in the directory (an existing one is kept)."""
    js = runtime.jetstream()
    for code in load(runtime.settings.directory_file).agencies:
        config = agency_consumer(code, ack_wait=runtime.settings.ack_wait_seconds)
        try:
            await js.add_consumer(subjects.AGENCY_STREAM, config)
        except BadRequestError as error:  # exists with other settings, e.g. set by hand
            log.warning(
                "konsumen dinas dibiarkan dengan setelannya (agency consumer kept as it is)",
                extra={"agency": code, "reason": str(error)},
            )
        except (TimeoutError, APIError) as error:  # refused: NATS users older than the directory
            log.error(
                "konsumen dinas tidak boleh dibuat; perbarui pengguna NATS (`sinergi nats-config`)"
                " (agency consumer refused; regenerate the NATS users)",
                extra={"agency": code, "error": repr(error)},
            )
