"""Duplicate detection benchmark: precision, recall and time of the matcher on the demo data.

    .venv/bin/python -m benchmarks.duplicates [--households 50000 ...] [--seed 2026] [--show K]

The issue's figure: duplicate detection on the demo data with planted duplicates, precision and
recall (goal >= 0.95 each) and time. For each size `services.registry.demo.generate` makes the
households with their planted duplicates (`duplicate_rate` 2 % of the households by default): a
member registered again without NIK, with the slips of another RT (a misspelt name, day and
month swapped), in another household of the same kelurahan, the truth in `DemoData.planted`.
`services.registry.matching.candidate_pairs` then runs over everyone (`DemoData.people()`),
because an original may have a NIK while its copy has none.

A found pair counts only when at least one of the two has no NIK: pairs where both have one
are exact NIK conflicts, found elsewhere. Precision = found planted pairs / found pairs,
recall = found planted pairs / planted pairs. It prints the machine, the sizes, the time of
`candidate_pairs`, precision, recall and F1 at the default threshold and at others, recall by
slip, and with `--show K` the K worst misses and false positives with the matcher's reasons.
A benchmark, not a test: a missed goal is reported, never failed.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
from collections import Counter
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from services.registry import demo
from services.registry.matching import DEFAULT_THRESHOLD, Candidate, Person, candidate_pairs

GOAL = 0.95
SWEEP = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)

Pair = tuple[str, str]


@dataclass(frozen=True)
class Score:
    threshold: float
    flagged: int  # pairs found with at least one side without NIK
    true: int
    planted: int

    @property
    def precision(self) -> float:
        return self.true / self.flagged if self.flagged else 1.0

    @property
    def recall(self) -> float:
        return self.true / self.planted if self.planted else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def line(self) -> str:
        return (
            f"{self.threshold:9.2f}  {self.precision:9.4f}  {self.recall:6.4f}  {self.f1:6.4f}  "
            f"{self.flagged:7,}  {self.true:5,}"
        )


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "?",
    )
    memory_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory_kb / 1024**2:.1f} GiB, "
        f"Python {platform.python_version()}, rapidfuzz {metadata.version('rapidfuzz')}; "
        f"load average before: {os.getloadavg()[0]:.2f}"
    )


def score(
    found: list[Candidate], planted: frozenset[Pair], nikless: set[str], threshold: float
) -> Score:
    flagged = {
        (c.left, c.right)
        for c in found
        if c.score >= threshold and (c.left in nikless or c.right in nikless)
    }
    return Score(threshold, len(flagged), len(flagged & planted), len(planted))


def slip(original: Person, copy: Person) -> str:
    """What the copy got wrong, as the demo planted it."""
    name = original.name.casefold() != copy.name.casefold()
    swapped = original.birth_date != copy.birth_date
    return "name and date" if name and swapped else "date" if swapped else "name"


def run(households: int, seed: int, rate: float, sweep: list[float], show: int) -> None:
    started = time.perf_counter()
    data = demo.generate(households=households, seed=seed, duplicate_rate=rate)
    generated = time.perf_counter() - started
    people = list(data.people())
    by_id = {p.member_id: p for p in people}
    nikless = {m.id for h in data.households for m in h.members if m.nik is None}
    planted = data.planted_pairs()
    lowest = min([DEFAULT_THRESHOLD, *sweep])
    start = time.perf_counter()
    found = candidate_pairs(people, threshold=lowest)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\n{households:,} households (seed {seed}, generated in {generated:.1f} s), "
        f"{len(people):,} people, {len(nikless):,} without NIK, {len(planted):,} planted pairs"
    )
    print(
        f"candidate_pairs over everyone: {elapsed:.1f} s ({len(people) / elapsed:,.0f} people/s)"
        f" at threshold {lowest} (the same work as at the default); peak memory {peak:,.0f} MiB"
    )
    both_nik = sum(
        c.score >= DEFAULT_THRESHOLD and c.left not in nikless and c.right not in nikless
        for c in found
    )
    print(f"found pairs where both have a NIK (left to the NIK checks, not counted): {both_nik}")
    default = score(found, planted, nikless, DEFAULT_THRESHOLD)
    ok = "ok" if min(default.precision, default.recall) >= GOAL else "MISSED"
    print(
        f"default threshold {DEFAULT_THRESHOLD}: precision {default.precision:.4f}, "
        f"recall {default.recall:.4f}, F1 {default.f1:.4f}  goal >= {GOAL} each: {ok}"
    )
    print("threshold  precision  recall      F1  flagged   true")
    for threshold in sorted({DEFAULT_THRESHOLD, *sweep}):
        mark = "  <- default" if threshold == DEFAULT_THRESHOLD else ""
        print(score(found, planted, nikless, threshold).line() + mark)

    flagged = {
        (c.left, c.right): c
        for c in found
        if c.score >= DEFAULT_THRESHOLD and (c.left in nikless or c.right in nikless)
    }
    kinds = {(a, b): slip(by_id[a], by_id[b]) for a, b in data.planted}
    totals = Counter(kinds.values())
    hits = Counter(kind for (a, b), kind in kinds.items() if (min(a, b), max(a, b)) in flagged)
    print(
        "recall by slip: "
        + ", ".join(f"{kind} {hits[kind] / n:.3f} ({n})" for kind, n in sorted(totals.items()))
    )
    if show:
        below = {(c.left, c.right): c for c in found}  # down to the lowest threshold
        missed = sorted(planted - flagged.keys())
        misses = [(pair, below.get(pair), pair not in below) for pair in missed]
        misses = [(pair, _alone(by_id, pair) if alone else c, alone) for pair, c, alone in misses]
        misses.sort(key=lambda m: (m[1].score if m[1] else -1.0, m[0]))
        false = sorted(
            (c for pair, c in flagged.items() if pair not in planted), key=lambda c: -c.score
        )
        print(f"worst misses ({len(misses)} in all):")
        for pair, candidate, alone in misses[:show]:
            print(f"  {_pair(by_id, pair)}\n    {_why(candidate, alone)}")
        print(f"worst false positives ({len(false)} in all):")
        for c in false[:show]:
            print(f"  {_pair(by_id, (c.left, c.right))}\n    {_why(c)}")


def _alone(by_id: dict[str, Person], pair: Pair) -> Candidate | None:
    """A missed pair scored by itself (without the rest, a common name is not penalised)."""
    alone = candidate_pairs([by_id[pair[0]], by_id[pair[1]]], threshold=0.0)
    return alone[0] if alone else None


def _pair(by_id: dict[str, Person], pair: Pair) -> str:
    return " | ".join(_describe(by_id[member]) for member in pair)


def _describe(p: Person) -> str:
    return f"{p.name} {p.birth_date} {p.sex} {p.kelurahan_code}/{p.rw}/{p.rt} ({p.member_id})"


def _why(candidate: Candidate | None, alone: bool = False) -> str:
    if candidate is None:
        return "never compared: no shared blocking key, or the name prefilter dropped it"
    how = "scored alone" if alone else "score"
    return f"{how} {candidate.score:.3f}: {'; '.join(candidate.reasons)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--households", type=int, nargs="+", default=[50_000])
    parser.add_argument("--seed", type=int, default=2026, help="of demo.generate")
    parser.add_argument("--duplicate-rate", type=float, default=0.02, help="of demo.generate")
    parser.add_argument("--sweep", type=float, nargs="*", default=list(SWEEP))
    parser.add_argument("--show", type=int, default=0, help="print the K worst misses and FPs")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    for households in args.households:
        run(households, args.seed, args.duplicate_rate, args.sweep, args.show)


if __name__ == "__main__":
    main()
