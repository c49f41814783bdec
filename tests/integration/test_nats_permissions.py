"""NATS security against a real nats-server, configured as `sinergi up` configures it: each
service and each agency system is refused outside its own subjects, `_INBOX.>` and `$JS.API.>`
abuse included, and what it may do still works."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from nats.errors import Error as NatsError
from sinergi_contracts import subjects

from sinergi.natsserver import NatsServer
from sinergi.streams import settings_differ, stream_configs
from tests.integration.test_referrals import known_household, refer
from tests.system import eventually, last_message, start_system

pytestmark = pytest.mark.integration

VIOLATION = "permissions violation"  # as nats-py reports the server's -ERR
HH = "0b8e1a4e-3f0a-4c55-9d8e-3d1f1d7a2c11"  # any household id
EVENTS, AGENCY = subjects.EVENTS_STREAM, subjects.AGENCY_STREAM


@dataclass
class Session:
    """One user's connection, with the errors the server sent it."""

    nc: Client
    errors: asyncio.Queue[Exception]

    async def refused(self, attempt: Attempt) -> str | None:
        """The server's violation message naming `attempt`'s subject, or None if it was let
        through (a violation about anything else, e.g. the reply inbox, does not count)."""
        while not self.errors.empty():
            self.errors.get_nowait()
        with contextlib.suppress(NatsError, TimeoutError):  # a refused request times out
            await attempt(self.nc)
        with contextlib.suppress(NatsError, TimeoutError):
            await self.nc.flush(timeout=2)
        try:
            error = await asyncio.wait_for(self.errors.get(), timeout=2)
        except TimeoutError:
            return None
        said = str(error).lower()
        named = f'"{attempt.subject.lower()}"' in said
        return str(error) if VIOLATION in said and named else None


@contextlib.asynccontextmanager
async def session(server: NatsServer, user: str) -> AsyncIterator[Session]:
    errors: asyncio.Queue[Exception] = asyncio.Queue()

    async def on_error(error: Exception) -> None:
        errors.put_nowait(error)

    nc = await nats.connect(
        server.url,
        user=user,
        password=server.password_of(user),
        inbox_prefix=subjects.inbox_prefix(user),
        error_cb=on_error,
        allow_reconnect=False,
    )
    try:
        yield Session(nc, errors)
    finally:
        await nc.close()


@dataclass(frozen=True)
class Attempt:
    """Publish on, subscribe to, or make a request of one subject."""

    kind: str
    subject: str

    async def __call__(self, nc: Client) -> Any:
        if self.kind == "sub":
            return await nc.subscribe(self.subject)
        if self.kind == "api":
            return await nc.request(self.subject, b"", timeout=1)
        return await nc.publish(self.subject, b"{}")


def pub(subject: str) -> Attempt:
    return Attempt("pub", subject)


def sub(subject: str) -> Attempt:
    return Attempt("sub", subject)


def api(subject: str) -> Attempt:
    return Attempt("api", subject)


# (user, what it tries, the attempt): every one must be refused by the server.
ABUSE: list[tuple[str, str, Attempt]] = [
    # A service forging another's events, snooping, or managing what is not its own.
    ("registry", "forge a referrals event", pub(f"sinergi.hh.{HH}.referrals.referral_requested")),
    ("registry", "write an agency's deliveries", pub("sinergi.agency.baznas.x.y")),
    ("registry", "read every reply", sub("_INBOX.>")),
    ("registry", "read the referrals' replies", sub("_INBOX.referrals.>")),
    ("registry", "read household events raw", sub("sinergi.hh.>")),
    ("registry", "the whole JetStream API", sub("$JS.API.>")),
    ("registry", "delete the event stream", api(f"$JS.API.STREAM.DELETE.{EVENTS}")),
    ("registry", "purge the event stream", api(f"$JS.API.STREAM.PURGE.{EVENTS}")),
    ("registry", "shrink the event stream's limits", api(f"$JS.API.STREAM.UPDATE.{EVENTS}")),
    ("notifications", "change the agency stream", api(f"$JS.API.STREAM.UPDATE.{AGENCY}")),
    ("registry", "read events by number", api(f"$JS.API.STREAM.MSG.GET.{EVENTS}")),
    ("registry", "list the streams", api("$JS.API.STREAM.LIST")),
    (
        "referrals",
        "a consumer on the agency stream",
        api(f"$JS.API.CONSUMER.CREATE.{AGENCY}.spy.sinergi.agency.>"),
    ),
    (
        "referrals",
        "pull the notifications' durable",
        api(f"$JS.API.CONSUMER.MSG.NEXT.{EVENTS}.{subjects.INBOX_DURABLE}"),
    ),
    ("referrals", "delete a consumer", api(f"$JS.API.CONSUMER.DELETE.{EVENTS}.registry")),
    ("referrals", "forge a registry event", pub(f"sinergi.hh.{HH}.registry.household_verified")),
    ("notifications", "read the agency stream", api(f"$JS.API.STREAM.MSG.GET.{AGENCY}")),
    ("notifications", "read every reply", sub("_INBOX.>")),
    ("notifications", "delete the DLQ", api(f"$JS.API.STREAM.DELETE.{subjects.DLQ_STREAM}")),
    # An agency system outside its own deliveries.
    ("agency-baznas", "read every reply", sub("_INBOX.>")),
    ("agency-baznas", "read dspm's replies", sub("_INBOX.agency-dspm.>")),
    ("agency-baznas", "the whole JetStream API", sub("$JS.API.>")),
    ("agency-baznas", "dspm's deliveries, live", sub("sinergi.agency.dspm.>")),
    ("agency-baznas", "household events, live", sub("sinergi.hh.>")),
    (
        "agency-baznas",
        "pull dspm's durable",
        api(f"$JS.API.CONSUMER.MSG.NEXT.{AGENCY}.{subjects.agency_durable('dspm')}"),
    ),
    ("agency-baznas", "ack dspm's deliveries", pub(f"$JS.ACK.{AGENCY}.agency-dspm.1.1.1.1.0")),
    (
        "agency-baznas",
        "a consumer on every household",
        api(f"$JS.API.CONSUMER.CREATE.{EVENTS}.mine.sinergi.hh.>"),
    ),
    (
        "agency-baznas",
        "a consumer on dspm's deliveries",
        api(f"$JS.API.CONSUMER.CREATE.{AGENCY}.mine.sinergi.agency.dspm.>"),
    ),
    ("agency-baznas", "stream info", api(f"$JS.API.STREAM.INFO.{EVENTS}")),
    ("agency-baznas", "read events by number", api(f"$JS.API.DIRECT.GET.{EVENTS}")),
    ("agency-baznas", "delete its own stream", api(f"$JS.API.STREAM.DELETE.{AGENCY}")),
    (
        "agency-baznas",
        "delete its own durable",
        api(f"$JS.API.CONSUMER.DELETE.{AGENCY}.{subjects.agency_durable('baznas')}"),
    ),
    ("agency-baznas", "forge a referral to itself", pub("sinergi.agency.baznas.referrals.x")),
    ("agency-baznas", "forge a household event", pub(f"sinergi.hh.{HH}.registry.x")),
    ("agency-baznas", "write a dead letter", pub("sinergi.dlq.referrals-timeline")),
]


async def test_every_service_and_agency_is_refused_outside_its_subjects(
    settings_for: Any, nats_server: NatsServer
) -> None:
    async with start_system(settings_for):  # the streams and durables exist, as in use
        let_through: list[str] = []
        for user, what, attempt in ABUSE:
            async with session(nats_server, user) as as_user:
                if await as_user.refused(attempt) is None:
                    let_through.append(f"{user}: {what}")
        print(f"\nNATS abuse: {len(ABUSE)} attempts, {len(let_through)} succeeded")
        assert let_through == []
        # Refused means without effect: the streams are all still there, nothing purged.
        async with session(nats_server, "operator") as operator:
            js = operator.nc.jetstream()
            for stream in (EVENTS, AGENCY, subjects.DLQ_STREAM):
                await js.stream_info(stream)


async def test_an_agency_reads_and_acks_its_own_deliveries_without_a_violation(
    settings_for: Any, nats_server: NatsServer
) -> None:
    """The other half: the permissions are not simply closed. (The example client does the
    same end to end in test_notifications.)"""
    async with start_system(settings_for) as system:
        household_id = await known_household(system)
        await refer(system, household_id, "baznas-zakat-produktif")
        async with session(nats_server, "agency-baznas") as baznas:
            js = baznas.nc.jetstream()
            pull = await js.pull_subscribe_bind(subjects.agency_durable("baznas"), AGENCY)
            messages = await pull.fetch(1, timeout=20)
            assert messages[0].subject.startswith("sinergi.agency.baznas.")
            await messages[0].ack()
            await baznas.nc.flush()
            assert baznas.errors.empty()


@pytest.mark.parametrize("password", [None, "wrong"])
async def test_a_client_without_the_right_password_cannot_connect(
    nats_server: NatsServer, password: str | None
) -> None:
    said: list[str] = []

    async def on_error(error: Exception) -> None:
        said.append(str(error).lower())

    with pytest.raises((NatsError, OSError, TimeoutError)):
        await nats.connect(
            nats_server.url,
            user=None if password is None else "registry",
            password=password,
            allow_reconnect=False,
            max_reconnect_attempts=0,
            connect_timeout=2,
            error_cb=on_error,
        )
    assert any("authorization" in s for s in said), said  # refused for that, not by chance


async def test_a_service_leaves_streams_as_they_are_when_their_settings_match(
    settings_for: Any, nats_server: NatsServer
) -> None:
    """Services may not update a stream, so they must not try when nothing differs (a refused
    update would hold each start for the request's timeout)."""
    async with (
        start_system(settings_for, services=("registry",)),
        session(nats_server, "operator") as operator,
    ):
        js = operator.nc.jetstream()
        for config in stream_configs(settings_for("registry")):
            assert config.name is not None
            assert not settings_differ((await js.stream_info(config.name)).config, config)


async def test_an_agency_cannot_have_its_deliveries_written_into_sinergi_subjects(
    settings_for: Any, nats_server: NatsServer
) -> None:
    """In one account a client picks the reply subject of its requests and the server answers
    there: a pull asking for its next message "reply to sinergi.hh.…" would write the agency's
    delivery into the event stream. Each agency has an account of its own, so it cannot."""
    async with start_system(settings_for) as system:
        household_id = await known_household(system)
        await refer(system, household_id, "baznas-zakat-produktif")
        async with session(nats_server, "operator") as operator:
            js = operator.nc.jetstream()
            delivery = subjects.agency_subject("baznas", "referrals", "referral_requested")
            await eventually(lambda: last_message(js, AGENCY, delivery), lambda m: m is not None)
            before = {stream: await _count(js, stream) for stream in (EVENTS, AGENCY)}
            targets = (
                f"sinergi.hh.{household_id}.registry.household_verified",
                subjects.agency_subject("dspm", "referrals", "referral_requested"),
            )
            async with session(nats_server, "agency-baznas") as baznas:
                for target in targets:
                    await baznas.nc.publish(
                        f"$JS.API.CONSUMER.MSG.NEXT.{AGENCY}.agency-baznas",
                        b'{"batch": 1}',
                        reply=target,
                    )
                await baznas.nc.flush()
                await asyncio.sleep(1.0)  # an answer would have been stored by now
            assert {stream: await _count(js, stream) for stream in before} == before
            for seq in range(1, before[EVENTS] + 1):
                assert (await js.get_msg(EVENTS, seq)).subject.startswith("sinergi.hh.")


async def _count(js: Any, stream: str) -> int:
    return int((await js.stream_info(stream)).state.messages)
