"""Time of the duplicate matcher on a first import of 10,000 actors, on one core (a benchmark, not a test).

    python -m benchmarks.identity_bench                  # 10,000 entries; recorded with --write
    python -m benchmarks.identity_bench --actors 2000

Two wikis list the actors of every commune of Essonne (more where more people live, as in the real
directories: the biggest commune holds the biggest block); one tenth of the second wiki's entries are actors
of the first one written another way (identity_dataset.twin), the rest are other actors, chain branches
included. As the planner does on a first import, every entry is matched against the records made before it
(identity.MatchIndex.match) and becomes a record of its own when nothing matches (MatchIndex.add). Only that is
timed, on one CPU (the process is pinned to it), caches emptied first; making and cleaning the entries is not.
The goal: under 10 s for 10,000 entries.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

from oscartes_sync import identity, normalise
from oscartes_sync.config import IdentityConfig
from oscartes_sync.identity import MatchIndex

from .identity_dataset import CHAINS, Generator, canonical, twin
from .identity_eval import RESULTS, record

GOAL_S = 10.0


def entries(actors: int, seed: int) -> tuple[list[dict], list[dict]]:
    """(first wiki, second wiki): canonical values of `actors` entries in all."""
    g = Generator("all", seed)
    per_wiki = actors // 2
    shared = per_wiki // 10
    people = []
    while len(people) < actors // 25:  # chains: one branch per commune
        branch = g.branch(g.rng.choice(CHAINS), g.commune(), None)
        if branch is not None:
            people.append(branch)
    while len(people) < actors - shared:
        people.append(g.actor())
    g.rng.shuffle(people)
    first = people[:per_wiki]
    second = people[per_wiki:] + [twin(g, a)[0] for a in g.rng.sample(first, shared)]
    g.rng.shuffle(second)
    return [canonical(a.raw()) for a in first], [canonical(a.raw()) for a in second]


def first_import(wikis: tuple[list[dict], list[dict]], settings: IdentityConfig) -> dict:
    for cached in (normalise.fold, normalise.title, normalise.commune, identity._facts_of, identity.similarity):
        cached.cache_clear()
    index = MatchIndex([], settings)
    linked = reviewed = 0
    start = time.process_time()
    for wiki in wikis:
        for values in wiki:
            found = index.match(values)
            if found.sure is not None:
                linked += 1
            elif found.likely:
                reviewed += 1
            else:
                index.add(f"r{len(index)}", values)
    seconds = time.process_time() - start
    n = sum(len(w) for w in wikis)
    return {"entries": n, "records": len(index), "linked": linked, "reviewed": reviewed,
            "cpu_seconds": round(seconds, 2), "ms_per_entry": round(1000 * seconds / n, 3)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.identity_bench", description=__doc__.split("\n")[0])
    p.add_argument("--actors", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--write", action="store_true", help=f"record the figures in {RESULTS.name}")
    args = p.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    made = time.perf_counter()
    wikis = entries(args.actors, args.seed)
    made = time.perf_counter() - made
    out = first_import(wikis, IdentityConfig())
    blocks: dict[str, int] = {}
    for wiki in wikis:
        for v in wiki:
            key = v.get("insee") or ""
            blocks[key] = blocks.get(key, 0) + 1
    out["largest_commune_block"] = max(blocks.values())
    print(f"{out['entries']} entries (made and cleaned in {made:.1f} s, not timed): matched in "
          f"{out['cpu_seconds']:.2f} s CPU on one core ({out['ms_per_entry']:.3f} ms per entry); "
          f"{out['records']} records, {out['linked']} linked, {out['reviewed']} held for review; "
          f"largest commune: {out['largest_commune_block']} entries. Goal: under {GOAL_S:g} s: "
          + ("met" if out["cpu_seconds"] < GOAL_S else "MISSED"))
    if args.write:
        record(f"first_import_{args.actors}", {"machine": platform.processor() or platform.machine(),
                                                "seed": args.seed, "goal_seconds": GOAL_S, **out})
    return 0 if out["cpu_seconds"] < GOAL_S else 1


if __name__ == "__main__":
    sys.exit(main())
