"""Precision and recall of the duplicate matcher on the labelled set of identity_dataset.py.

    python -m benchmarks.identity_eval                    # dev part, thresholds of the config's defaults
    python -m benchmarks.identity_eval --sweep            # dev part, a grid of thresholds (to choose them)
    python -m benchmarks.identity_eval --part heldout     # the final figure (defaults only, no sweep)
    python -m benchmarks.identity_eval --part heldout --write   # ... recorded in identity_results.json

Each entry of the other wiki is matched against the store, as the first sync does (identity.MatchIndex):
- linked automatically: counted right when it is its twin's record, wrong otherwise (precision);
- sent to review: found when its twin's record is among the candidates (recall of linking plus review);
- left as another actor: a twin missed, or a look-alike rightly left alone.
Exit code 1 when a target is missed (precision of automatic links < 0.99, recall of linking plus review < 0.95).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from oscartes_sync.config import IdentityConfig
from oscartes_sync.identity import MatchIndex

from .identity_dataset import DEFAULT_SEEDS, PARTS, EvalSet, make_set

RESULTS = Path(__file__).resolve().parent / "identity_results.json"
PRECISION_TARGET, RECALL_TARGET = 0.99, 0.95


@dataclass
class Figures:
    auto_right: int = 0
    auto_wrong: int = 0
    reviewed_found: int = 0  # a twin whose record is among the review candidates
    reviewed_look_alike: int = 0  # another actor sent to review (a person's time, no harm done)
    twins: int = 0
    look_alikes: int = 0
    seconds: float = 0.0
    by_kind: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    missed: Counter = field(default_factory=Counter)  # variations of the twins neither linked nor reviewed
    wrong: list[tuple[str, str, tuple]] = field(default_factory=list)  # (entry name, record name, evidence)

    @property
    def auto(self) -> int:
        return self.auto_right + self.auto_wrong

    @property
    def precision(self) -> float:
        return self.auto_right / self.auto if self.auto else 1.0

    @property
    def recall_auto(self) -> float:
        return self.auto_right / self.twins if self.twins else 1.0

    @property
    def recall(self) -> float:
        return (self.auto_right + self.reviewed_found) / self.twins if self.twins else 1.0

    @property
    def ok(self) -> bool:
        return self.precision >= PRECISION_TARGET and self.recall >= RECALL_TARGET

    def as_dict(self) -> dict:
        return {
            "precision_auto": round(self.precision, 4), "recall_auto": round(self.recall_auto, 4),
            "recall_link_or_review": round(self.recall, 4),
            "auto_links": self.auto, "auto_links_wrong": self.auto_wrong,
            "twins": self.twins, "twins_in_review": self.reviewed_found,
            "look_alikes": self.look_alikes, "look_alikes_in_review": self.reviewed_look_alike,
            "by_kind": {k: dict(v) for k, v in sorted(self.by_kind.items())},
            "missed_twins_by_variation": dict(self.missed.most_common()),
            "seconds": round(self.seconds, 2),
        }


def evaluate(data: EvalSet, settings: IdentityConfig) -> Figures:
    names = dict(data.records)
    start = time.process_time()
    index = MatchIndex(data.records, settings)
    out = Figures()
    for case in data.cases:
        found = index.match(case.entry)
        candidates = [c.record_id for c in found.likely]
        if case.truth is None:
            out.look_alikes += 1
            if found.sure is not None:
                out.auto_wrong += 1
                out.wrong.append((case.entry.get("name"), names[found.sure].get("name"), found.evidence))
                out.by_kind[case.kind]["linked"] += 1
            elif candidates:
                out.reviewed_look_alike += 1
                out.by_kind[case.kind]["review"] += 1
            else:
                out.by_kind[case.kind]["left apart"] += 1
            continue
        out.twins += 1
        if found.sure == case.truth:
            out.auto_right += 1
            out.by_kind["twin"]["linked"] += 1
        elif found.sure is not None:
            out.auto_wrong += 1
            out.wrong.append((case.entry.get("name"), names[found.sure].get("name"), found.evidence))
            out.by_kind["twin"]["linked to another"] += 1
        elif case.truth in candidates:
            out.reviewed_found += 1
            out.by_kind["twin"]["review"] += 1
        else:
            out.by_kind["twin"]["missed"] += 1
            out.missed.update(case.variations)
    out.seconds = time.process_time() - start
    return out


def _line(f: Figures) -> str:
    return (f"precision of automatic links {f.precision:.4f} ({f.auto_right}/{f.auto}), "
            f"recall of linking + review {f.recall:.4f} (({f.auto_right}+{f.reviewed_found})/{f.twins}), "
            f"automatic {f.recall_auto:.4f}; look-alikes sent to review {f.reviewed_look_alike}/{f.look_alikes}")


def report(data: EvalSet, settings: IdentityConfig, f: Figures) -> None:
    print(f"part {data.part}, seed {data.seed}: {len(data.records)} records, {len(data.cases)} entries "
          f"({f.twins} twins, {f.look_alikes} other actors); auto_link {settings.auto_link:g}, "
          f"review {settings.review:g}, same_place_m {settings.same_place_m:g}")
    print(_line(f))
    print(f"targets: precision >= {PRECISION_TARGET}, recall >= {RECALL_TARGET}: {'met' if f.ok else 'MISSED'}"
          f"  ({f.seconds:.2f} s CPU)")
    print("by kind of entry:")
    for kind, counts in sorted(f.by_kind.items()):
        print(f"  {kind:10} " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if f.missed:
        print("twins missed, by what differs: " + ", ".join(f"{k} {v}" for k, v in f.missed.most_common()))
    for entry, record, evidence in f.wrong[:20]:
        print(f"  wrongly linked: {entry!r} -> {record!r} ({'; '.join(evidence)})")


def sweep(data: EvalSet, base: IdentityConfig) -> list[dict]:
    rows = []
    print(f"{'auto_link':>9} {'review':>6} {'precision':>9} {'recall':>7} {'auto':>6} {'review look-alikes':>19}")
    for auto in (80, 85, 90, 95):
        for review in (50, 55, 60, 65, 70, 75):
            s = base.model_copy(update={"auto_link": float(auto), "review": float(review)})
            f = evaluate(data, s)
            rows.append({"auto_link": auto, "review": review, "precision_auto": round(f.precision, 4),
                         "recall_link_or_review": round(f.recall, 4), "recall_auto": round(f.recall_auto, 4),
                         "look_alikes_in_review": f.reviewed_look_alike})
            print(f"{auto:>9} {review:>6} {f.precision:>9.4f} {f.recall:>7.4f} {f.recall_auto:>6.3f} "
                  f"{f.reviewed_look_alike:>19}")
    return rows


def record(key: str, figures: dict) -> None:
    results = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    results[key] = {"measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "python": platform.python_version(), **figures}
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"recorded in {RESULTS} ({key})")


def _figures(data: EvalSet, settings: IdentityConfig, f: Figures) -> dict:
    return {"seed": data.seed, "records": len(data.records), "entries": len(data.cases),
            "settings": settings.model_dump(),
            "targets": {"precision_auto": PRECISION_TARGET, "recall_link_or_review": RECALL_TARGET, "met": f.ok},
            **f.as_dict()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.identity_eval", description=__doc__.split("\n")[0])
    p.add_argument("--part", choices=PARTS, default="dev")
    p.add_argument("--size", type=int, default=2000, help="records in the store, and entries matched (2000)")
    p.add_argument("--seed", type=int, help=f"default: {DEFAULT_SEEDS}")
    p.add_argument("--sweep", action="store_true", help="dev only: a grid of thresholds")
    p.add_argument("--auto-link", type=float, help="dev only: instead of the config's default")
    p.add_argument("--review", type=float, help="dev only: instead of the config's default")
    p.add_argument("--write", action="store_true", help=f"record the figures in {RESULTS.name}")
    args = p.parse_args(argv)
    tuning = args.sweep or args.auto_link is not None or args.review is not None or args.seed is not None
    if args.part == "heldout" and tuning:
        p.error("the held-out part is measured once, with the defaults of the config: no --sweep, thresholds or seed")
    settings = IdentityConfig(**{k: v for k, v in (("auto_link", args.auto_link), ("review", args.review))
                                 if v is not None})
    data = make_set(args.part, args.seed, args.size)
    if args.sweep:
        rows = sweep(data, settings)
        if args.write:
            record("dev_sweep", {"seed": data.seed, "records": len(data.records), "entries": len(data.cases),
                                 "rows": rows})
        return 0
    figures = evaluate(data, settings)
    report(data, settings, figures)
    if args.write:
        record(args.part, _figures(data, settings, figures))
    return 0 if figures.ok else 1


if __name__ == "__main__":
    sys.exit(main())
