"""Automatic referrals as rules in data (`data/rules.yaml`). Pure: facts in, decisions out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from services.referrals.directory import Directory

SHIPPED: Final = Path(__file__).parent / "data" / "rules.yaml"


class RulesError(ValueError):
    """The rules file is not usable; the service refuses to start with it."""


@dataclass(frozen=True)
class Condition:
    fact: str
    equals: Any = None
    at_least: float | None = None

    def holds(self, facts: Mapping[str, Any]) -> bool:
        value = facts.get(self.fact)
        if self.at_least is not None:
            return isinstance(value, int | float) and value >= self.at_least
        return bool(value == self.equals)


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    on: tuple[str, ...]
    when: tuple[Condition, ...]
    refer_to: str
    member: bool = False

    def fires(self, event_name: str, facts: Mapping[str, Any]) -> bool:
        return event_name in self.on and all(c.holds(facts) for c in self.when)


def parse(raw: Mapping[str, Any], directory: Directory) -> tuple[Rule, ...]:
    rules = []
    for entry in raw.get("rules") or ():
        rule_id = entry.get("id", "?")
        if entry.get("refer_to") not in directory.programmes:
            raise RulesError(f"rules.{rule_id}: unknown programme {entry.get('refer_to')!r}")
        conditions = []
        for c in entry.get("when") or ():
            if "fact" not in c or not ({"equals", "at_least"} & c.keys()):
                raise RulesError(f"rules.{rule_id}: a condition is {{fact, equals|at_least}}")
            conditions.append(Condition(c["fact"], c.get("equals"), c.get("at_least")))
        rules.append(
            Rule(
                id=rule_id,
                description=str(entry.get("description", "")),
                on=tuple(entry["events"]),
                when=tuple(conditions),
                refer_to=entry["refer_to"],
                member=bool(entry.get("member", False)),
            )
        )
    return tuple(rules)


def load(directory: Directory, path: Path | None = None) -> tuple[Rule, ...]:
    try:
        return parse(yaml.safe_load((path or SHIPPED).read_text(encoding="utf-8")), directory)
    except (OSError, KeyError, TypeError, yaml.YAMLError) as error:
        raise RulesError(f"aturan rujukan tidak terbaca (unreadable rules): {error}") from None


def firing(rules: Sequence[Rule], event_name: str, facts: Mapping[str, Any]) -> list[Rule]:
    return [rule for rule in rules if rule.fires(event_name, facts)]
