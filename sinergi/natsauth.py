"""NATS users and their permissions: each service on its own subjects, each agency on its own
deliveries, one operator for the command line.

The same users serve the embedded nats-server (`sinergi up` and the tests: random passwords
kept in the data folder) and the cluster in `deploy/` (`sinergi nats-config` writes
`deploy/nats/auth.conf`, whose passwords are environment variables). Nothing is allowed that a
user does not need; in particular

* every user subscribes only under its own inbox prefix `_INBOX.<user>`, never `_INBOX.>`,
  so nobody reads another client's replies or push deliveries;
* the JetStream API is opened subject by subject (`$JS.API.STREAM.INFO.<stream>`,
  `$JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>`, …), never `$JS.API.>`: no user but the
  operator can change, delete or purge a stream or make a consumer on a stream that is not
  its own; only a service that consumes every household event reads that stream by number;
* a service publishes events only on `sinergi.hh.*.<service>.>` and an agency publishes
  nothing but its own pulls and acks;
* each agency system is in a NATS account of its own, let in on its durable only: it cannot
  name a reply subject that makes the server write into Sinergi's streams (SINERGI_ACCOUNT).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sinergi_contracts import subjects

JS_API = "$JS.API"
OPERATOR = "operator"  # the command line (dead letters, rebuild) and the tests: no limits
# The services, the operator and JetStream live in one account; each agency system in its own,
# let in on its durable's subjects only (service imports). Within one account a client picks
# the reply subject of its requests and the server answers there: an agency asking for its
# next message with a reply subject of `sinergi.hh.…` would have its delivery written into
# the event stream. In an account of its own, the answer can only land in that account.
SINERGI_ACCOUNT = "SINERGI"


@dataclass(frozen=True)
class NatsUser:
    name: str
    password: str  # plain (embedded) or `$VARIABLE` (deploy: read from the environment)
    # None: not limited (the operator)
    publish: tuple[str, ...] | None = None
    subscribe: tuple[str, ...] | None = None
    # Outside SINERGI_ACCOUNT, what the user may publish is imported from it, nothing more.
    account: str = SINERGI_ACCOUNT


def agency_user(agency: str) -> str:
    return subjects.agency_durable(agency)  # `agency-<code>`, like its durable consumer


def _streams_declared() -> list[str]:
    """Each service declares the streams when it starts: it may look them up and create a
    missing one, not change one (a smaller limit would purge it); the operator updates."""
    streams = (
        subjects.EVENTS_STREAM,
        subjects.AGENCY_STREAM,
        subjects.DLQ_STREAM,
        subjects.ADVISORY_STREAM,
    )
    return [f"{JS_API}.STREAM.{verb}.{stream}" for stream in streams for verb in ("INFO", "CREATE")]


def _consumer_made(stream: str, durable: str) -> list[str]:
    """Create (either API form) and look up one named durable of `stream`."""
    return [
        f"{JS_API}.CONSUMER.CREATE.{stream}.{durable}",
        f"{JS_API}.CONSUMER.CREATE.{stream}.{durable}.>",  # with its filter subject
        f"{JS_API}.CONSUMER.DURABLE.CREATE.{stream}.{durable}",
        f"{JS_API}.CONSUMER.INFO.{stream}.{durable}",
    ]


def _consumed(stream: str, durable: str) -> list[str]:
    """Pull from and acknowledge one durable of `stream`."""
    return [
        f"{JS_API}.CONSUMER.MSG.NEXT.{stream}.{durable}",
        f"$JS.ACK.{stream}.{durable}.>",
    ]


def service_user(
    service: str, password: str, *, durables: Sequence[str], agencies: Iterable[str] = ()
) -> NatsUser:
    """A service: its own events out, its durables in, its dead letters, the streams declared;
    given `agencies` (it forwards to them: notifications), their subjects and durables too."""
    publish = [f"{JS_API}.INFO", *_streams_declared(), subjects.service_events_filter(service)]
    for durable in durables:
        watcher = subjects.dead_letter_durable(durable)
        publish += [
            *_consumer_made(subjects.EVENTS_STREAM, durable),
            *_consumed(subjects.EVENTS_STREAM, durable),
            # its dead letters: the advisory watched, the original read, the copy kept
            *_consumer_made(subjects.ADVISORY_STREAM, watcher),
            f"$JS.ACK.{subjects.ADVISORY_STREAM}.{watcher}.>",  # a push consumer: acks only
            subjects.dlq_subject(durable),
        ]
    if durables:
        # The exhausted message, by its sequence: a service that consumes every household
        # event anyway reads nothing new this way.
        publish.append(f"{JS_API}.STREAM.MSG.GET.{subjects.EVENTS_STREAM}")
    if agencies:
        publish.append(f"{subjects.PREFIX}.agency.>")
        for agency in agencies:
            publish += _consumer_made(subjects.AGENCY_STREAM, subjects.agency_durable(agency))
    return NatsUser(
        name=service,
        password=password,
        publish=tuple(dict.fromkeys(publish)),
        subscribe=(f"{subjects.inbox_prefix(service)}.>",),
    )


def agency_client(agency: str, password: str) -> NatsUser:
    """An agency system: pulls and acks its own durable `agency-<code>`, nothing else."""
    name = agency_user(agency)
    durable = subjects.agency_durable(agency)
    return NatsUser(
        name=name,
        password=password,
        publish=(
            f"{JS_API}.CONSUMER.INFO.{subjects.AGENCY_STREAM}.{durable}",
            *_consumed(subjects.AGENCY_STREAM, durable),
        ),
        subscribe=(f"{subjects.inbox_prefix(name)}.>",),
        account="AGENCY_" + agency.upper().replace("-", "_"),
    )


def sinergi_users(password_of: Callable[[str], str], agencies: Sequence[str]) -> list[NatsUser]:
    """Every user: the operator, the three services and one per agency of the directory."""
    from sinergi.catalogue import SERVICE_NAMES, definition

    users = [NatsUser(OPERATOR, password_of(OPERATOR))]
    for service in SERVICE_NAMES:
        found = definition(service)
        users.append(
            service_user(
                service,
                password_of(service),
                durables=found.durables,
                agencies=agencies if found.forwards_to_agencies else (),
            )
        )
    users += [agency_client(code, password_of(agency_user(code))) for code in agencies]
    return users


def authorization(users: Iterable[NatsUser]) -> str:
    """The nats-server `accounts` block for `users`: the SINERGI account (JetStream, the
    services, the operator) exporting each agency's durable subjects to that agency's own
    account, which imports them."""

    def quoted(values: Iterable[str], indent: str) -> str:
        # One per line, quoted: an unquoted `$JS…` would be read as a variable.
        inner = "".join(f"\n{indent}  {json.dumps(v)}" for v in values)
        return f"[{inner}\n{indent}]"

    def entry(user: NatsUser) -> str:
        # A `$VARIABLE` password stays unquoted so that nats-server reads the environment.
        password = user.password if user.password.startswith("$") else json.dumps(user.password)
        text = f"      {{ user: {json.dumps(user.name)}, password: {password}"
        if user.publish is not None and user.subscribe is not None:
            text += (
                ",\n        permissions: {\n"
                f"          publish: {{ allow: {quoted(user.publish, '          ')} }},\n"
                f"          subscribe: {{ allow: {quoted(user.subscribe, '          ')} }}\n"
                "        }\n     "
            )
        return text + " }"

    accounts: dict[str, list[NatsUser]] = {}
    for user in users:
        accounts.setdefault(user.account, []).append(user)
    lines = ["accounts {"]
    for account, members in accounts.items():
        lines.append(f"  {account} {{")
        if account == SINERGI_ACCOUNT:
            lines.append("    jetstream: enabled")
        lines.append("    users = [")
        lines += [entry(user) for user in members]
        lines.append("    ]")
        if account == SINERGI_ACCOUNT:
            lines.append("    exports = [")
            for other in accounts:
                for user in accounts[other] if other != SINERGI_ACCOUNT else ():
                    for subject in user.publish or ():
                        # A pull is answered with many messages: a stream of responses.
                        many = ', response_type: "stream"' if ".MSG.NEXT." in subject else ""
                        lines.append(
                            f"      {{ service: {json.dumps(subject)}, "
                            f"accounts: [{json.dumps(other)}]{many} }}"
                        )
            lines.append("    ]")
        else:
            lines.append("    imports = [")
            for user in members:
                lines += [
                    f"      {{ service: {{ account: {json.dumps(SINERGI_ACCOUNT)}, "
                    f"subject: {json.dumps(subject)} }} }}"
                    for subject in user.publish or ()
                ]
            lines.append("    ]")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def deployed_auth(users: Iterable[NatsUser]) -> str:
    """deploy/nats/auth.conf: the block for `users`, their passwords `$NATS_PASSWORD_<USER>`."""
    return (
        "# Generated by `sinergi nats-config` from the services and the agency directory: do not\n"
        "# edit; run `sinergi nats-config > deploy/nats/auth.conf` after adding an agency (a test\n"
        "# checks it). Each password comes from the node's environment (NATS_PASSWORD_<USER>):\n"
        "# see deploy/README.md.\n\n" + authorization(users)
    )


def password_variable(user: str) -> str:
    """The environment variable the deployed config reads `user`'s password from."""
    return "$NATS_PASSWORD_" + user.upper().replace("-", "_")


class EmbeddedPasswords:
    """Random passwords, made once per data folder and kept there (owner-only file)."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self._known: dict[str, str] = (
            json.loads(file.read_text(encoding="utf-8")) if file.exists() else {}
        )

    def __call__(self, user: str) -> str:
        if user not in self._known:
            self._known[user] = secrets.token_urlsafe(24)
            self._save()
        return self._known[user]

    def _save(self) -> None:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(self._known, out, indent=2)


def embedded_users(password_file: Path, directory_file: Path | None = None) -> list[NatsUser]:
    """The users of an embedded nats-server, passwords kept in `password_file`."""
    from services.referrals.directory import load

    agencies = list(load(directory_file).agencies)
    return sinergi_users(EmbeddedPasswords(password_file), agencies)


def connect_options(user: str | None, password: str | None) -> dict[str, Any]:
    """nats-py / FastStream connection options for `user` (none: an open server)."""
    if not user:
        return {}
    return {"user": user, "password": password or "", "inbox_prefix": subjects.inbox_prefix(user)}
