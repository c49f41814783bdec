"""The sender's rules that need no network: retry schedule, signing, outcomes, messages."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from services.notifications import delivery_log, email, webhooks
from services.notifications.subscriptions import new_secret

SCHEDULE = (5.0, 30.0, 120.0)
PAYLOAD = json.dumps(
    {"type": "id.sinergi.referrals.referral_requested.v1", "timestamp": "2026-11-29T05:00:00Z",
     "data": {"programme": "baznas-zakat-produktif", "catatan": "anak gizi kurang"}},
    ensure_ascii=False,
)  # fmt: skip


@pytest.mark.parametrize(
    ("failed", "wait"), [(1, 5.0), (2, 30.0), (3, 120.0), (4, None), (0, None)]
)
def test_retry_n_waits_its_delay_and_after_the_last_the_delivery_is_dead(
    failed: int, wait: float | None
) -> None:
    assert delivery_log.retry_delay(failed, SCHEDULE) == wait


def test_the_signature_verifies_with_the_subscription_secret_on_the_exact_body() -> None:
    secret = new_secret()
    headers = webhooks.signed_headers(secret, "evt-1", PAYLOAD, datetime.now(UTC))
    assert headers["webhook-id"] == "evt-1"
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(PAYLOAD, headers)["data"]["catatan"] == "anak gizi kurang"
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(PAYLOAD, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(PAYLOAD.replace("kurang", "baik"), headers)


def test_an_old_signature_is_refused_so_each_attempt_signs_anew() -> None:
    secret = new_secret()
    stale = webhooks.signed_headers(
        secret, "evt-1", PAYLOAD, datetime.now(UTC) - timedelta(hours=1)
    )
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(PAYLOAD, stale)


@pytest.mark.parametrize(
    ("status", "ok"),
    [(200, True), (202, True), (204, True), (301, False), (410, False), (503, False)],
)
def test_only_2xx_is_accepted(status: int, ok: bool) -> None:
    outcome = webhooks.outcome_of_status(status)
    assert outcome.ok is ok
    assert outcome.status_code == status
    assert (outcome.error is None) is ok


async def test_a_webhook_without_a_secret_is_not_sent_unsigned() -> None:
    async with webhooks.client() as http:
        outcome = await webhooks.post(
            http, url="http://127.0.0.1:9/never", secret=None, message_id="evt-1",
            payload=PAYLOAD, timeout=1.0,
        )  # fmt: skip
    assert outcome.result == "error"
    assert outcome.error is not None and "secret" in outcome.error


def test_an_email_is_plain_text_with_a_message_id_stable_across_attempts() -> None:
    def make() -> EmailMessage:
        return email.message(
            sender="Sinergi Bontang <sinergi@localhost>", to="dspm@x.example",
            subject="[Sinergi] Rujukan baru", body="Ada rujukan baru.", delivery_id=7,
            event_id="evt-1",
        )  # fmt: skip

    first, second = make(), make()
    assert first["Message-ID"] == second["Message-ID"] == "<delivery-7.evt-1@sinergi>"
    assert first["Subject"] == "[Sinergi] Rujukan baru"
    assert first.get_content_type() == "text/plain"
    assert first.get_content().strip() == "Ada rujukan baru."


def test_the_disabled_notice_speaks_indonesian_first_with_english_beside() -> None:
    title, body = delivery_log.disabled_notice("webhook", "https://x.example/hook", "sub-1", 3)
    assert title == "Webhook dinonaktifkan (endpoint disabled): https://x.example/hook"
    indonesian, english = body.split("\n\n")
    assert indonesian.startswith("3 pengiriman berturut-turut")
    assert english.startswith("3 deliveries in a row")
    assert "/subscriptions/sub-1/enable" in indonesian and "/subscriptions/sub-1/enable" in english
    assert len(delivery_log.disabled_notice("email", "x" * 400, "s", 3)[0]) == 300
