"""E-mail deliveries over SMTP, sent by the real sender to a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from services.notifications import sending
from sinergi.natsserver import free_port
from tests.integration.test_webhooks import (
    attempts_of,
    delivery_states,
    migrated,
    queue,
    sender,
    subscribe,
)
from tests.system import eventually

pytestmark = pytest.mark.integration

SUBJECT = "[Sinergi] Rujukan baru: baznas-zakat-produktif"
BODY = "Rujukan baru untuk BAZNAS: keluarga di Loktuan, RT 7.\nBuka Sinergi untuk menindaklanjuti."


@dataclass
class Mailbox:
    """What the SMTP server took; `refuse_first` answers 451 (try later) that many times."""

    refuse_first: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse_first > 0:
            self.refuse_first -= 1
            return "451 4.3.0 Coba lagi nanti (try again later)"
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


@contextlib.contextmanager
def smtp_server(mailbox: Mailbox) -> Iterator[int]:
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


async def test_an_email_arrives_with_its_subject_and_body(settings_for: Any) -> None:
    mailbox = Mailbox()
    with smtp_server(mailbox) as port:
        settings = await migrated(settings_for, smtp_host="127.0.0.1", smtp_port=port)
        async with sender(settings) as engine:
            sub = await subscribe(
                engine, owner="agency:baznas", target="sekretariat@baznas.example", channel="email"
            )
            (event_id,) = await queue(
                engine, sub, 1, owner="agency:baznas", target="sekretariat@baznas.example",
                channel="email", subject=SUBJECT, body=BODY,
            )  # fmt: skip
            await eventually(lambda: delivery_states(engine, sub), lambda s: s == {"delivered": 1})
            log = await attempts_of(engine, event_id)

    (mail,) = mailbox.messages
    assert mail["Subject"] == SUBJECT
    assert mail["To"] == "sekretariat@baznas.example"
    assert mail["From"] == settings.smtp_sender
    assert mail["X-Sinergi-Event-Id"] == event_id
    assert event_id in mail["Message-ID"]
    body = mail.get_body(("plain",))
    assert body is not None
    assert body.get_content().replace("\r\n", "\n").strip() == BODY  # SMTP lines end CRLF
    assert mailbox.envelopes == [("sinergi@localhost", ["sekretariat@baznas.example"])]
    assert [(a.attempt, a.outcome, a.status_code) for a in log] == [(1, "ok", 250)]


async def test_a_server_saying_try_later_gets_the_email_on_the_next_attempt(
    settings_for: Any,
) -> None:
    mailbox = Mailbox(refuse_first=1)
    with smtp_server(mailbox) as port:
        settings = await migrated(settings_for, smtp_host="127.0.0.1", smtp_port=port)
        async with sender(settings) as engine:
            sub = await subscribe(engine, owner="kelurahan:64.74.01.1001", target="lurah@x.example",
                                  channel="email")  # fmt: skip
            (event_id,) = await queue(
                engine, sub, 1, owner="kelurahan:64.74.01.1001", target="lurah@x.example",
                channel="email", subject=SUBJECT, body=BODY,
            )  # fmt: skip
            await eventually(lambda: delivery_states(engine, sub), lambda s: s == {"delivered": 1})
            log = await attempts_of(engine, event_id)

    assert len(mailbox.messages) == 1
    assert [(a.attempt, a.outcome, a.status_code) for a in log] == [
        (1, "error", 451),
        (2, "ok", 250),
    ]
    assert "451" in log[0].error


async def test_without_an_smtp_server_email_waits_and_says_so_once(
    settings_for: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Looked for every 0.1 s instead of every minute: the sender's first look may come before
    # the subscription exists, and "once" must hold over several looks.
    monkeypatch.setattr(sending, "SMTP_CHECK_SECONDS", 0.1)
    settings = await migrated(settings_for, smtp_host=None)
    caplog.set_level(logging.WARNING, logger="services.notifications.sending")
    async with sender(settings) as engine:
        sub = await subscribe(engine, owner="agency:dspm", target="dspm@x.example", channel="email")
        (event_id,) = await queue(
            engine, sub, 1, owner="agency:dspm", target="dspm@x.example", channel="email",
            subject=SUBJECT, body=BODY,
        )  # fmt: skip
        await asyncio.sleep(0.5)  # ten polls
        assert await delivery_states(engine, sub) == {"pending": 1}
        assert await attempts_of(engine, event_id) == []
    warnings = [r for r in caplog.records if "SMTP" in r.getMessage()]
    assert len(warnings) == 1
