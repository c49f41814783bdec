"""schemathesis against every service's OpenAPI, in-process from the ASGI app: generated
requests (deterministic: `derandomize`) on every operation must get no server error, only
documented status codes and answers that conform to the schema; without a token, 401."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks

from sinergi.catalogue import SERVICE_NAMES
from tests import tokens
from tests.system import start_system

pytestmark = pytest.mark.integration

EXAMPLES = 15  # per operation
# Not run by validate_response here: ignored_auth sees the token we add as its own generated
# one (this file and test_security_auth try requests without or with forged tokens themselves);
# positive_data_acceptance takes any schema-valid body for acceptable, while the services
# rightly refuse, say, a kelurahan code that is not Bontang's (422 naming the field).
EXCLUDED = [checks.ignored_auth, checks.positive_data_acceptance]
# A live stream (SSE) never ends, tested in test_timeline and the console's browser tests; an
# upload is multipart, tested in test_import.
SKIPPED = ("/imports",)
STREAMS = "text/event-stream"
OPEN = ("/healthz", "/readyz")  # the only routes without a token


def request_of(case: Any, base_url: str, headers: dict[str, str]) -> dict[str, Any]:
    sent = case.as_transport_kwargs(base_url=base_url, headers=headers)
    for unused in ("timeout", "verify", "cookies", "allow_redirects"):
        sent.pop(unused, None)
    if isinstance(sent.get("data"), str | bytes):
        sent["content"] = sent.pop("data")
    return sent


def checker(
    operation: Any,
    label: str,
    base: str,
    send: Callable[[dict[str, Any]], Any],
    failures: Counter[str],
    ran: Counter[str],
) -> Callable[[], None]:
    """A hypothesis test of one operation, run in a thread; the requests go to the loop."""

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        response = send(request_of(case, base, tokens.SYSTEM))
        ran["checked"] += 1
        try:
            case.validate_response(response, excluded_checks=EXCLUDED)
        except (Exception, BaseExceptionGroup) as failed:
            for kind in getattr(failed, "exceptions", [failed]):
                failures[f"{label}: {str(kind).splitlines()[0]}"] += 1
        if operation.path in OPEN:
            return
        anonymous = send(request_of(case, base, {"Authorization": ""}))
        ran["anonymous"] += 1
        if anonymous.status_code != 401:
            failures[f"{label}: no token → {anonymous.status_code}"] += 1

    result: Callable[[], None] = check
    return result


async def test_generated_requests_get_no_server_error_and_conforming_answers(
    settings_for: Any,
) -> None:
    loop = asyncio.get_running_loop()
    failures: Counter[str] = Counter()
    ran = Counter[str]()
    async with start_system(settings_for) as system:
        for name in SERVICE_NAMES:
            app = system.apps[name]
            schema = schemathesis.openapi.from_dict(app.openapi())
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            base = f"http://{name}"
            async with httpx.AsyncClient(transport=transport, base_url=base) as client:

                def send(sent: dict[str, Any], client: httpx.AsyncClient = client) -> Any:
                    future = asyncio.run_coroutine_threadsafe(client.request(**sent), loop)
                    return future.result(timeout=30)

                for found in schema.get_all_operations():
                    operation = found.ok()
                    answers = json.dumps(operation.definition.raw.get("responses", {}))
                    if not operation.path.endswith(SKIPPED) and STREAMS not in answers:
                        label = f"{name} {operation.method.upper()} {operation.path}"
                        check = checker(operation, label, base, send, failures, ran)
                        await asyncio.to_thread(check)
    print(
        f"\nschemathesis: {ran['checked']} permintaan dicek, {ran['anonymous']} tanpa token, "
        f"{sum(failures.values())} gagal"
    )
    assert not failures, "\n".join(f"{n}× {what}" for what, n in failures.most_common())
    assert ran["checked"] > 500
