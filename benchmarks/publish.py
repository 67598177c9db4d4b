"""The published benchmark tables, made from the committed `benchmarks/results.json` and nothing else.

    python -m benchmarks.publish           # writes docs/benchmarks.md and the figures block of benchmarks/README.md
    python -m benchmarks.publish --check   # exit 1 if either differs from what results.json gives

Every figure of docs/benchmarks.md and of the README's block between the `<!-- figures -->` markers comes from
results.json (tests/test_benchmarks_doc.py checks that the committed files are what this command makes).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"
FIRST_IMPORT = HERE / "first_import_results.json"  # benchmarks/first_import.py (creates at the servers' pace)
DOC = HERE.parent / "docs" / "benchmarks.md"
README = HERE / "README.md"
BEGIN, END = "<!-- figures: python -m benchmarks.publish -->", "<!-- /figures -->"
SIZES = (1000, 3000, 10000)  # the quiet run at each, to show how cost grows with N
FULL = (1000, 10000)  # every scenario at these
LATENCY = 0.02

NAMES = {  # scenario -> how the tables name it
    "(1) first import": "import initial",
    "(2) run after import": "passage suivant (relit ce que l'import a écrit)",
    "(2q) quiet run": "**passage sans changement**",
    "(3r) run after": "passage suivant (relit ces écritures)",
    "(3q) 10 edits": "10 modifications",
    "(4) tel listing fails": "k modifications, liste de « tel » en échec",
    "(4b) next run": "passage suivant (rattrapage)",
}


def key(actors: int, latency: float = LATENCY) -> str:
    return f"{actors} actors, latency {latency:g} s"


def run_of(results: dict[str, Any], actors: int) -> dict[str, Any] | None:
    """The run of this size (both wikis and Nextclouds, the usual titles): at 20 ms per request when there is one,
    else at whatever fixed latency it was measured (the client's CPU hardly depends on it, the wall time does)."""
    found = [k for k in results if k.startswith(f"{actors} actors, latency ")]
    if not found:
        return None
    return results[key(actors) if key(actors) in found else sorted(found)[0]]


def latency_of(run: dict[str, Any]) -> str:
    ms = (run.get("latency_s") or 0) * 1000
    return f"{fr(ms, 0)} ms d'attente par requête"


def fr(x: float, digits: int = 2) -> str:
    """A number as French text: decimal comma, thin groups of thousands (1 234,5)."""
    text = f"{x:,.{digits}f}".replace(",", "\u202f").replace(".", ",")
    return text


def n(x: int) -> str:
    return f"{x:,}".replace(",", "\u202f")


def name_of(scenario: str) -> str:
    if scenario in NAMES:
        return NAMES[scenario]
    if scenario.startswith("(3) "):
        return f"{scenario.split()[1]} modifications (k = 1 %)"
    return scenario


def requests(s: dict[str, Any]) -> int:
    return sum(sum(c.values()) for c in s["requests"].values())


def kilobytes(s: dict[str, Any]) -> float:
    return sum(b["received"] + b["sent"] for b in s.get("bytes", {}).values()) / 1000


def planned(s: dict[str, Any]) -> tuple[int, int]:
    work = s.get("work") or {}
    return sum(w["cleaned"] for w in work.values()), sum(w["planned"] for w in work.values())


def built(s: dict[str, Any]) -> str:
    b = s.get("built") or {}
    return " / ".join(n(b.get(k, 0)) for k in ("pages", "cards", "events", "exports"))


def writes(s: dict[str, Any]) -> str:
    w = s.get("writes", {})
    return " / ".join(n(w.get(k, 0)) for k in ("polesnoe", "tel"))


def minimum(s: dict[str, Any]) -> str:
    if not s.get("minimum"):
        return "–"
    least = sum(s["minimum"].values())
    return f"{n(least)} ({fr(requests(s) / least, 2)})" if least else "–"


def scenario_table(run: dict[str, Any]) -> list[str]:
    lines = ["| scénario | requêtes | minimum (rapport) | ko échangés | CPU client s | temps réel s | pic RSS Mo | "
             "écritures a / b | fiches nettoyées / enregistrements planifiés | pages / cartes / événements / exports "
             "construits | règles |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in run["scenarios"]:
        cleaned, plan = planned(s)
        rules = "**violée**" if s["failures"] else ("tenues" if s["checks"] else "–")
        lines.append(f"| {name_of(s['name'])} | {n(requests(s))} | {minimum(s)} | {n(round(kilobytes(s)))} | "
                     f"{fr(s['client_cpu_s'])} | {fr(s['wall_s'], 1)} | {fr(s['rss_peak_mb'] or 0, 0)} | {writes(s)} | "
                     f"{n(cleaned)} / {n(plan)} | {built(s)} | {rules} |")
    return lines


def scenario(run: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in run["scenarios"] if s["name"] == name)


def quiet(run: dict[str, Any]) -> dict[str, Any]:
    return scenario(run, "(2q) quiet run")


def ten_edits(run: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in run["scenarios"] if s["name"] in ("(3q) 10 edits", "(3) 10 edits"))


def growth_table(results: dict[str, Any]) -> list[str]:
    lines = ["| acteurs | attente par requête | fiches listées | CPU client s | par 1 000 acteurs | pic RSS Mo | requêtes / minimum (rapport) | "
             "fiches nettoyées / enregistrements planifiés |",
             "|---|---|---|---|---|---|---|---|"]
    for size in SIZES:
        run = run_of(results, size)
        if run is None:
            continue
        q = quiet(run)
        cleaned, plan = planned(q)
        listed = sum(w["listed"] for w in q["work"].values())
        lines.append(f"| {n(size)} | {fr((run.get('latency_s') or 0) * 1000, 0)} ms | {n(listed)} | {fr(q['client_cpu_s'])} | {fr(q['client_cpu_s'] / size * 1000, 3)} | "
                     f"{fr(q['rss_peak_mb'] or 0, 0)} | {n(requests(q))} / {minimum(q)} | {n(cleaned)} / {n(plan)} |")
    return lines


def machine(run: dict[str, Any]) -> str:
    m = run["machine"]
    return f"{m['cpus']} cœurs ({m['processor']}), Python {m['python']}, magasin {run['store']}, mesuré le {run['date']}"


def verdict(ok: bool) -> str:
    return "atteint" if ok else "**manqué**"


def targets(results: dict[str, Any]) -> list[str]:
    """The targets of issue 16 against the 10,000-actor run."""
    run = run_of(results, 10000)
    if run is None:
        return ["(pas encore de mesure à 10 000 acteurs)"]
    q, e = quiet(run), ten_edits(run)
    least = sum(q["minimum"].values())
    peak, start = q["rss_peak_mb"] or 0, q.get("rss_start_mb") or 0
    ratio = e["client_cpu_s"] / q["client_cpu_s"]
    return [
        f"- passage sans changement à 10 000 acteurs : **{fr(q['client_cpu_s'])} s** de CPU client (objectif ≤ 1 s : "
        f"{verdict(q['client_cpu_s'] <= 1)}) ; {n(requests(q))} requêtes pour un minimum de {n(least)} (rapport "
        f"{fr(requests(q) / least, 2)} : {verdict(requests(q) == least)}) ; aucune fiche nettoyée, aucun "
        f"enregistrement planifié, rien de construit ;",
        f"- pic de mémoire du même passage : **{fr(peak, 0)} Mo** (objectif ≤ 300 Mo : {verdict(peak <= 300)}), dont "
        f"{fr(max(peak - start, 0), 0)} Mo pris pendant le passage ; le reste ({fr(start, 0)} Mo) est le processus "
        f"tel que l'import initial et les passages précédents, faits dans le même processus, l'ont laissé ;",
        f"- 10 modifications à 10 000 acteurs : **{fr(e['client_cpu_s'])} s** de CPU client, soit {fr(ratio, 1)} "
        f"fois le passage sans changement (objectif ≤ 2 : {verdict(ratio <= 2)}).",
    ]


def share(s: dict[str, Any], where: str) -> float | None:
    inclusive = ((s.get("profile") or {}).get("sampler") or {}).get("inclusive") or []
    return dict(map(tuple, inclusive)).get(where)


def gaps(results: dict[str, Any]) -> list[str]:
    """Why a target is missed, in figures of results.json."""
    run = run_of(results, 10000)
    if run is None:
        return []
    q, e = quiet(run), ten_edits(run)
    per = [quiet(r)["client_cpu_s"] / size * 1000 for size in SIZES if (r := run_of(results, size))]
    listed = sum(w["listed"] for w in q["work"].values())
    out = []
    if q["client_cpu_s"] > 1:
        out.append(
            f"- Passage sans changement : rien n'est nettoyé, planifié ni construit, et le coût est linéaire "
            f"({fr(min(per), 3)} à {fr(max(per), 3)} s de CPU par 1 000 acteurs de 1 000 à 10 000). Ce qui reste est "
            f"proportionnel à ce qui est lu : les {n(listed)} fiches des listes ({n(round(kilobytes(q)))} ko), "
            f"décodées puis résumées chacune par une empreinte, et les états gardés par le service (empreintes des "
            f"enregistrements, cartes écrites) relus à chaque passage. Passer sous 1 s demande de ne plus relire "
            f"les fiches inchangées (listes incrémentales, issue 16 point 2) et de ne plus décoder ces états en entier.")
    if q["rss_peak_mb"] and q["rss_peak_mb"] > 300:
        out.append(
            f"- Mémoire : le passage lui-même prend {fr(q['rss_peak_mb'] - (q.get('rss_start_mb') or 0), 0)} Mo ; "
            f"le pic mesuré compte aussi ce que le processus garde de l'import initial de 10 000 acteurs fait juste "
            f"avant dans le même processus ({fr(q.get('rss_start_mb') or 0, 0)} Mo au début du passage). Un "
            f"passage lancé seul (`oscartes-sync sync` en service) n'a pas cet héritage ; il n'est pas mesuré ici.")
    ratio = e["client_cpu_s"] / q["client_cpu_s"]
    built = share(e, "oscartes_sync/publish/exports.py:built")
    if ratio > 2 and built is not None:
        out.append(
            f"- 10 modifications : les fichiers d'export montrent tous les enregistrements et sont reconstruits en "
            f"entier dès qu'un seul change (les {n((e.get('built') or {}).get('events', 0))} événements du flux "
            f"compris) : {fr(built * 100, 0)} % du temps réel de ce passage. Les cartes, elles, ne sont construites "
            f"que pour les acteurs modifiés ({n((e.get('built') or {}).get('cards', 0))}). Tenir l'objectif demande "
            f"des exports construits par ligne, chaque ligne gardée tant que son enregistrement ne change pas.")
    return out


PHASES = {  # sampled location -> how the phase table names it
    "oscartes_sync/sync/engine.py:run_sync": "synchronisation des fiches",
    "oscartes_sync/sync/engine.py:read": "dont lecture des listes",
    "oscartes_sync/sync/execute.py:run": "dont écriture des fiches modifiées",
    "oscartes_sync/publish/nextcloud_publish.py:publish_nextclouds": "publication vers les Nextcloud",
    "oscartes_sync/publish/addressbook.py:sync_addressbook": "dont carnets d'adresses",
    "oscartes_sync/publish/exports.py:built": "dont construction des exports (flux des événements compris)",
    "oscartes_sync/publish/calendar.py:sync_calendar": "dont agendas",
    "oscartes_sync/publish/wiki_publish.py:publish_wikis": "publication des pages des wikis",
}


def phases(run: dict[str, Any], names: list[str]) -> list[str]:
    """Where the wall time of some scenarios went, from the sampling profiler kept in results.json."""
    shown = [s for s in run["scenarios"] if s["name"] in names and (s.get("profile") or {}).get("sampler")]
    if not shown:
        return []
    lines = ["| phase | " + " | ".join(f"{name_of(s['name'])} : part du temps réel (s)" for s in shown) + " |",
             "|---|" + "---|" * len(shown)]
    for where, label in PHASES.items():
        cells = []
        for s in shown:
            share = dict(map(tuple, s["profile"]["sampler"]["inclusive"])).get(where)
            cells.append("–" if share is None else f"{fr(share * 100, 0)} % ({fr(share * s['wall_s'], 1)})")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def first_import_table(imports: dict[str, Any]) -> list[str]:
    """The first-import throughput runs of benchmarks/first_import.py, sequential against concurrent creates."""
    lines: list[str] = []
    for section, title in (("emulated", "wikis émulés"), ("live", "vrais wikis du banc")):
        part = imports.get(section)
        if not isinstance(part, dict) or not part.get("runs"):
            continue
        lines += [f"{title.capitalize()} ({part.get('latency', '–')}) : accélération "
                  f"**{fr(part.get('speedup') or 0, 2)}** (objectif ≥ 3).", "",
                  "| créations | en parallèle | fiches créées | temps réel s | CPU client s | créations par s | "
                  "pic RSS Mo | requêtes | aucune écriture en double |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in part["runs"]:
            check = r.get("check") or {}
            lines.append(f"| {r.get('run', '–')} | {r.get('parallel_creates', '–')} | {n(r.get('creates', 0))} | "
                         f"{fr(r.get('wall_s', 0), 1)} | {fr(r.get('client_cpu_s', 0))} | "
                         f"{fr(r.get('creates_per_s', 0), 1)} | {fr(r.get('rss_peak_mb') or 0, 0)} | "
                         f"{n(sum((r.get('requests') or {}).values()))} | "
                         f"{'oui' if check.get('no_overwrite') else 'non'} |")
        lines.append("")
    return lines


def render_doc(results: dict[str, Any], imports: dict[str, Any] | None = None) -> str:
    out = ["# Mesures de performance du client de synchronisation", "",
           "Ce fichier est produit par `python -m benchmarks.publish` à partir de `benchmarks/results.json` : ne pas "
           "le modifier à la main (un test vérifie qu'il est bien ce que la commande produit). La méthode et les "
           "commandes sont décrites dans `benchmarks/README.md`.", "",
           "Ce qui est mesuré : le client seul. Les deux YesWiki et les deux Nextcloud émulés tournent dans un autre "
           "processus (serveur werkzeug multi-thread, une attente fixe par requête, indiquée pour chaque mesure). Le temps CPU du client est "
           "`time.process_time()` du processus client, le pic de mémoire sa VmHWM (remise à zéro avant chaque "
           "scénario), les requêtes et les octets sont comptés côté serveur. La machine est partagée avec "
           "d'autres travaux (2 cœurs) : le temps CPU n'en dépend presque pas, le temps réel si.", "",
           "Le minimum est ce que les règles de coût permettent (DECISIONS §13-14) : par wiki une lecture de liste "
           "par formulaire synchronisé, par Nextcloud un REPORT par carnet d'adresses et par agenda et un PROPFIND "
           "par dossier surveillé ; en plus, par fiche écrite, relecture avant, formulaire d'édition, relecture "
           "après et historique des révisions (et une connexion par wiki écrit) ; par carte ou fichier d'export "
           "dont le contenu change, une écriture ; et une lecture de chaque fichier écrit au passage précédent "
           "(son ETag ne prouve rien dans la seconde de son écriture).", "",
           "## Objectifs (issue 16)", "", *targets(results), ""]
    if gaps(results):
        out += ["Pourquoi un objectif est manqué :", "", *gaps(results), ""]
    for size in FULL:
        run = run_of(results, size)
        if run is None:
            continue
        first = scenario(run, "(1) first import")
        notes = first.get("notes", {})
        out += [f"## {n(size)} acteurs", "",
                f"{n(notes.get('records', 0))} enregistrements d'acteurs et {n(notes.get('events', 0))} événements "
                f"après l'import, {n(notes.get('review_open', 0))} fiches en attente de revue ; deux wikis et deux "
                f"Nextcloud ; {latency_of(run)} ; {machine(run)}. Import du client : {fr(run['import']['cpu_s'])} s de CPU.", "",
                *scenario_table(run), ""]
        split = phases(run, ["(2q) quiet run", "(3q) 10 edits", "(3) 10 edits"])
        if split:
            out += ["Où passe le temps (profileur par échantillonnage, pile du fil principal toutes les 5 ms ; le "
                    "temps réel comprend l'attente des serveurs) :", "", *split, ""]
    if imports and first_import_table(imports):
        out += ["## Import initial au rythme des serveurs", "",
                "Mesuré par `python -m benchmarks.first_import` (`benchmarks/first_import_results.json`) : les mêmes "
                "fiches créées une à une puis plusieurs à la fois par wiki.", "", *first_import_table(imports)]
    out += ["## Croissance avec la taille de l'annuaire", "",
            "Le même passage sans changement à 1 000, 3 000 et 10 000 acteurs : aucune fiche n'est nettoyée ni "
            "planifiée, quel que soit N ; ce qui reste grandit avec les listes lues (les deux listes par wiki sont "
            "lues et chaque fiche est résumée par une empreinte).", "", *growth_table(results), ""]
    return "\n".join(out)


def render_readme_block(results: dict[str, Any]) -> str:
    lines = [BEGIN, ""]
    lines += targets(results)
    lines += ["", "Passage sans changement selon la taille de l'annuaire :", "", *growth_table(results), "", END]
    return "\n".join(lines)


def with_block(readme: str, block: str) -> str:
    if BEGIN not in readme or END not in readme:
        raise SystemExit(f"{README} has no {BEGIN} ... {END} block")
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + block + tail


def load(path: Path | None = None) -> dict[str, Any]:
    return json.loads((path or RESULTS).read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.publish", description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if a published file is stale")
    args = p.parse_args(argv)
    results = load()
    imports = load(FIRST_IMPORT) if FIRST_IMPORT.exists() else None
    doc = render_doc(results, imports) + "\n"
    readme = with_block(README.read_text(encoding="utf-8"), render_readme_block(results))
    if args.check:
        stale = [str(f) for f, text in ((DOC, doc), (README, readme))
                 if not f.exists() or f.read_text(encoding="utf-8") != text]
        if stale:
            print("stale: " + ", ".join(stale) + " (run python -m benchmarks.publish)", file=sys.stderr)
            return 1
        return 0
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(doc, encoding="utf-8")
    README.write_text(readme, encoding="utf-8")
    print(f"written {DOC} and the figures of {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
