"""Settings fail fast with a message that names the setting."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sinergi.config import Settings


def test_settings_read_comma_separated_servers_and_delays() -> None:
    settings = Settings(
        database_url="sqlite+aiosqlite:///x.db",
        nats_servers="nats://a:1, nats://b:2",  # type: ignore[arg-type]
        retry_delays="0.5,2",  # type: ignore[arg-type]
    )
    assert settings.nats_servers == ["nats://a:1", "nats://b:2"]
    assert [settings.retry_delay(n) for n in (1, 2, 3, 9)] == [0.5, 2.0, 2.0, 2.0]


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"database_url": "mysql://x"}, "database_url"),
        ({"nats_servers": ""}, "nats_servers"),
        ({"database_schema": "registry"}, "database_schema"),
        ({"max_deliver": 1}, "max_deliver"),
    ],
)
def test_a_wrong_setting_stops_the_service_before_it_starts(
    changes: dict[str, object], complaint: str
) -> None:
    values: dict[str, object] = {
        "database_url": "sqlite+aiosqlite:///x.db",
        "nats_servers": "nats://a:1",
    } | changes
    with pytest.raises(ValidationError, match=complaint):
        Settings(**values)  # type: ignore[arg-type]


def test_the_database_url_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SINERGI_DATABASE_URL", raising=False)
    monkeypatch.setenv("SINERGI_NATS_SERVERS", "nats://a:1")
    with pytest.raises(ValidationError, match="database_url"):
        Settings()  # type: ignore[call-arg]
