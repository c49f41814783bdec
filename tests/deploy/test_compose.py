"""docker-compose.yml and deploy/ hang together (Docker itself does not run in CI)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from sinergi.config import Settings
from sinergi.natsserver import nats_server_binary

ROOT = Path(__file__).resolve().parents[2]
NATS_NODES = ("nats-1", "nats-2", "nats-3")
SINERGI_SERVICES = ("registry", "referrals", "notifications")
ALL_SERVICES = (*NATS_NODES, "postgres", *SINERGI_SERVICES, "otel-collector")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    found = compose["services"][name]
    assert isinstance(found, dict)
    return found


def environment(svc: dict[str, Any]) -> dict[str, str]:
    """Compose allows a mapping or a list of KEY=VALUE; normalise to a mapping."""
    env = svc.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def interpolated(env: dict[str, str]) -> dict[str, str]:
    """As compose fills in `${VAR:-default}` (the default) and `${VAR:?message}` (from .env,
    here a sample value)."""

    def value(match: re.Match[str]) -> str:
        name, kind, rest = match.groups()
        return rest if kind == "-" else f"sample-{name.lower()}"

    pattern = re.compile(r"\$\{(\w+):([-?])([^}]*)\}")
    return {key: pattern.sub(value, raw) for key, raw in env.items()}


def bind_mounts(svc: dict[str, Any]) -> list[tuple[str, str]]:
    """(host, container) for short-syntax volumes whose host side is a relative path."""
    mounts = []
    for volume in svc.get("volumes", []):
        host, container = volume.split(":")[:2]
        if host.startswith("."):
            mounts.append((host, container))
    return mounts


def test_all_services_exist(compose: dict[str, Any]) -> None:
    assert set(ALL_SERVICES) <= set(compose["services"])


def test_bind_mounts_exist(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        for host, _ in bind_mounts(svc):
            assert (ROOT / host).exists(), f"{name}: volume source {host} is missing"


def test_named_volumes_are_declared(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    for name, svc in compose["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name}: named volume {source} is not declared"


def test_builds_point_at_existing_dockerfile(compose: dict[str, Any]) -> None:
    for name in SINERGI_SERVICES:
        build = service(compose, name)["build"]
        context = ROOT / build["context"]
        assert context.is_dir(), f"{name}: build context {context} is missing"
        assert (context / build["dockerfile"]).is_file(), f"{name}: Dockerfile is missing"


def test_dockerfile_copies_existing_paths() -> None:
    # COPY sources are relative to the build context (the repository root).
    for line in (ROOT / "deploy" / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            *sources, _ = line.split()[1:]
            for source in sources:
                assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"


def test_services_run_their_own_command(compose: dict[str, Any]) -> None:
    for name in SINERGI_SERVICES:
        assert service(compose, name)["command"] == ["sinergi", "serve", name]


def test_services_reach_every_nats_node(compose: dict[str, Any]) -> None:
    for name in SINERGI_SERVICES:
        servers = environment(service(compose, name))["SINERGI_NATS_SERVERS"].split(",")
        hosts = {server.split("//")[1].split(":")[0] for server in servers}
        assert hosts == set(NATS_NODES), f"{name}: SINERGI_NATS_SERVERS={servers}"


def test_services_settings(compose: dict[str, Any]) -> None:
    for name in SINERGI_SERVICES:
        env = environment(service(compose, name))
        assert env["SINERGI_STREAM_REPLICAS"] == "3"
        assert env["SINERGI_ENVIRONMENT"] == "production"
        assert env["SINERGI_OTEL_EXPORTER"] == "otlp"
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
        # Each service owns its own database.
        assert env["SINERGI_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert env["SINERGI_DATABASE_URL"].endswith(f"@postgres:5432/{name}")
        assert "/readyz" in " ".join(service(compose, name)["healthcheck"]["test"])


def test_postgres_creates_one_database_per_service(compose: dict[str, Any]) -> None:
    scripts = "".join(
        (ROOT / host).read_text()
        for host, container in bind_mounts(service(compose, "postgres"))
        if container.startswith("/docker-entrypoint-initdb.d")
    )
    created = set(re.findall(r"CREATE DATABASE (\w+)", scripts, flags=re.IGNORECASE))
    assert created == set(SINERGI_SERVICES)


def test_otel_pipelines_use_defined_components() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "otel-collector.yaml").read_text())
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    for pipeline in config["service"]["pipelines"].values():
        for kind in ("receivers", "processors", "exporters"):
            assert set(pipeline.get(kind, [])) <= set(config[kind])


@pytest.mark.parametrize("node", NATS_NODES)
def test_nats_server_accepts_node_config(
    compose: dict[str, Any], node: str, tmp_path: Path
) -> None:
    svc = service(compose, node)
    config_in_container = svc["command"][svc["command"].index("--config") + 1]
    [host_config] = [host for host, target in bind_mounts(svc) if target == config_in_container]
    # Only the variables compose gives the node, so a missing one fails here as it would there.
    env = {"PATH": os.environ.get("PATH", ""), **interpolated(environment(svc))}
    assert env["NATS_SERVER_NAME"] == node
    result = subprocess.run(
        [str(nats_server_binary()), "-t", "-c", str(ROOT / host_config)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", [*SINERGI_SERVICES, "console"])
def test_each_process_starts_with_the_settings_compose_gives_it(
    compose: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Production settings refuse what is missing (an OIDC provider, NATS credentials): what
    compose passes must get past them, or the container would stop at start."""
    for key in [k for k in os.environ if k.startswith("SINERGI_")]:
        monkeypatch.delenv(key)
    for key, value in interpolated(environment(service(compose, name))).items():
        monkeypatch.setenv(key, value)
    settings = Settings.for_console() if name == "console" else Settings()
    assert settings.environment == "production"
    assert settings.auth_jwks_url and settings.auth_key_file is None
    if name == "console":
        assert settings.console_oidc_client_id and settings.console_oidc_client_secret
        assert settings.console_referrals_url == "http://referrals:8000"
        assert service(compose, name)["command"] == ["sinergi", "serve", "console"]
