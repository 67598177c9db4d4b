"""The fault suite over real processes (issue 18): what a coordinator must be able to trust of an unattended run.

Two emulated wikis and a Nextcloud run in a process of their own (benchmarks/emulators.py); every sync is a real
`oscartes-sync sync` process with its config file, secrets in its environment and its SQLite store on disk.

* SIGKILL at seeded random points: the emulators count the requests of a run and, at the k-th one, stop; the
  suite kills the sync process with SIGKILL right then, either after the server handled that request ("after":
  a create or an edit is made, its answer never arrives) or before ("before"). Points are drawn with a seed
  over the requests of the first import and of a run with edits in both wikis, a new entry, a deletion and a
  conflict. Then one clean run.
* Faults the emulators inject (each one the contracts show a real server produce, or a network cut; see
  oscartes_sync/sandbox/recording.py): a listing cut mid-JSON, an HTML page with status 200, the Nextcloud's
  429, timeouts, a connection reset in the middle of a create, a 500. Then one clean run.
* Two runs started together: one refuses at once (exit 1, DECISIONS §12) and changes nothing.

After each case the same checks: every wiki holds exactly the expected entries, once each, each linked to one
record and agreeing with it (fields in open conflict aside); one card per live record in the address book; no
member edit lost; the conflict still recorded; and the run reports say what happened (the faulted instance is
named, or the write it recovered is counted). `python tests/fault_suite.py --full` runs every case and writes
the summary table to docs/faults.md; tests/test_faults.py runs a small seeded subset.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.emulators import ACTOR_FORM, CLOUD, WIKIS, EmulatorProcess  # noqa: E402
from oscartes_sync.config import DEFAULT_FORM_IDS  # noqa: E402
from oscartes_sync.fields import default_form_map, to_canonical  # noqa: E402
from oscartes_sync.store import Store  # noqa: E402

FMAP = default_form_map("actor", DEFAULT_FORM_IDS)
BOOK = "oscartes"
TIMEOUT = 1.5  # the suite's [sync] http_timeout, so that a slow answer is a timeout in seconds, not minutes


def entry(title: str, commune: str = "Orsay", postcode: str = "91400", **extra: str) -> dict[str, str]:
    return {"bf_titre": title, "bf_ville": commune, "bf_codepostal": postcode, **extra}


# ---- the scenario -------------------------------------------------------------------------------------------------

SEED_A = [entry("Recyclerie des Ulis", "Les Ulis", "91940", bf_horaires="Sa 10:00-12:00"),
          entry("AMAP des Coteaux"), entry("Atelier vélo Roue Libre", "Massy", "91300"),
          entry("Fablab Orsay Sciences")]
SEED_B = [entry("AMAP des Coteaux", bf_site_internet="https://amap.example"),  # a twin: linked, not copied
          entry("Épicerie La Fourmi", "Igny", "91430"), entry("Jardin des Sablons", "Palaiseau", "91120")]
FIRST = sorted({e["bf_titre"] for e in SEED_A + SEED_B})
SECOND = sorted([t for t in FIRST if t != "Fablab Orsay Sciences"] + ["Repair café de Massy"])
# the members' edits of the second round: (title, canonical field) -> value that must not be lost
EDITS = {("Recyclerie des Ulis", "opening_hours"): "Mo-Fr 09:00-18:00",
         ("Épicerie La Fourmi", "short_description"): "Épicerie solidaire",
         ("Jardin des Sablons", "website"): "https://sablons.example"}
CONFLICT = ("AMAP des Coteaux", "short_description")  # changed differently in both wikis in one round


@dataclass
class Case:
    name: str  # the row of the table it counts in
    detail: str
    converged: bool = False
    lost: int = 0
    duplicates: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Suite:
    """The emulator process, and one fresh installation (config, secrets, store) per case."""

    def __init__(self, seed: int = 18):
        self.seed = seed
        self.secrets = {"admin_user": "WikiAdmin", "admin_password": secrets.token_hex(8),
                        "admin_token": secrets.token_hex(16), "member_user": "MembreActif",
                        "member_password": secrets.token_hex(8), "member_token": secrets.token_hex(16),
                        "cloud_app_password": secrets.token_hex(24)}
        self.emu = EmulatorProcess(self.secrets, latency=0.0, cloud=True, tripwire=True)
        self.urls = self.emu.urls
        self.tmp = tempfile.TemporaryDirectory(prefix="oscartes-faults-")
        self.n = 0
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("OSCARTES_")},
                    "LC_ALL": "en_US.UTF-8", "LANG": "en_US.UTF-8",  # the checks read the English messages
                    "FAULTS_WIKI_TOKEN": self.secrets["admin_token"],
                    "FAULTS_WIKI_PASSWORD": self.secrets["admin_password"],
                    "FAULTS_CLOUD_PASSWORD": self.secrets["cloud_app_password"]}
        self.dir = Path(".")

    def close(self) -> None:
        self.emu.stop()
        self.tmp.cleanup()

    # -- one installation
    def fresh(self, timeout: float = TIMEOUT) -> None:
        self.emu.arm(None)
        self.emu.clear_faults()
        self.emu.fresh()
        self.n += 1
        self.dir = Path(self.tmp.name) / f"case{self.n}"
        self.dir.mkdir()
        wikis = "".join(
            f'[[wiki]]\nname = "{w}"\nurl = "{self.urls[w]}"\napi_token_env = "FAULTS_WIKI_TOKEN"\n'
            f'admin_user = "WikiAdmin"\nadmin_password_env = "FAULTS_WIKI_PASSWORD"\n\n' for w in WIKIS)
        (self.dir / "oscartes.toml").write_text(
            '[store]\nurl = "sqlite:///oscartes.db"\n\n'
            f'[sync]\nlock_file = "oscartes.lock"\nhttp_timeout = {timeout}\n\n'
            '[publish]\ndashboards = false\n\n' + wikis +
            f'[[nextcloud]]\nname = "{CLOUD}"\nurl = "{self.urls[CLOUD]}"\nuser = "oscartes"\n'
            'app_password_env = "FAULTS_CLOUD_PASSWORD"\ngroup = "membres"\n', encoding="utf-8")
        (self.dir / "oscartes.toml").chmod(0o600)

    def sync(self, *, wait: bool = True):
        proc = subprocess.Popen([sys.executable, "-m", "oscartes_sync", "--config", str(self.dir / "oscartes.toml"),
                                 "sync", "--json"], cwd=self.dir, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        return self.finish(proc) if wait else proc

    @staticmethod
    def finish(proc) -> tuple[int, dict | None, str]:
        out, err = proc.communicate(timeout=300)
        try:
            report = json.loads(out) if out.strip() else None
        except ValueError:
            report = None
        return proc.returncode, report, err

    # -- members (the first round is seeded inside the emulator process; the second goes through HTTP)
    def seed_first_round(self) -> None:
        self.emu.seed("polesnoe", SEED_A)
        self.emu.seed("tel", SEED_B)

    def member(self, wiki: str):
        s = requests.Session()
        r = s.post(self.urls[wiki] + "?PagePrincipale", data={"name": self.secrets["member_user"],
                   "password": self.secrets["member_password"], "action": "login"}, allow_redirects=False)
        assert r.status_code == 302, "member login"
        return s

    def ids(self, wiki: str) -> dict[str, str]:
        return {e["bf_titre"]: i for i, e in self.emu.entries()[wiki].items()}

    def edit(self, wiki: str, title: str, changes: dict[str, str]) -> None:
        eid = self.ids(wiki)[title]
        current = self.emu.entries()[wiki][eid]
        form = {k: v for k, v in current.items() if isinstance(v, str) and k.startswith(("bf_", "checkbox", "liste"))}
        form.update(changes)
        form["antispam"] = "1"
        r = self.member(wiki).post(f"{self.urls[wiki]}?{eid}/edit", data=form, allow_redirects=False)
        assert r.status_code == 302, f"member edit {wiki}:{eid}"

    def second_round(self) -> None:
        """Edits in both wikis, a conflict, a new entry and a deletion, as members make them."""
        self.edit("polesnoe", "Recyclerie des Ulis", {"bf_horaires": "Mo-Fr 09:00-18:00"})
        self.edit("tel", "Épicerie La Fourmi", {"bf_chapeau": "Épicerie solidaire"})
        self.edit("tel", "Jardin des Sablons", {"bf_site_internet": "https://sablons.example"})
        self.edit("polesnoe", "AMAP des Coteaux", {"bf_chapeau": "Paniers bio du vendredi"})
        self.edit("tel", "AMAP des Coteaux", {"bf_chapeau": "Paniers paysans"})
        r = requests.post(f"{self.urls['tel']}?api/entries/{ACTOR_FORM}", data=entry("Repair café de Massy", "Massy",
                          "91300"), headers={"Authorization": f"Bearer {self.secrets['member_token']}"})
        assert r.status_code == 201
        fablab = self.ids("polesnoe")["Fablab Orsay Sciences"]
        r = requests.delete(f"{self.urls['polesnoe']}?api/pages/{fablab}",
                            headers={"Authorization": f"Bearer {self.secrets['admin_token']}"})
        assert r.status_code == 200

    def prepare(self, phase: str, timeout: float = TIMEOUT) -> None:
        """A fresh installation in the state just before the run under test."""
        self.fresh(timeout)
        self.seed_first_round()
        if phase == "edits":
            code, _, err = self.sync()
            assert code in (0, 1), f"clean first import failed: {err[-500:]}"
            self.second_round()

    # -- the checks
    def check(self, phase: str, case: Case) -> None:
        expected = FIRST if phase == "import" else SECOND
        entries = self.emu.entries()
        with Store(f"sqlite:///{self.dir / 'oscartes.db'}") as store:
            records = {r.id: r for r in store.records("actor")}
            conflicts = {(c.record_id, c.field): c for c in store.conflicts("open")}
            links = {w: {l.remote_id: l.record_id for l in store.links(instance=w) if l.remote_id} for w in WIKIS}
        by_title: dict[str, list] = {}
        for r in records.values():
            by_title.setdefault(r.fields.get("name"), []).append(r)
        for w in WIKIS:
            titles = [e.get("bf_titre") for e in entries[w].values()]
            for t in expected:
                n = titles.count(t)
                if n == 0:
                    case.lost += 1
                    case.problems.append(f"{w}: entry {t!r} missing")
                elif n > 1:
                    case.duplicates += n - 1
                    case.problems.append(f"{w}: {n} entries {t!r}")
            extra = sorted(set(titles) - set(expected))
            if extra:
                case.problems.append(f"{w}: unexpected entries {extra}")
            if set(links[w]) != set(entries[w]):
                case.problems.append(f"{w}: entries and links differ ({sorted(set(entries[w]) ^ set(links[w]))})")
            for eid, raw in entries[w].items():
                rid = links[w].get(eid)
                if rid not in records:
                    continue
                values, _ = to_canonical(raw, FMAP)
                for f, v in values.items():
                    if (rid, f) not in conflicts and records[rid].fields.get(f) != v:
                        case.problems.append(f"{w}:{eid}.{f} = {v!r}, record says {records[rid].fields.get(f)!r}")
        for t in expected:
            if len(by_title.get(t, [])) != 1:
                case.problems.append(f"{len(by_title.get(t, []))} records named {t!r}")
                case.duplicates += max(0, len(by_title.get(t, [])) - 1)
        if phase == "edits":
            for (t, f), value in EDITS.items():
                rec = (by_title.get(t) or [None])[0]
                if rec is None or rec.fields.get(f) != value:
                    case.lost += 1
                    case.problems.append(f"lost edit {t}.{f}")
            rec = (by_title.get(CONFLICT[0]) or [None])[0]
            c = conflicts.get((rec.id, CONFLICT[1])) if rec else None
            if c is None or sorted(c.candidates.values()) != ["Paniers bio du vendredi", "Paniers paysans"]:
                case.problems.append(f"conflict on {CONFLICT} not recorded with both values")
        cards = self.emu.cards(BOOK)
        uids = [line.split(":", 1)[1].strip() for text in cards.values() for line in text.splitlines()
                if line.startswith("UID:")]
        dup_cards = len(uids) - len(set(uids))
        case.duplicates += dup_cards
        if sorted(set(uids)) != sorted(records):
            case.problems.append(f"address book: {len(cards)} cards for {len(records)} records")

    def settle(self, phase: str, case: Case, killed: bool = False) -> None:
        """The clean run after a fault, then the checks; its report must name no instance in error, and after
        a kill, the run that was killed."""
        code, report, err = self.sync()
        if code not in (0, 1) or report is None:
            case.problems.append(f"clean run exit {code}: {err.strip()[-300:]}")
        elif report.get("instances_not_synced"):
            case.problems.append(f"clean run: instances not synced {report['instances_not_synced']}")
        elif killed:
            said = [n["message"] for n in report.get("notices", []) if "was interrupted" in n["message"]]
            with Store(f"sqlite:///{self.dir / 'oscartes.db'}") as store:
                statuses = [r.status for r in store.runs(100)]
            if len(said) != 1 or "running" in statuses or statuses.count("interrupted") != 1:
                case.problems.append(f"the killed run is not reported as interrupted ({said}, runs {statuses})")
        self.check(phase, case)
        case.converged = not case.problems

    # -- the cases
    def requests_of(self, phase: str) -> int:
        """How many requests the run under test makes, unkilled (the range the kill points are drawn in)."""
        self.prepare(phase)
        self.emu.arm(None)
        code, _, err = self.sync()
        assert code in (0, 1), err[-500:]
        return self.emu.tripped()["count"]

    def kill_case(self, phase: str, at: int, total: int, mode: str) -> Case:
        t0 = time.monotonic()
        self.prepare(phase)
        self.emu.arm(at, mode)
        proc = self.sync(wait=False)
        killed = False
        while proc.poll() is None:
            if self.emu.reached.wait(0.05):
                os.kill(proc.pid, signal.SIGKILL)
                killed = True
                break
        proc.communicate(timeout=60)
        self.emu.release.set()
        hit = self.emu.tripped()["hit"]
        self.emu.arm(None)
        case = Case(f"SIGKILL during the {'first import' if phase == 'import' else 'run with edits'}",
                    f"request {at}/{total} ({hit or 'not reached'}), {mode} it was handled")
        if not killed:
            case.problems.append(f"run ended before request {at}")
        self.settle(phase, case, killed=killed)
        case.seconds = time.monotonic() - t0
        return case

    def fault_case(self, fc: "Fault") -> Case:
        t0 = time.monotonic()
        self.prepare(fc.phase)
        self.emu.fault(fc.server, fc.method, fc.path, fc.kind, fc.times, fc.delay)
        code, report, err = self.sync()
        case = Case(fc.label, f"{fc.server} {fc.method} {fc.path} ({fc.phase})")
        if code not in (0, 1) or report is None:
            case.problems.append(f"faulted run exit {code}: {err.strip()[-300:]}")
        elif fc.expect == "named":
            named = set(report.get("instances_not_synced") or {}) | {
                n["instance"] for n in report.get("notices", []) if n["level"] == "attention"}
            if fc.server not in named or code != 1:
                case.problems.append(f"the report does not name {fc.server} (exit {code}, named {sorted(named)})")
        elif fc.expect == "recovered":
            writes = report.get("writes", {}).get(fc.server, {})
            if not writes.get("CreateEntry") or report.get("instances_not_synced"):
                case.problems.append(f"the recovered create is not in the report ({report.get('writes')})")
        self.emu.clear_faults()
        self.settle(fc.phase, case)
        case.seconds = time.monotonic() - t0
        return case

    def two_runs_case(self) -> Case:
        t0 = time.monotonic()
        self.prepare("edits", timeout=120)  # the held request must not time out
        self.emu.arm(1, "hold")  # the first run stops at its first request, holding the lock
        first = self.sync(wait=False)
        case = Case("two runs started together", "second started while the first holds the lock")
        if not self.emu.reached.wait(60):
            case.problems.append("the first run never reached the wiki")
        second = self.sync(wait=False)
        code, _, err = self.finish(second)
        if code != 1 or "another oscartes-sync run holds" not in err:
            case.problems.append(f"second run: exit {code}, {err.strip()[-200:]!r}")
        if first.poll() is not None:
            case.problems.append("the second run did not refuse while the first was running")
        self.emu.release.set()
        code1, report, err1 = self.finish(first)
        self.emu.arm(None)
        if code1 not in (0, 1) or report is None:
            case.problems.append(f"first run exit {code1}: {err1[-200:]}")
        self.check("edits", case)
        case.converged = not case.problems
        case.seconds = time.monotonic() - t0
        return case


@dataclass(frozen=True)
class Fault:
    label: str
    phase: str  # import | edits
    server: str
    method: str
    path: str
    kind: str
    expect: str  # named: the report names the instance; recovered: the write went through all the same
    times: int = 1
    delay: float = 2.0


LISTING = r"api/forms/\d+/entries"
FAULTS = [
    Fault("listing cut mid-JSON", "edits", "polesnoe", "GET", LISTING, "truncate", "named"),
    Fault("listing cut mid-JSON", "import", "tel", "GET", LISTING, "truncate", "named"),
    Fault("HTML page with status 200", "edits", "tel", "GET", LISTING, "html200", "named"),
    Fault("HTML page with status 200", "edits", "tel", "POST", r"/edit", "html200", "named"),
    Fault("429 from the Nextcloud", "import", CLOUD, "*", r".", "429", "named", times=1000),
    Fault("timeout", "edits", "polesnoe", "GET", LISTING, "slow", "named", times=3, delay=TIMEOUT + 1.5),
    Fault("timeout", "edits", "tel", "POST", r"/edit", "slow", "named", delay=TIMEOUT + 1.5),
    Fault("connection reset in the middle of a create", "import", "tel", "POST", r"api/entries/", "drop-after",
          "recovered"),
    Fault("connection reset in the middle of a create", "edits", "polesnoe", "POST", r"api/entries/", "drop-after",
          "recovered"),
    Fault("connection dropped before a create", "import", "polesnoe", "POST", r"api/entries/", "drop", "named"),
    Fault("500 on a create", "import", "tel", "POST", r"api/entries/", "500", "named"),
]


def kill_points(seed: int, totals: dict[str, int], per_phase: int) -> list[tuple[str, int, int, str]]:
    rng = random.Random(seed)
    out = []
    for phase, total in totals.items():
        for at in sorted(rng.sample(range(1, total + 1), min(per_phase, total))):
            out.append((phase, at, total, rng.choice(("after", "before"))))
    return out


def run(suite: Suite, per_phase: int, faults: list[Fault], two_runs: bool = True) -> list[Case]:
    totals = {phase: suite.requests_of(phase) for phase in ("import", "edits")}
    cases = [suite.kill_case(*p) for p in kill_points(suite.seed, totals, per_phase)]
    cases += [suite.fault_case(f) for f in faults]
    if two_runs:
        cases.append(suite.two_runs_case())
    return cases


def table(cases: list[Case], seed: int) -> str:
    rows: dict[str, list[Case]] = {}
    for c in cases:
        rows.setdefault(c.name, []).append(c)
    lines = ["| fault | tried | runs converged | entries lost | duplicates |", "|---|---:|---:|---:|---:|"]
    for name, cs in rows.items():
        lines.append(f"| {name} | {len(cs)} | {sum(c.converged for c in cs)} | {sum(c.lost for c in cs)} | "
                     f"{sum(c.duplicates for c in cs)} |")
    lines.append(f"| **all** | {len(cases)} | {sum(c.converged for c in cases)} | {sum(c.lost for c in cases)} | "
                 f"{sum(c.duplicates for c in cases)} |")
    detail = ["", f"Cases (seed {seed}):", "", "| case | detail | converged | problems |", "|---|---|---|---|"]
    for c in cases:
        detail.append(f"| {c.name} | {c.detail} | {'yes' if c.converged else 'NO'} | "
                      f"{'; '.join(c.problems)[:300] or '-'} |")
    return "\n".join(lines + detail) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--full", action="store_true", help="every fault, 16 kill points per phase; writes docs/faults.md")
    p.add_argument("--seed", type=int, default=18)
    p.add_argument("--kills", type=int, default=None, help="kill points per phase (default 16 with --full, else 2)")
    args = p.parse_args(argv)
    suite = Suite(args.seed)
    t0 = time.monotonic()
    try:
        cases = run(suite, args.kills or (16 if args.full else 2), FAULTS if args.full else FAULTS[:2])
    finally:
        suite.close()
    text = table(cases, args.seed)
    print(text)
    if args.full:
        out = ROOT / "docs" / "faults.md"
        out.parent.mkdir(exist_ok=True)
        out.write_text("# Fault suite over real processes (issue 18)\n\n"
                       "Written by `python tests/fault_suite.py --full` (emulators in their own process, each sync a "
                       "real `oscartes-sync sync` process); see the module's docstring for what is checked after "
                       f"each case. Took {time.monotonic() - t0:.0f} s.\n\n" + text, encoding="utf-8")
        print(f"written to {out}")
    return 0 if all(c.converged and not c.lost and not c.duplicates for c in cases) else 1


if __name__ == "__main__":
    sys.exit(main())
