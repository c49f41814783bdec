"""Follow one agency's referrals from Sinergi over NATS: nats-py and the contracts package only.

    NATS_PASSWORD=… python contracts/examples/agency_client.py --nats nats://127.0.0.1:4222 \
        --agency baznas --user agency-baznas

Sinergi forwards every event an agency hears of (referrals addressed to it and their changes,
their overdue escalations) to `sinergi.agency.<agency>.<service>.<event>` in the stream
SINERGI_AGENCY, and keeps a durable consumer `agency-<agency>` for it. This client binds to that
durable, so it goes on where it stopped after a restart; it acknowledges a message only after
handling it (at-least-once: de-duplicate on the CloudEvents id, `envelope.id`). Each event is
printed as one JSON line; an agency system would create its own case instead.

On a secured server (the default) the agency connects as its own user, `agency-<agency>`, with
the password in NATS_PASSWORD; that user may pull and ack its durable and nothing else, and
receives its replies under `_INBOX.agency-<agency>` only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

import nats
from nats.errors import TimeoutError as NatsTimeout
from sinergi_contracts import Envelope, EnvelopeError, subjects


def handle(envelope: Envelope) -> None:
    """What the agency system does with one event: here, print it."""
    line = {
        "id": envelope.id,
        "type": envelope.attributes.type,
        "household_id": str(envelope.event.household_id),
        "data": json.loads(envelope.data()),
    }
    print(json.dumps(line, ensure_ascii=False), flush=True)


async def follow(
    url: str, agency: str, *, user: str | None, count: int | None, idle: float | None
) -> int:
    """Handle events until `count` were handled or nothing came for `idle` seconds."""
    if user:
        nc = await nats.connect(
            url,
            user=user,
            password=os.environ.get("NATS_PASSWORD", ""),
            inbox_prefix=subjects.inbox_prefix(user),
        )
    else:  # an open server
        nc = await nats.connect(url)
    handled = 0
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe_bind(
            durable=subjects.agency_durable(agency), stream=subjects.AGENCY_STREAM
        )
        waited = 0.0
        while count is None or handled < count:
            try:
                messages = await sub.fetch(batch=50, timeout=1.0)
            except NatsTimeout:
                waited += 1.0
                if idle is not None and waited >= idle:
                    break
                continue
            waited = 0.0
            for msg in messages:
                try:
                    envelope = Envelope.from_message(msg.headers, msg.data)
                except EnvelopeError as error:  # a newer event type: skip it, say so
                    print(f"lewati (skipped): {error}", file=sys.stderr)
                else:
                    handle(envelope)
                    handled += 1
                await msg.ack()
    finally:
        await nc.close()
    return handled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    parser.add_argument("--agency", required=True, help="e.g. baznas, dspm, puskesmas")
    parser.add_argument("--user", default=None, help="NATS user, e.g. agency-baznas")
    parser.add_argument("--count", type=int, default=None, help="stop after this many")
    parser.add_argument("--idle", type=float, default=None, help="stop after so many quiet s")
    args = parser.parse_args()
    asyncio.run(follow(args.nats, args.agency, user=args.user, count=args.count, idle=args.idle))


if __name__ == "__main__":
    main()
