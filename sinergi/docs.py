"""The committed contract documents: JSON Schema per event, AsyncAPI per service."""

from __future__ import annotations

import json
from pathlib import Path

from sinergi_contracts import EVENT_TYPES

from sinergi.asyncapi import asyncapi_document
from sinergi.catalogue import SERVICE_NAMES, definition


def render_documents() -> dict[str, str]:
    """Relative path → text, exactly as it is committed."""
    documents: dict[str, str] = {}
    for ce_type, event in sorted(EVENT_TYPES.items()):
        schema = event.model_json_schema()
        schema["$id"] = f"{ce_type}.json"
        schema["x-cloudevents-type"] = ce_type
        documents[f"schemas/{ce_type}.json"] = _dump(schema)
    for name in SERVICE_NAMES:
        spec = asyncapi_document(definition(name)).to_specification().to_jsonable()
        documents[f"asyncapi/{name}.json"] = _dump(spec)
    return documents


def _dump(document: object) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_documents(out: Path) -> list[Path]:
    written = []
    for relative, text in render_documents().items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
