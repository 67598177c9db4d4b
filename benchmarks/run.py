"""Benchmarks of the sync client against two emulated YesWikis running in another process (DECISIONS §15).

    python -m benchmarks.run                      # 1,000 actors, 20 ms per request
    python -m benchmarks.run --actors 10000       # the big one (never from .ci/run)
    python -m benchmarks.run --contract           # per-route latency of the real YesWiki of the contract (§9)

Scenarios: (1) first import, (2) no-op sync right after, (3) k member edits then a sync, (4) a sync where one
wiki's listing fails, then (4b) the next sync, which catches up. Each reports wall time, the client's CPU
seconds and peak memory, requests per wiki by family and entry writes, and checks the cost rules (DECISIONS
§13-14); a broken rule makes the run exit 1 after the table.
"""

from __future__ import annotations

import time

_T0, _C0 = time.perf_counter(), time.process_time()
# What a sync run imports (targets.yeswiki and identity are otherwise imported lazily, during the first run).
import oscartes_sync.app as app  # noqa: E402
import oscartes_sync.identity  # noqa: E402,F401
import oscartes_sync.targets.yeswiki  # noqa: E402,F401
from oscartes_sync.config import Config, StoreConfig, SyncConfig, WikiConfig  # noqa: E402

IMPORT_WALL, IMPORT_CPU = time.perf_counter() - _T0, time.process_time() - _C0

import argparse  # noqa: E402
import cProfile  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import secrets  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import tracemalloc  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable  # noqa: E402

import requests  # noqa: E402

from .dataset import make_dataset  # noqa: E402
from .emulators import ACTOR_FORM, WIKIS, WRITE_FAMILIES, EmulatorProcess  # noqa: E402
from .profiling import Sampler  # noqa: E402

HERE = Path(__file__).resolve().parent


class TimeLimit(Exception):
    pass


# ------------------------------------------------------------------------------------------- memory


def _status_kb(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss() -> bool:
    """Linux: writing 5 to clear_refs resets VmHWM, so each scenario gets its own peak."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


# ------------------------------------------------------------------------------------------- members


class Members:
    """What members do between runs, through HTTP as a browser would (not measured)."""

    def __init__(self, urls: dict[str, str], users: dict[str, str]):
        self.urls, self.users = urls, users
        self._sessions: dict[str, requests.Session] = {}

    def _session(self, wiki: str) -> requests.Session:
        if wiki not in self._sessions:
            s = requests.Session()
            r = s.post(self.urls[wiki] + "?PagePrincipale", data={
                "name": self.users["member_user"], "password": self.users["member_password"], "action": "login"},
                allow_redirects=False)
            if r.status_code != 302:
                raise RuntimeError(f"member login failed on {wiki}: HTTP {r.status_code}")
            self._sessions[wiki] = s
        return self._sessions[wiki]

    def edit(self, wiki: str, entry_id: str, changes: dict[str, str]) -> None:
        r = requests.get(f"{self.urls[wiki]}?api/entries/json/{entry_id}",
                         headers={"Authorization": f"Bearer {self.users['admin_token']}"})
        current = r.json().get(entry_id) or {}
        form = {k: v for k, v in current.items() if isinstance(v, str) and k.startswith(("bf_", "checkbox", "liste"))}
        form.update(changes)
        form["antispam"] = "1"
        r = self._session(wiki).post(f"{self.urls[wiki]}?{entry_id}/edit", data=form, allow_redirects=False)
        if r.status_code != 302:
            raise RuntimeError(f"member edit of {entry_id} failed on {wiki}: HTTP {r.status_code}")


# ------------------------------------------------------------------------------------------- scenarios


@dataclass
class Measure:
    name: str
    wall_s: float = 0.0
    client_cpu_s: float = 0.0
    emulators_cpu_s: float = 0.0
    rss_start_mb: float | None = None
    rss_peak_mb: float | None = None
    py_heap_peak_mb: float | None = None
    requests: dict[str, dict[str, int]] = field(default_factory=dict)
    client_requests: dict[str, dict[str, int]] = field(default_factory=dict)
    writes: dict[str, int] = field(default_factory=dict)
    exit_code: int | None = None
    checks: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, Any] | None = None

    def check(self, ok: bool, rule: str) -> None:
        (self.checks if ok else self.failures).append(rule)


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.users = {"admin_user": "WikiAdmin", "admin_password": secrets.token_hex(8),
                      "admin_token": secrets.token_hex(16), "member_user": "MembreActif",
                      "member_password": secrets.token_hex(8), "member_token": secrets.token_hex(16)}
        self.tmp = tempfile.TemporaryDirectory(prefix="oscartes-bench-")
        self.results: list[Measure] = []

    def config(self, urls: dict[str, str]) -> Config:
        wikis = []
        for name in WIKIS:
            prefix = f"OSCARTES_BENCH_{name.upper()}"
            os.environ[prefix + "_TOKEN"] = self.users["admin_token"]
            os.environ[prefix + "_PASSWORD"] = self.users["admin_password"]
            wikis.append(WikiConfig(name=name, url=urls[name], api_token_env=prefix + "_TOKEN",
                                    admin_user=self.users["admin_user"], admin_password_env=prefix + "_PASSWORD"))
        store_url = self.args.store_url or f"sqlite:///{Path(self.tmp.name) / 'bench.db'}"
        return Config(store=StoreConfig(url=store_url),
                      sync=SyncConfig(kinds=["actor"], lock_file=str(Path(self.tmp.name) / "bench.lock")),
                      wiki=wikis)

    def one_sync(self, cfg: Config) -> app.RunSummary:
        """A run as the CLI does it: open the store, build the clients, sync, close."""
        store = app.open_store(cfg)
        instances = app.build_instances(cfg)
        try:
            return app.sync_once(cfg, store, instances)
        finally:
            for inst in instances.values():
                close = getattr(inst.target, "close", None)
                if close:
                    close()
            store.close()

    def measure(self, name: str, emus: EmulatorProcess, cfg: Config) -> tuple[Measure, app.RunSummary | None]:
        m = Measure(name)
        emus.reset()
        srv0 = emus.cpu()
        have_hwm = reset_peak_rss()
        rss0 = _status_kb("VmRSS")
        if self.args.tracemalloc:
            tracemalloc.start()
        sampler = Sampler().start() if self.args.sample else None
        prof = cProfile.Profile() if self.args.cprofile else None
        limit = self.args.time_limit
        old = signal.signal(signal.SIGALRM, _on_alarm) if limit else None
        if limit:
            signal.alarm(int(limit))
        w0, c0 = time.perf_counter(), time.process_time()
        run = None
        try:
            if prof:
                prof.enable()
            run = self.one_sync(cfg)
        except TimeLimit:
            m.failures.append(f"stopped at the time limit ({limit:g} s): see the profile")
        finally:
            if prof:
                prof.disable()
            m.wall_s = time.perf_counter() - w0
            m.client_cpu_s = time.process_time() - c0
            if limit:
                signal.alarm(0)
                signal.signal(signal.SIGALRM, old)
            if sampler:
                sampler.stop()
        if self.args.tracemalloc:
            m.py_heap_peak_mb = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
            tracemalloc.stop()
        hwm = _status_kb("VmHWM")
        if rss0 is not None:
            m.rss_start_mb = round(rss0 / 1024, 1)
        if hwm is not None and have_hwm:
            m.rss_peak_mb = round(hwm / 1024, 1)
        m.emulators_cpu_s = emus.cpu() - srv0
        m.requests = emus.counts()
        m.writes = {w: sum(c.get(f, 0) for f in WRITE_FAMILIES) for w, c in m.requests.items()}
        m.notes["page_writes"] = {w: c.get("POST page-edit", 0) for w, c in m.requests.items()}
        if run is not None:
            m.exit_code = run.exit_code
            m.client_requests = run.stats
            m.notes["report_writes"] = run.report.get("writes")
            m.notes["instance_errors"] = run.report.get("instance_errors")
            m.notes["attention"] = [n["message"] for n in run.report.get("notices", []) if n["level"] == "attention"][:10]
        if sampler:
            m.profile = {"sampler": sampler.top(30)}
            print(f"\n--- profile of {name}\n{sampler.report()}", flush=True)
        if prof:
            out = Path(self.args.cprofile)
            out.mkdir(parents=True, exist_ok=True)
            path = out / f"{self.args.actors}-{name.split()[0].strip('()')}.prof"
            prof.dump_stats(str(path))
            print(f"cProfile written to {path}", flush=True)
            _print_cprofile(prof)
        self.results.append(m)
        return m, run

    def run(self) -> int:
        args = self.args
        data = make_dataset(args.actors, seed=args.seed, lookalikes=args.lookalikes)
        with EmulatorProcess(self.users, latency=args.latency, contract=args.contract) as emus:
            t = time.perf_counter()
            ids_a = emus.seed("polesnoe", data.wiki_a)
            emus.seed("tel", data.wiki_b)
            seed_s = time.perf_counter() - t
            print(f"seeded {len(data.wiki_a)} + {len(data.wiki_b)} entries ({data.shared} per wiki are the same "
                  f"actor as one of the other wiki) in {seed_s:.1f} s, inside the emulator process (no HTTP)",
                  flush=True)
            cfg = self.config(emus.urls)
            members = Members(emus.urls, self.users)
            k = args.edits

            # (1) first import
            m, run = self.measure("(1) first import", emus, cfg)
            unique = len(data.wiki_a) + len(data.wiki_b) - data.shared
            counts = emus.entry_count()
            m.notes.update(actors=unique, entries_after=counts, expected_creates_per_wiki=len(data.wiki_a) - data.shared)
            if run is not None:
                store = app.open_store(cfg)
                m.notes.update(records=len(store.records("actor")), review_open=len(store.review_items("open")),
                               conflicts_open=len(store.conflicts("open")))
                store.close()
            if m.failures:  # stopped at the time limit: the next scenarios would measure a half-done import
                return self.finish()

            # (2) no-op
            m, _ = self.measure("(2) no-op", emus, cfg)
            for w, c in m.requests.items():
                m.check(c == {"GET list": 1}, f"no-op: {w} receives exactly one listing and nothing else "
                                              f"(got {_fmt(c)})")

            # (3) k member edits, then a sync
            # members edit actors only their own wiki lists (no open conflict can hold their edit back) and
            # that the first import linked (an entry waiting in the review queue is not synced)
            store = app.open_store(cfg)
            linked = {l.remote_id for l in store.links(instance="polesnoe") if l.remote_id}
            store.close()
            own_a = [rid for i, rid in enumerate(ids_a) if i not in data.shared_a and rid in linked]
            edited = own_a[:k]
            for i, rid in enumerate(edited):
                members.edit("polesnoe", rid, {"bf_chapeau": f"Chapeau modifié par un membre ({i}, {time.time():.0f})"})
            m, _ = self.measure(f"(3) {k} edits", emus, cfg)
            total = sum(m.writes.values())
            m.check(total == k, f"k edits: exactly {k} entry writes (got {total}: {m.writes})")
            m.check(m.writes.get("polesnoe", 0) == 0, "k edits: nothing written back to the wiki edited")
            for w, c in m.requests.items():
                m.check(c.get("GET list", 0) == 1, f"k edits: one listing of {w} (got {c.get('GET list', 0)})")

            # (4) one listing fails: nothing is written to that wiki, nothing deleted anywhere
            for i, rid in enumerate(own_a[k:2 * k]):
                members.edit("polesnoe", rid, {"bf_chapeau": f"Autre modification ({i}, {time.time():.0f})"})
            emus.inject("tel", "GET", rf"api/forms/{ACTOR_FORM}/entries", "500", 1)
            m, run = self.measure("(4) tel listing fails", emus, cfg)
            m.check(m.writes.get("tel", 0) == 0, f"failed listing: nothing written to tel (got {m.writes.get('tel')})")
            deletes = sum(c.get("DELETE delete", 0) for c in m.requests.values())
            m.check(deletes == 0, f"failed listing: no deletion anywhere (got {deletes})")
            m.check(m.exit_code == 1, f"failed listing: exit code 1 (got {m.exit_code})")
            m.check(bool(run and "tel" in run.result.instance_errors), "failed listing: tel reported in error")

            # (4b) the next run catches up with exactly the k edits it could not carry
            m, _ = self.measure("(4b) next run", emus, cfg)
            total = sum(m.writes.values())
            m.check(total == k, f"catch-up: exactly {k} entry writes (got {total}: {m.writes})")
        return self.finish()

    def finish(self) -> int:
        print_table(self.results, self.args)
        save(self.results, self.args)
        failures = [f for m in self.results for f in m.failures]
        if failures:
            print("\nCOST RULES BROKEN / RUN INCOMPLETE:", file=sys.stderr)
            for m in self.results:
                for f in m.failures:
                    print(f"  {m.name}: {f}", file=sys.stderr)
            return 1
        print("\nall cost rules held")
        return 0


def _on_alarm(signum, frame):  # noqa: ANN001
    raise TimeLimit()


def _fmt(c: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(c.items())) or "none"


def _print_cprofile(prof: cProfile.Profile) -> None:
    import io
    import pstats

    buf = io.StringIO()
    st = pstats.Stats(prof, stream=buf)
    st.sort_stats("cumulative").print_stats(30)
    st.sort_stats("tottime").print_stats(15)
    print(buf.getvalue(), flush=True)


def print_table(results: list[Measure], args: argparse.Namespace) -> None:
    lat = "contract (§9)" if args.contract else f"{args.latency * 1000:g} ms/request"
    print(f"\n{args.actors} actors, latency {lat}; import of the client: {IMPORT_WALL:.2f} s wall, "
          f"{IMPORT_CPU:.2f} s CPU")
    head = f"{'scenario':24s} {'wall s':>8s} {'cli CPU s':>9s} {'emu CPU s':>9s} {'RSS peak MB':>12s} " \
           f"{'req a':>6s} {'req b':>6s} {'writes a/b':>11s}  check"
    print(head)
    print("-" * len(head))
    for m in results:
        ra, rb = (sum(m.requests.get(w, {}).values()) for w in WIKIS)
        rss = f"{m.rss_peak_mb:.0f} (+{m.rss_peak_mb - m.rss_start_mb:.0f})" if m.rss_peak_mb and m.rss_start_mb \
            else "?"
        wr = f"{m.writes.get(WIKIS[0], 0)}/{m.writes.get(WIKIS[1], 0)}"
        ok = "FAIL" if m.failures else ("ok" if m.checks else "-")
        print(f"{m.name:24s} {m.wall_s:8.1f} {m.client_cpu_s:9.1f} {m.emulators_cpu_s:9.1f} {rss:>12s} "
              f"{ra:6d} {rb:6d} {wr:>11s}  {ok}")
    print("\nrequests by family (server side):")
    for m in results:
        for w in WIKIS:
            print(f"  {m.name:24s} {w:9s} {_fmt(m.requests.get(w, {}))}")
    for m in results:
        if m.notes.get("records") is not None:
            print(f"\nafter the first import: {m.notes['records']} records for {m.notes['actors']} actors, "
                  f"{m.notes['review_open']} entries waiting in the review queue, {m.notes['conflicts_open']} "
                  f"conflicts; entries per wiki {m.notes['entries_after']}")


def save(results: list[Measure], args: argparse.Namespace) -> None:
    path = Path(args.output)
    try:
        existing = json.loads(path.read_text()) if path.exists() else {}
    except ValueError:
        existing = {}
    key = f"{args.actors} actors, " + ("look-alike titles, " if args.lookalikes else "") + ("contract latency" if args.contract else f"latency {args.latency:g} s")
    existing[key] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "processor": _cpu_model(), "python": platform.python_version(),
                    "system": platform.platform()},
        "store": "sqlite file" if not args.store_url else args.store_url.split(":")[0],
        "profiled": bool(args.cprofile),
        "import": {"wall_s": round(IMPORT_WALL, 3), "cpu_s": round(IMPORT_CPU, 3)},
        "scenarios": [{**{k: (round(v, 3) if isinstance(v, float) else v) for k, v in m.__dict__.items()}}
                      for m in results],
    }
    path.write_text(json.dumps(existing, indent=1, ensure_ascii=False) + "\n")
    print(f"\nresults written to {path}")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--actors", type=int, default=1000, help="actors in all (N/2 entries per wiki); default 1000")
    p.add_argument("--edits", type=int, default=10, help="k, the member edits of scenarios 3 and 4")
    p.add_argument("--latency", type=float, default=0.02, help="seconds per request (default 0.02)")
    p.add_argument("--contract", action="store_true", help="per-route latency of the contract's real YesWiki")
    p.add_argument("--seed", type=int, default=2024, help="seed of the synthetic data")
    p.add_argument("--lookalikes", action="store_true",
                   help="titles with one invented word: many distinct actors look alike (review queue)")
    p.add_argument("--store-url", default=None, help="store to use (default: a fresh SQLite file)")
    p.add_argument("--no-sample", dest="sample", action="store_false", help="no sampling profiler")
    p.add_argument("--cprofile", metavar="DIR", default=None,
                   help="also run cProfile (inflates CPU times) and write DIR/<actors>-<scenario>.prof")
    p.add_argument("--tracemalloc", action="store_true", help="also the Python heap peak (slows the client)")
    p.add_argument("--time-limit", type=float, default=None, metavar="S",
                   help="stop a scenario after S seconds and print where its time went")
    p.add_argument("--output", default=str(HERE / "results.json"))
    args = p.parse_args(argv)
    return Bench(args).run()


if __name__ == "__main__":
    sys.exit(main())
