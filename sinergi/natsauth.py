"""NATS users and their permissions: each service on its own subjects, each agency on its own
deliveries, one operator for the command line.

The same users serve the embedded nats-server (`sinergi up` and the tests: random passwords
kept in the data folder) and the cluster in `deploy/` (`sinergi nats-config --deploy` writes
`deploy/nats/auth.conf`, whose passwords are environment variables). Nothing is allowed that a
user does not need; in particular

* every user subscribes only under its own inbox prefix `_INBOX.<user>`, never `_INBOX.>`,
  so nobody reads another client's replies or push deliveries;
* the JetStream API is opened subject by subject (`$JS.API.STREAM.INFO.<stream>`,
  `$JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>`, …), never `$JS.API.>`: no user but the
  operator can delete or purge a stream, read a stream's messages by number or make a
  consumer on a stream that is not its own;
* a service publishes events only on `sinergi.hh.*.<service>.>` and an agency publishes
  nothing but its own pulls and acks.
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


@dataclass(frozen=True)
class NatsUser:
    name: str
    password: str  # plain (embedded) or `$VARIABLE` (deploy: read from the environment)
    # None: not limited (the operator)
    publish: tuple[str, ...] | None = None
    subscribe: tuple[str, ...] | None = None


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
    the notifications service also forwards to the agencies and makes their durables."""
    publish = [f"{JS_API}.INFO", *_streams_declared(), subjects.service_events_filter(service)]
    for durable in durables:
        watcher = subjects.dead_letter_durable(durable)
        publish += [
            *_consumer_made(subjects.EVENTS_STREAM, durable),
            *_consumed(subjects.EVENTS_STREAM, durable),
            # its dead letters: the advisory watched, the original read, the copy kept
            *_consumer_made(subjects.ADVISORY_STREAM, watcher),
            *_consumed(subjects.ADVISORY_STREAM, watcher),
            subjects.dlq_subject(durable),
        ]
    if durables:
        publish += [
            f"{JS_API}.STREAM.MSG.GET.{subjects.EVENTS_STREAM}",
            f"{JS_API}.DIRECT.GET.{subjects.EVENTS_STREAM}",
        ]
    if service == "notifications":
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
    )


def sinergi_users(password_of: Callable[[str], str], agencies: Sequence[str]) -> list[NatsUser]:
    """Every user: the operator, the three services and one per agency of the directory."""
    from sinergi.catalogue import SERVICE_NAMES, definition

    users = [NatsUser(OPERATOR, password_of(OPERATOR))]
    for service in SERVICE_NAMES:
        users.append(
            service_user(
                service,
                password_of(service),
                durables=definition(service).durables,
                agencies=agencies,
            )
        )
    users += [agency_client(code, password_of(agency_user(code))) for code in agencies]
    return users


def authorization(users: Iterable[NatsUser]) -> str:
    """The nats-server `authorization` block for `users`."""

    def quoted(values: Iterable[str]) -> str:
        # One per line, quoted: an unquoted `$JS…` would be read as a variable.
        inner = "".join(f"\n          {json.dumps(v)}" for v in values)
        return f"[{inner}\n        ]"

    lines = ["authorization {", "  users = ["]
    for user in users:
        # A `$VARIABLE` password stays unquoted so that nats-server reads the environment.
        password = user.password if user.password.startswith("$") else json.dumps(user.password)
        entry = f"    {{ user: {json.dumps(user.name)}, password: {password}"
        if user.publish is not None and user.subscribe is not None:
            entry += (
                ",\n      permissions: {\n"
                f"        publish: {{ allow: {quoted(user.publish)} }},\n"
                f"        subscribe: {{ allow: {quoted(user.subscribe)} }}\n"
                "      }\n   "
            )
        lines.append(entry + " }")
    lines += ["  ]", "}"]
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
