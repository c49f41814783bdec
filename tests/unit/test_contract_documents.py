"""The committed JSON Schemas and AsyncAPI documents are what the code generates."""

from __future__ import annotations

from pathlib import Path

from sinergi.docs import render_documents

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"


def test_committed_contract_documents_are_up_to_date() -> None:
    stale = [
        relative
        for relative, text in render_documents().items()
        if not (CONTRACTS / relative).exists()
        or (CONTRACTS / relative).read_text(encoding="utf-8") != text
    ]
    assert stale == [], f"run `sinergi docs` and commit: {stale}"


def test_every_event_has_a_schema_and_appears_in_its_publishers_asyncapi() -> None:
    documents = render_documents()
    registry = documents["asyncapi/registry.json"]
    assert "sinergi.hh.{household_id}.registry.household_registered" in registry
    assert any(p.startswith("schemas/") for p in documents)
