"""Log lines are JSON and carry the trace of the moment they were written."""

from __future__ import annotations

import json
import logging

from opentelemetry.sdk.trace import TracerProvider

from sinergi.logs import JsonFormatter


def test_a_log_line_inside_a_span_carries_its_trace_and_span_id() -> None:
    tracer = TracerProvider().get_tracer("test")
    record = logging.LogRecord("sinergi", logging.INFO, __file__, 1, "halo %s", ("RT",), None)
    record.household_id = "hh-1"
    with tracer.start_as_current_span("request") as span:
        line = json.loads(JsonFormatter().format(record))
    context = span.get_span_context()
    assert line["message"] == "halo RT"
    assert line["trace_id"] == format(context.trace_id, "032x")
    assert line["span_id"] == format(context.span_id, "016x")
    assert line["household_id"] == "hh-1"


def test_a_log_line_outside_a_span_has_no_trace_id() -> None:
    record = logging.LogRecord("sinergi", logging.WARNING, __file__, 1, "sepi", (), None)
    assert "trace_id" not in json.loads(JsonFormatter().format(record))
