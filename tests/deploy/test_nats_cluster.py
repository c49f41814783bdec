"""The deployed NATS config forms a JetStream cluster whose R3 streams survive losing a node.

Three local nats-server processes run deploy/nats/nats-server.conf (with its auth.conf), filled
in through the same `$NATS_*` variables docker-compose.yml sets.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import nats
import pytest
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import StorageType
from nats.js.errors import APIError, NoStreamResponseError

from services.referrals.directory import load
from sinergi.natsauth import OPERATOR, deployed_auth, password_variable, sinergi_users
from sinergi.natsserver import free_port, nats_server_binary, wait_for_port

pytestmark = pytest.mark.integration

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "nats-server.conf"
AUTH = CONFIG.parent / "auth.conf"
USERS = sinergi_users(password_variable, list(load().agencies))
# Each user's password, as compose's .env would give it to the nodes.
PASSWORDS = {u.password.lstrip("$"): f"pw-{u.name}" for u in USERS}
STREAM = "DEPLOY_CHECK"
# Generous: forming a cluster or electing a new leader usually takes a second or two.
PATIENCE_SECONDS = 20.0
T = TypeVar("T")


@dataclass
class Node:
    name: str
    client_port: int
    monitor_port: int
    cluster_port: int
    store_dir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.client_port}"

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def distinct_free_ports(count: int) -> list[int]:
    # free_port() releases the port it probed, so two calls may hand out the same one.
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[Node]]:
    ports = distinct_free_ports(9)
    nodes = [
        Node(f"n{i + 1}", ports[3 * i], ports[3 * i + 1], ports[3 * i + 2], tmp_path / f"n{i + 1}")
        for i in range(3)
    ]
    routes = {
        f"NATS_ROUTE_{i + 1}": f"nats://127.0.0.1:{node.cluster_port}"
        for i, node in enumerate(nodes)
    }
    try:
        for node in nodes:
            node.store_dir.mkdir()
            env = {
                "PATH": os.environ.get("PATH", ""),
                "NATS_SERVER_NAME": node.name,
                "NATS_CLIENT_PORT": str(node.client_port),
                "NATS_MONITOR_PORT": str(node.monitor_port),
                "NATS_CLUSTER_PORT": str(node.cluster_port),
                "NATS_STORE_DIR": str(node.store_dir),
                **routes,
                **PASSWORDS,
            }
            node.process = subprocess.Popen(
                [
                    str(nats_server_binary()),
                    "-c",
                    str(CONFIG),
                    "-l",
                    str(tmp_path / f"{node.name}.log"),
                ],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        for node in nodes:
            wait_for_port(node.client_port, timeout=PATIENCE_SECONDS)
        yield nodes
    finally:
        for node in nodes:
            node.stop()


async def retry(action: Callable[[], Awaitable[T]]) -> T:
    """`action()` once it succeeds: a forming cluster or a new leader election answers
    "no responders", times out or returns 503 for a few seconds."""
    deadline = time.monotonic() + PATIENCE_SECONDS
    while True:
        try:
            return await action()
        except (NoRespondersError, NoStreamResponseError, NatsTimeoutError, APIError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.25)


async def test_r3_stream_survives_losing_a_node(cluster: list[Node]) -> None:
    nc = await nats.connect(
        servers=[node.url for node in cluster],
        user=OPERATOR,
        password=f"pw-{OPERATOR}",
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.2,
    )
    try:
        js = nc.jetstream(timeout=2)
        # Succeeds only once the cluster has elected a JetStream meta leader.
        await retry(js.account_info)
        info = await retry(
            lambda: js.add_stream(
                name=STREAM,
                subjects=["deploy.check.>"],
                storage=StorageType.FILE,
                num_replicas=3,
            )
        )
        assert info.config.num_replicas == 3

        async def publish(n: int) -> None:
            # Nats-Msg-Id makes a retried publish land once, as the outbox relay relies on.
            ack = await retry(
                lambda: js.publish(
                    f"deploy.check.{n}", str(n).encode(), headers={"Nats-Msg-Id": f"msg-{n}"}
                )
            )
            assert ack.stream == STREAM

        for n in range(100):
            await publish(n)

        # Stop the stream leader, the node whose loss forces a failover.
        state = await js.stream_info(STREAM)
        assert state.cluster is not None
        [leader] = [node for node in cluster if node.name == state.cluster.leader]
        leader.stop()

        for n in range(100, 200):
            await publish(n)

        sub = await retry(lambda: js.pull_subscribe("deploy.check.>", durable="reader"))
        received: list[int] = []
        deadline = time.monotonic() + PATIENCE_SECONDS
        while len(received) < 200 and time.monotonic() < deadline:
            try:
                messages = await sub.fetch(100, timeout=2)
            except NatsTimeoutError:
                continue
            for message in messages:
                received.append(int(message.data))
                await message.ack()
        assert sorted(received) == list(range(200))
        final = await js.stream_info(STREAM)
        assert final.state.messages == 200
        assert final.cluster is not None
        assert final.cluster.leader != leader.name
    finally:
        await nc.close()


def test_the_deployed_users_are_the_generated_ones() -> None:
    """deploy/nats/auth.conf is what `sinergi nats-config` makes from the services and the
    directory: a new agency or durable without a regenerated file fails here."""
    assert AUTH.read_text() == deployed_auth(USERS)


async def test_a_service_is_refused_outside_its_subjects_in_the_cluster(
    cluster: list[Node],
) -> None:
    refused: asyncio.Queue[Exception] = asyncio.Queue()

    async def on_error(error: Exception) -> None:
        refused.put_nowait(error)

    nc = await nats.connect(
        servers=[cluster[0].url],
        user="registry",
        password="pw-registry",
        inbox_prefix="_INBOX.registry",
        error_cb=on_error,
    )
    try:
        await nc.publish("sinergi.hh.x.referrals.referral_requested", b"{}")
        await nc.subscribe("_INBOX.>")
        await nc.flush()
        errors = [str(await asyncio.wait_for(refused.get(), 5)) for _ in range(2)]
        assert all("permissions violation" in e for e in errors), errors
    finally:
        await nc.close()
