"""One e-mail attempt over SMTP (aiosmtplib): plain text, one message per delivery.

The Message-ID is made from the delivery, so every attempt and replay of it carries the same
one and a mail system that already took it can tell the repeat.
"""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from services.notifications.webhooks import Outcome, timed_out
from sinergi.config import Settings


def message(
    *, sender: str, to: str, subject: str | None, body: str, delivery_id: int, event_id: str
) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject or "Sinergi"
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = f"<delivery-{delivery_id}.{event_id}@sinergi>"
    mail["X-Sinergi-Event-Id"] = event_id
    mail.set_content(body)
    return mail


async def send(settings: Settings, mail: EmailMessage) -> Outcome:
    """Send once; never raises for the server's faults, only reports them."""
    if settings.smtp_host is None:  # the sender does not take e-mail then; kept as a guard
        return Outcome("error", None, "SMTP belum diatur (no SMTP server configured)")
    timeout = settings.delivery_timeout_seconds
    try:
        async with asyncio.timeout(timeout):
            await aiosmtplib.send(
                mail,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_username,
                password=settings.smtp_password,
                start_tls=settings.smtp_starttls,
                timeout=timeout,
            )
    except (TimeoutError, aiosmtplib.SMTPTimeoutError):
        return Outcome("timeout", None, timed_out(timeout))
    except aiosmtplib.SMTPResponseException as error:
        return Outcome("error", error.code, f"SMTP {error.code}: {error.message}"[:500])
    except (aiosmtplib.SMTPException, OSError) as error:
        return Outcome("error", None, f"{type(error).__name__}: {error}"[:500])
    return Outcome("ok", 250)
