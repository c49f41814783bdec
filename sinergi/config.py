"""Settings every service reads from the environment (prefix ``SINERGI_``); they fail fast."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from sinergi.auth import AUDIENCE, EMBEDDED_ISSUER
from sinergi.natsauth import connect_options


class Settings(BaseSettings):
    """One service process. `sinergi up` and the tests fill these in for the embedded mode."""

    model_config = SettingsConfigDict(env_prefix="SINERGI_", extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        description="SQLAlchemy URL: sqlite+aiosqlite:///path.db or postgresql+asyncpg://…"
    )
    database_schema: str | None = Field(
        default=None, description="PostgreSQL schema the service owns (its search_path)"
    )
    nats_servers: Annotated[list[str], NoDecode] = Field(
        description="Comma-separated NATS URLs, e.g. nats://127.0.0.1:4333"
    )
    nats_user: str | None = Field(
        default=None, description="This service's NATS user: it may use only its own subjects"
    )
    nats_password: SecretStr | None = None
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=0, ge=0, le=65535)
    stream_replicas: int = Field(default=1, ge=1, le=5)
    duplicate_window_seconds: float = Field(default=3600.0, gt=0)
    max_deliver: int = Field(default=5, ge=2)
    retry_delays: Annotated[tuple[float, ...], NoDecode] = Field(
        default=(1.0, 5.0, 30.0, 120.0),
        description="Seconds to wait before redelivery n (the last repeats)",
    )
    ack_wait_seconds: float = Field(default=30.0, gt=0)
    consumer_batch_size: int = Field(default=200, ge=1, le=5000)
    consumer_batch_wait_seconds: float = Field(
        default=0.005,
        gt=0,
        description=(
            "After a consumer's first event, the longest it waits for the events the stream "
            "says are pending behind it"
        ),
    )
    relay_batch_size: int = Field(default=500, ge=1, le=10000)
    relay_poll_seconds: float = Field(default=0.5, gt=0)
    duplicate_scan_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Registry: the duplicate queue is scanned once nothing was added for this long",
    )
    duplicate_scan_longest_seconds: float = Field(
        default=120.0,
        gt=0,
        description="Registry: ... or once a queued member has waited this long (busy days)",
    )
    directory_file: Path | None = Field(
        default=None, description="Referrals: agencies, programmes, deadlines (YAML)"
    )
    rules_file: Path | None = Field(
        default=None, description="Referrals: automatic referral rules (YAML)"
    )
    sla_check_seconds: float = Field(
        default=30.0, gt=0, description="Referrals: pause between checks for overdue referrals"
    )
    delivery_poll_seconds: float = Field(
        default=1.0, gt=0, description="Notifications: pause between looks for due deliveries"
    )
    delivery_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Notifications: a webhook or SMTP attempt gives up after"
    )
    delivery_retry_seconds: Annotated[tuple[float, ...], NoDecode] = Field(
        default=(5.0, 30.0, 120.0, 600.0, 1800.0, 7200.0),
        description="Notifications: wait before retry n; after the last, the delivery is dead",
    )
    delivery_lane_concurrency: int = Field(
        default=4, ge=1, le=64, description="Notifications: attempts in flight per endpoint"
    )
    disable_after_dead: int = Field(
        default=3,
        ge=1,
        description="Notifications: consecutive dead deliveries that disable an endpoint",
    )
    digest_hour: int = Field(
        default=7, ge=0, le=23, description="Notifications: the daily digest's hour (WITA)"
    )
    smtp_host: str | None = Field(
        default=None, description="Notifications: SMTP server for e-mail (none: e-mail waits)"
    )
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_sender: str = Field(
        default="Sinergi Bontang <sinergi@localhost>", description="Notifications: From address"
    )
    auth_jwks_url: str | None = Field(
        default=None,
        description="The OIDC provider's JWKS URL, e.g. Keycloak's …/protocol/openid-connect/certs",
    )
    auth_key_file: Path | None = Field(
        default=None,
        description="The built-in issuer's key (embedded mode, `sinergi token`); not in production",
    )
    auth_issuer: str = Field(default=EMBEDDED_ISSUER, description="Tokens' expected `iss`")
    auth_audience: str = Field(default=AUDIENCE, description="Tokens' expected `aud`")
    auth_claims_object: str | None = Field(
        default=None,
        description="The claim holding Sinergi's role and scope claims when the OIDC provider "
        "nests them in one object (Keycloak mapper `sinergi.role` → `sinergi`); none: top level",
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest request body (a bigger one: 413)"
    )
    import_max_bytes: int = Field(
        default=104_857_600, ge=1024, description="Registry: largest uploaded XLSX/CSV file"
    )
    rate_limit_per_second: float = Field(
        default=20.0, gt=0, description="Requests a token may make per second, on average"
    )
    rate_limit_burst: int = Field(default=200, ge=1, description="… and at once")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins a browser may call the API from (comma-separated); none: closed",
    )
    console_registry_url: str = Field(
        default="http://127.0.0.1:8101", description="Console: the registry service's API"
    )
    console_referrals_url: str = Field(
        default="http://127.0.0.1:8102", description="Console: the referrals service's API"
    )
    console_notifications_url: str = Field(
        default="http://127.0.0.1:8103", description="Console: the notifications service's API"
    )
    console_oidc_client_id: str | None = Field(
        default=None, description="Console: its client at the OIDC provider (sign-in)"
    )
    console_oidc_client_secret: str | None = Field(
        default=None, description="Console: that client's secret (a confidential client)"
    )
    console_public_url: str | None = Field(
        default=None,
        description="Console: its address as browsers reach it, for the sign-in's redirect URI "
        "(none: the address of the request)",
    )
    # Whether this process connects to NATS: a class's, never an environment variable's, so
    # no setting can lift the production check on NATS credentials (ConsoleSettings: no).
    needs_nats: ClassVar[bool] = True
    otel_exporter: Literal["none", "console", "otlp"] = "none"
    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("nats_servers", "cors_origins", mode="before")
    @classmethod
    def _split_servers(cls, value: object) -> object:
        if isinstance(value, str):
            return [s.strip() for s in value.split(",") if s.strip()]
        return value

    @field_validator("retry_delays", "delivery_retry_seconds", mode="before")
    @classmethod
    def _split_delays(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(float(s) for s in value.split(",") if s.strip())
        return value

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if not self.nats_servers:
            raise ValueError("nats_servers: at least one NATS URL is required")
        if not self.retry_delays:
            raise ValueError("retry_delays: at least one delay is required")
        if not self.database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "database_url: use sqlite+aiosqlite:// or postgresql+asyncpg:// "
                f"(got {self.database_url.split(':', 1)[0]}://…)"
            )
        if self.database_schema and not self.database_url.startswith("postgresql"):
            raise ValueError("database_schema: only PostgreSQL has schemas")
        if self.auth_jwks_url and self.auth_key_file:
            raise ValueError("auth: set SINERGI_AUTH_JWKS_URL or SINERGI_AUTH_KEY_FILE, not both")
        if self.environment == "production":
            if self.auth_key_file:
                raise ValueError(
                    "auth_key_file: penerbit token bawaan hanya untuk development dan test "
                    "(the built-in token issuer is for development and test only); "
                    "set SINERGI_AUTH_JWKS_URL to the city's OIDC provider"
                )
            if not self.auth_jwks_url:
                raise ValueError("auth_jwks_url: production needs the OIDC provider's JWKS URL")
            if self.auth_issuer == EMBEDDED_ISSUER:
                raise ValueError("auth_issuer: production needs the OIDC provider's issuer URL")
            if self.needs_nats and (not self.nats_user or not self.nats_password):
                raise ValueError(
                    "nats_user, nats_password: produksi butuh kredensial NATS layanan ini "
                    "(production needs this service's own NATS credentials)"
                )
        return self

    @classmethod
    def for_console(cls) -> Settings:
        """The console's, from the environment: it reads the services' APIs and has neither a
        database nor a NATS connection, so it is not asked for them (the values set here are
        never used)."""
        return ConsoleSettings(
            database_url="sqlite+aiosqlite:///:memory:",
            nats_servers=["nats://unused.invalid:4222"],
        )

    def nats_options(self) -> dict[str, Any]:
        """Connection options with this service's NATS credentials (if any)."""
        password = self.nats_password.get_secret_value() if self.nats_password else None
        return connect_options(self.nats_user, password)

    def retry_delay(self, delivery: int) -> float:
        """Seconds to wait before redelivering a message delivered `delivery` times."""
        return self.retry_delays[min(max(delivery, 1), len(self.retry_delays)) - 1]


class ConsoleSettings(Settings):
    """The web console's: it uses no NATS connection of its own."""

    needs_nats: ClassVar[bool] = False
