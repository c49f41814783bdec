"""The rebuild's short roads give exactly what the live projection's code gives.

`row_of` (decoding a message into a timeline row) against `Envelope.from_message` +
`timeline_entry`, for every event type in the catalogue and for odd messages; and
`parse_header_lines` against nats-py's own header parser, for real and odd header blocks.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import nats.aio.client
import pytest
from nats.aio.client import Client
from sinergi_contracts import EVENT_TYPES, Envelope, Event

from services.referrals import rebuild
from services.referrals.rebuild import _record, entry_of, parse_header_lines, row_of

SUBJECT = "sinergi.hh.00000000-0000-0000-0000-000000000001.registry.member_added"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def sample(schema: dict[str, Any], defs: dict[str, Any], n: int) -> Any:
    """A valid value for a JSON Schema of the catalogue (the kinds it uses, no more)."""
    if "$ref" in schema:
        return sample(defs[schema["$ref"].rsplit("/", 1)[1]], defs, n)
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return (
            None
            if n % 3 == 2 and len(options) < len(schema["anyOf"])
            else sample(options[0], defs, n)
        )
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][n % len(schema["enum"])]
    kind = schema.get("type")
    if kind == "object":
        if "properties" not in schema:
            return {"kunci": n, "teks": 'nilai "kutip" ü'}
        return {
            name: sample(field, defs, n + i)
            for i, (name, field) in enumerate(schema["properties"].items())
        }
    if kind == "array":
        return [sample(schema["items"], defs, n + i) for i in range(n % 3)]
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "uuid":
            return str(UUID(int=(n + 1) * 0x1234567890ABCDEF))
        if fmt == "date":
            return (date(2020, 1, 1) + timedelta(days=n)).isoformat()
        if fmt == "date-time":
            offset = timezone(timedelta(hours=n % 9))
            return datetime(2026, 1, 2, 3, 4, 5, n, tzinfo=offset).isoformat()
        return ["Jl. Mawar No. 7", "RT 001 / RW 002", "catatan ü 😀", ""][n % 4]
    if kind in ("integer", "number"):
        value = n % 7 if kind == "integer" else n * 0.3 - 0.55
        return min(max(schema.get("minimum", value), value), schema.get("maximum", value))
    if kind == "boolean":
        return n % 2 == 0
    raise AssertionError(f"no sample for {schema}")


def events() -> list[Event]:
    """Two events of every type in the catalogue, with the optional fields set and not."""
    found = []
    for event_class in EVENT_TYPES.values():
        schema = event_class.model_json_schema()
        for n in (1, 2):
            values = {
                name: sample(field, schema.get("$defs", {}), n + i)
                for i, (name, field) in enumerate(schema["properties"].items())
            }
            found.append(event_class.model_validate(values))
    return found


def message(event: Event, **changes: str | None) -> tuple[dict[str, str], bytes]:
    envelope = Envelope.wrap(event, source="/sinergi/registry", traceparent=TRACEPARENT)
    headers = envelope.attributes.to_headers()
    for name, value in changes.items():
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    return headers, envelope.data()


def both(headers: dict[str, str] | None, data: bytes, seq: int = 7) -> tuple[Any, Any]:
    entry = entry_of(headers, data, SUBJECT, seq)
    return row_of(headers, data, SUBJECT, seq), None if entry is None else _record(entry)


ALL = events()


def test_every_event_type_is_sampled() -> None:
    assert {type(e).ce_type() for e in ALL} == set(EVENT_TYPES)


@pytest.mark.parametrize("event", ALL, ids=lambda e: type(e).name)
def test_an_ordinary_message_takes_the_short_road_to_the_same_row(event: Event) -> None:
    headers, data = message(event)
    assert rebuild._ordinary_row(headers, data, SUBJECT, 7) is not None
    fast, full = both(headers, data)
    assert fast == full and full is not None


ODD_HEADERS: list[dict[str, str | None]] = [
    {"traceparent": None},
    {"traceparent": ""},
    {"traceparent": "00-kurang-pendek"},
    {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736%20-00f067aa0ba902b7-01"},
    {"ce-source": "/sinergi/kelurahan%20loktuan"},
    {"ce-id": "id%25dengan%25persen"},
    {"ce-type": "id.go.bontang.sinergi.registry.member%5Fadded.v1"},
    {"ce-time": "2026-03-04T05%3A06%3A07Z"},
    {"ce-time": "2026-03-04T05:06:07+07:00"},
    {"ce-time": "2026-03-04 05:06:07"},
    {"ce-time": "kemarin"},
    {"ce-subject": "x%20y"},
    {"ce-subject": None},
    {"ce-id": None},
    {"ce-time": None},
    {"ce-specversion": "0.3"},
    {"ce-specversion": None},
    {"ce-type": "id.go.bontang.sinergi.registry.tidak_ada.v1"},
    {"ce-datacontenttype": "text/plain%ZZ"},
]


@pytest.mark.parametrize("changes", ODD_HEADERS, ids=str)
@pytest.mark.parametrize("event", ALL[::2], ids=lambda e: type(e).name)
def test_odd_headers_give_what_the_live_projection_gives(
    event: Event, changes: dict[str, str | None]
) -> None:
    headers, data = message(event, **changes)
    fast, full = both(headers, data)
    assert fast == full


@pytest.mark.parametrize(
    "data",
    [b"", b"{", b"[]", b"null", b'{"household_id": "bukan-uuid"}', b"\xff\xfe"],
    ids=repr,
)
def test_unreadable_data_is_left_out_as_the_live_projection_leaves_it(data: bytes) -> None:
    headers, _ = message(ALL[0])
    assert both(headers, data) == (None, None)


def test_extra_or_missing_fields_and_no_headers_at_all() -> None:
    headers, data = message(ALL[2])
    extra = data[:-1] + b', "tambahan": 1}'
    assert both(headers, extra) == (None, None)
    fields_missing = b'{"household_id": "%s"}' % str(ALL[2].household_id).encode()
    fast, full = both(headers, fields_missing)
    assert fast == full
    assert both(None, data) == (None, None)
    assert both({}, data) == (None, None)


def test_data_with_other_spacing_is_stored_as_the_model_writes_it() -> None:
    headers, data = message(ALL[0])
    spaced = json.dumps(json.loads(data), indent=3).encode()
    fast, full = both(headers, spaced)
    assert fast == full and fast is not None and fast[-1] == data.decode()


# --- header blocks ---------------------------------------------------------------------------


def block(lines: list[bytes], end: bytes = b"\r\n") -> bytes:
    return b"".join(line + b"\r\n" for line in lines) + end


REAL = [block([f"{k}: {v}".encode() for k, v in message(e)[0].items()]) for e in ALL]
ODD = [
    b"",
    b"\r\n",
    b"a: b",
    block([b"a:b"]),
    block([b"a:\tb"]),
    block([b"a:  b  "]),
    block([b"a: "]),
    block([b"a:"]),
    block([b": tanpa-nama"]),
    block([b"tanpa titik dua"]),
    block([b"na me: v"]),
    block([b" name: v"]),
    block([b"\x1cname: v"]),
    block([b"name\x1f: v"]),
    block([b"n\xc3\xa4me: v"]),
    block([b"name: v\xc3\xa4lue"]),
    block([b"name: v\xffx"]),
    block([b"name: a:b:c"]),
    block([b"a: 1", b"a: 2", b"b: 3"]),
    block([b"a: 1", b"", b"b: 3"]),
    block([b"a: 1\nb: 2"]),
    block([b"a: 1\rb: 2"]),
    block([b"Status: 100", b"Description: Idle Heartbeat"]),
    block([b"a: 1"], end=b"\r\n\r\n"),
    block([b"a: 1"], end=b""),
]


@pytest.mark.parametrize("raw", REAL + ODD, ids=repr)
def test_header_blocks_parse_as_nats_py_parses_them(raw: bytes) -> None:
    assert parse_header_lines(raw) == Client._parse_header_lines(raw)
    assert list(parse_header_lines(raw)) == list(Client._parse_header_lines(raw))


def test_every_byte_in_every_place_of_a_header_line() -> None:
    for byte in range(256):
        c = bytes([byte])
        for raw in (
            block([b"na" + c + b"me: value"]),
            block([c + b"name: value"]),
            block([b"name" + c + b": value"]),
            block([b"name:" + c + b"value"]),
            block([b"name: val" + c + b"ue"]),
            block([b"name: value" + c]),
            block([b"name: " + c]),
        ):
            assert parse_header_lines(raw) == Client._parse_header_lines(raw), raw


def test_random_header_blocks_parse_as_nats_py_parses_them() -> None:
    rng = random.Random(2026)
    alphabet = [b"a", b"Z", b"-", b":", b" ", b"\t", b"\r", b"\n", b"\r\n", b"%", b"\x1c", b"\xc3"]
    alphabet += [b"\xa4", b"\xff", b"\x00", b"~", b"\x7f", b"\x0b"]
    for _ in range(20_000):
        raw = b"".join(rng.choice(alphabet) for _ in range(rng.randrange(24)))
        assert parse_header_lines(raw) == Client._parse_header_lines(raw), raw


def test_the_quick_parser_is_used_only_on_the_nats_py_version_it_was_checked_against() -> None:
    # A new nats-py may parse differently: check it against these tests, then raise the pin.
    assert nats.aio.client.__version__ == rebuild.NATS_PY_CHECKED

    class Js:
        _nc = Client()

    js: Any = Js()
    with rebuild.plain_headers_parsed_quickly(js):
        assert js._nc._parse_header_lines is parse_header_lines
    assert js._nc._parse_header_lines is Client._parse_header_lines


def test_times_keep_their_offset_and_microseconds() -> None:
    headers, data = message(ALL[0], **{"ce-time": "2026-03-04T05:06:07.000001+08:00"})
    fast, full = both(headers, data)
    assert fast == full
    assert fast is not None and fast[6] == datetime(
        2026, 3, 4, 5, 6, 7, 1, tzinfo=timezone(timedelta(hours=8))
    )
    assert fast[6] != datetime(2026, 3, 4, 5, 6, 7, 1, tzinfo=UTC)
