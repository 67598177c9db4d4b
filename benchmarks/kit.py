"""What the replication kit costs (issue 17), in the client process: `python -m benchmarks.kit`.

- the reference data: a department's communes parsed out of every French commune (first use, then cached);
- a territory's parameters from a department or an intercommunality code;
- the kit built in memory and zipped (what `kit export` writes and `sync` publishes), and its size;
- the digest of the kit's sources, the only kit cost of a quiet `sync` (the archive is built only when it changed);
- the documentation: Markdown (docs/) and the wiki pages (Markdown converted to YesWiki markup).
Each figure is the best of a few runs, CPU time (`time.process_time`). Writes benchmarks/results-kit.json.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results-kit.json"


def _best(fn, runs: int = 5) -> float:
    best = float("inf")
    for _ in range(runs):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return round(best, 4)


def main() -> None:
    t0 = time.process_time()
    from oscartes_sync import geo, territory
    from oscartes_sync.config import Config
    from oscartes_sync.publish import docs, kit
    imports = round(time.process_time() - t0, 4)

    t = time.process_time()
    geo.communes_where(department="91")
    first_load = round(time.process_time() - t, 4)
    results = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "imports_s": imports,
        "reference_data_first_use_s": first_load,
        "territory_s": {code: _best(lambda c=code: territory.from_department(c)) for code in ("91", "69", "59")},
        "territory_epci_200046977_s": _best(lambda: territory.from_epci("200046977")),
    }
    essonne, nord = territory.origin(), territory.from_department("59")
    for name, t_ in (("essonne", essonne), ("nord", nord)):
        made = kit.build_kit(t_)
        data = made.zip_bytes()
        results[f"kit_{name}"] = {
            "communes": len(t_.communes), "files": len(made.files), "zip_bytes": len(data),
            "build_and_zip_s": _best(lambda t_=t_: kit.build_kit(t_).zip_bytes(), runs=3),
            "docs_markdown_s": _best(lambda t_=t_: docs.markdown_pages(docs.build_setup(t_), wiki=False), runs=3),
            "docs_wiki_pages_s": _best(lambda t_=t_: docs.wiki_pages(docs.build_setup(t_)), runs=3),
        }
    cfg = Config()
    results["quiet_sync_kit_digest_s"] = _best(lambda: kit.KitArchive(cfg).source)
    RESULTS.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
