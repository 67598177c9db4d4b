"""The replication kit (issue 17): what another territory needs to clone the OSCARTES set-up, under CC BY-SA 4.0.

A kit is a folder `oscartes-kit-<version>/` and its zip: the templates (`wiki_templates/`: forms, lists, pages,
documentation, glossary), the territory's parameters (`territory.json`), the forms, lists and pages ready for
YesWiki's own import (`yeswiki/`), the deploy files (`deploy/`), the documentation (`docs/`), `LICENSE` and
`KIT.json` (the kit's format and the version of oscartes-sync that made it). It is built from the set-up only:
templates, parameters, settings, never from the store, so it holds no entry, no member, no email, phone or
token. The same set-up gives the same bytes (files in a fixed order, fixed timestamps), so the archive published
in each Nextcloud is rewritten only when it changed.

`kit apply` opens a kit (folder or zip), refuses one from a newer format or a newer oscartes-sync, builds the
territory's parameters, provisions one wiki with the kit's templates and, once that worked, saves the
parameters where the config reads them, so that `provision` and `sync` go on serving that territory.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import templates
from .. import territory as territories
from ..config import DEFAULT_FORM_IDS, Config
from .docs import ATTRIBUTION, DEPLOY_FILES, DOC_PAGES, LICENCE, LICENCE_URL, build_setup, markdown_pages, \
    package_version, wiki_pages
from ..text import Text, message_of
from .fresh_wiki import fresh_wiki_pages
from .provision import ProvisionReport, run_provision

KIT_FORMAT = 1  # bumped when this version could not apply a kit of the next format
MANIFEST = "KIT.json"
PARAMS_FILE = "territory.json"
TEMPLATES = "wiki_templates"
LICENCE_FILE = Path(__file__).resolve().parents[1] / "data" / "CC-BY-SA-4.0.txt"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can hold: no build date in the archive


class KitError(Exception):
    """A kit that cannot be used, or a kit command that cannot run; the message says what to do."""


def kit_name(version: str | None = None) -> str:
    return f"oscartes-kit-{version or package_version()}"


# ---------------------------------------------------------------------------------------------- building

@dataclass
class Kit:
    name: str
    files: dict[str, bytes] = field(default_factory=dict)  # path inside the kit folder -> content
    notes: tuple[str, ...] = ()

    def zip_bytes(self) -> bytes:
        """The archive: one folder named after the kit, files sorted, fixed dates and modes."""
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            for path in sorted(self.files):
                info = zipfile.ZipInfo(f"{self.name}/{path}", date_time=_ZIP_TIME)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, self.files[path])
        return buf.getvalue()


def _json(data: Any) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def _licence(territory: territories.Territory) -> bytes:
    head = f"""Kit de réplication OSCARTES

Licence : Creative Commons Attribution - Partage dans les mêmes conditions 4.0 International ({LICENCE})
{LICENCE_URL}

Attribution : {ATTRIBUTION}.

Ce kit (gabarits des formulaires, des listes et des pages, paramètres du territoire, documentation) peut être
partagé et adapté, y compris à des fins commerciales, à condition de citer ses auteurs (« OSCARTES : {ATTRIBUTION} »,
avec un lien vers la licence et l'indication des modifications faites) et de publier les adaptations sous la même
licence.

Données des communes (territory.json, listes des communes) : {territory.source} (https://www.etalab.gouv.fr/licence-ouverte-open-licence/).
Le code du service oscartes-sync, qui n'est pas dans ce kit, est publié sous licence AGPL-3.0-or-later.

Texte officiel de la licence :

"""
    return (head + LICENCE_FILE.read_text(encoding="utf-8")).encode("utf-8")


def _readme(name: str, territory: territories.Territory) -> bytes:
    return f"""# {name}

Le kit de réplication d'OSCARTES, pour le territoire « {territory.name} » ({len(territory.communes)} communes).
Licence {LICENCE} : {ATTRIBUTION} (voir `LICENSE`).

- `docs/README.md` : la documentation (à quoi sert OSCARTES, les formulaires, les listes, les pages, la
  synchronisation, l'installation, l'adaptation à un nouveau territoire, l'import à la main) ;
- appliquer le kit à un wiki déclaré dans la configuration d'oscartes-sync :
  `oscartes-sync kit apply {name}.zip --wiki NOM --department CODE` (ou `--epci SIREN`, ou `--params territory.json`) ;
- sans le service : `docs/import-manuel.md` explique comment importer `yeswiki/lists/` et `yeswiki/forms/` par
  l'import de YesWiki, et coller les pages de `yeswiki/pages/`.
""".encode("utf-8")


def _template_files(root: Path) -> dict[str, bytes]:
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and not path.name.endswith(".pyc"):
            out[f"{TEMPLATES}/{path.relative_to(root).as_posix()}"] = path.read_bytes()
    return out


def build_kit(territory: territories.Territory | None = None, *, root: Path | None = None,
              cfg: Config | None = None) -> Kit:
    """The kit of this set-up (in memory). Raises templates.TemplateError / docs.DocsError for bad templates."""
    territory = territory or territories.origin()
    root = Path(root) if root is not None else templates.TEMPLATES_DIR
    name = kit_name()
    setup = build_setup(territory, root=root, forms=DEFAULT_FORM_IDS, cfg=cfg)
    files: dict[str, bytes] = {
        MANIFEST: _json({"kit": "oscartes", "format": KIT_FORMAT, "oscartes_sync": setup.version,
                         "territory": territory.name, "scope": territory.scope, "licence": LICENCE,
                         "attribution": ATTRIBUTION, "sources": territory.source}),
        "LICENSE": _licence(territory),
        "LISEZMOI.md": _readme(name, territory),
        PARAMS_FILE: territory.to_json().encode("utf-8"),
        **_template_files(root.resolve()),
    }
    for f in setup.forms:
        files[f"yeswiki/forms/{f.form_id}-{f.kind}.json"] = _json(form_import_json(f.form_id, f.label, f.bn_template))
    for lst in setup.lists:
        files[f"yeswiki/lists/{lst.id}.json"] = _json({"titre_liste": lst.title, "label": lst.values})
    settings = cfg or Config()
    fresh = fresh_wiki_pages(territory, root, dashboards=settings.publish.dashboards,
                             knowledge_base=settings.has_knowledge_base())
    for page in [*setup.static, *wiki_pages(setup), *fresh]:
        files[f"yeswiki/pages/{page.tag}.txt"] = page.body.encode("utf-8")
    for fname, text in setup.deploy.items():
        files[f"deploy/{fname}"] = (text + "\n").encode("utf-8")
    texts = markdown_pages(setup, wiki=False)
    for p in DOC_PAGES:
        files[f"docs/{p.file}"] = texts[p.slug].encode("utf-8")
    return Kit(name, files, territory.notes)


def form_import_json(form_id: str, label: str, bn_template: str) -> dict[str, str]:
    """A form as YesWiki's own import takes it (`imported-form[<id>]`, contract §4): a row of its forms table.
    No `bn_sem_use_template`: YesWiki reads its mere presence as "on"."""
    return {"bn_id_nature": str(form_id), "bn_label_nature": label, "bn_description": "", "bn_template": bn_template,
            "bn_condition": "", "bn_sem_context": "", "bn_sem_type": ""}


def export_kit(dest: Path, kit: Kit) -> tuple[Path, Path]:
    """Write the kit folder and its zip into `dest` (created), replacing a previous export of the same version.
    Everything is written next to its place first, then moved in: a failure leaves the previous export."""
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise KitError(Text("{path} is a file: give a folder to export the kit into", path=str(dest)))
    try:
        dest.mkdir(parents=True, exist_ok=True)
        folder, archive = dest / kit.name, dest / f"{kit.name}.zip"
        with tempfile.TemporaryDirectory(dir=dest, prefix=".kit-") as tmp:
            staged = Path(tmp) / kit.name
            for path, data in kit.files.items():
                target = staged / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            staged_zip = Path(tmp) / f"{kit.name}.zip"
            staged_zip.write_bytes(kit.zip_bytes())
            if folder.exists():
                shutil.rmtree(folder)
            staged.rename(folder)
            staged_zip.replace(archive)
    except OSError as exc:
        raise KitError(Text("cannot write the kit into {path}: {reason}", path=str(dest),
                            reason=exc.strerror or str(exc))) from None
    return folder, archive


# ---------------------------------------------------------------------------------------------- opening

def _version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", v.split("+")[0])[:3])


@dataclass(frozen=True)
class OpenedKit:
    folder: Path
    manifest: dict[str, Any]

    @property
    def templates(self) -> Path:
        return self.folder / TEMPLATES

    @property
    def params(self) -> Path:
        return self.folder / PARAMS_FILE


def _kit_folder(path: Path, tmp: Path) -> Path:
    if path.is_dir():
        if (path / MANIFEST).is_file():
            return path
        inner = [p for p in path.iterdir() if p.is_dir() and (p / MANIFEST).is_file()]
        if len(inner) == 1:
            return inner[0]
        raise KitError(Text("{path}: not a kit folder (no {manifest}): give the folder or the .zip that "
                            "`oscartes-sync kit export` wrote", path=str(path), manifest=MANIFEST))
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                target = (tmp / info.filename).resolve()
                if not target.is_relative_to(tmp.resolve()):
                    raise KitError(Text("{path}: refused: the archive writes outside its folder ({name})",
                                        path=str(path), name=info.filename))
            z.extractall(tmp)
    except zipfile.BadZipFile:
        raise KitError(Text("{path}: not a kit: neither a folder nor a zip archive", path=str(path))) from None
    return _kit_folder(tmp, tmp)


@contextmanager
def open_kit(path: Path) -> Iterator[OpenedKit]:
    """The kit at `path` (a folder or its zip), checked: it must come from a format and a version of
    oscartes-sync this one can apply."""
    path = Path(path)
    if not path.exists():
        raise KitError(Text("{path}: no such kit (give the folder or the .zip that `oscartes-sync kit export` "
                            "wrote)", path=str(path)))
    with tempfile.TemporaryDirectory(prefix="oscartes-kit-") as tmp:
        folder = _kit_folder(path, Path(tmp))
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise KitError(Text("{path}: {manifest} is not JSON: the kit is damaged, export it again",
                                path=str(path), manifest=MANIFEST)) from None
        if not isinstance(manifest, dict) or manifest.get("kit") != "oscartes":
            raise KitError(Text("{path}: {manifest} does not describe an OSCARTES kit", path=str(path),
                                manifest=MANIFEST))
        made_by, ours = str(manifest.get("oscartes_sync", "")), package_version()
        fmt = manifest.get("format")
        if not isinstance(fmt, int) or fmt > KIT_FORMAT or _version_tuple(made_by) > _version_tuple(ours):
            raise KitError(Text("{path}: this kit was made by oscartes-sync {made_by} (kit format {format}), newer "
                                "than this one ({ours}, kit format {our_format}): upgrade oscartes-sync, or export "
                                "the kit again with this version", path=str(path), made_by=made_by or "?",
                                format=fmt, ours=ours, our_format=KIT_FORMAT))
        if not (folder / TEMPLATES).is_dir():
            raise KitError(Text("{path}: the kit has no {folder}/ folder: it is incomplete, export it again",
                                path=str(path), folder=TEMPLATES))
        yield OpenedKit(folder, manifest)


# ---------------------------------------------------------------------------------------------- applying

def territory_from(*, department: str | None = None, epci: str | None = None, params: Path | None = None,
                   networks: tuple[str, ...] = ()) -> territories.Territory:
    """The territory named by exactly one of a department code, an EPCI SIREN or a parameters file."""
    given = [x for x in (department, epci, params) if x is not None]
    if len(given) != 1:
        raise KitError(Text("give exactly one of --department CODE, --epci SIREN or --params FILE"))
    try:
        if params is not None:
            if networks:
                raise KitError(Text("--network goes with --department or --epci: a parameters file names its "
                                    "networks"))
            return territories.load(Path(params))
        if department is not None:
            return territories.from_department(department, networks)
        return territories.from_epci(str(epci), networks)
    except territories.TerritoryError as exc:
        raise KitError(message_of(exc)) from None


@dataclass
class Applied:
    report: ProvisionReport
    params_path: Path | None = None  # where the parameters were saved (None: not saved, the wiki failed)
    config_line: str | None = None  # what the config needs so that provision and sync use them
    notes: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        return 1 if self.report.exit_code or self.config_line else 0


def params_target(cfg: Config) -> tuple[Path, str | None]:
    """Where the parameters are saved, and the config line to add when the config does not read them yet."""
    if cfg.territory.params:
        return cfg.path(cfg.territory.params), None
    return cfg.path(PARAMS_FILE), f'[territory]\nparams = "{PARAMS_FILE}"'


def apply_kit(cfg: Config, store, path: Path, wiki: str, territory: territories.Territory, *,
              admin_factory: Callable | None = None, params_source: Path | None = None) -> Applied:
    """Provision the wiki `wiki` of the config with the kit at `path` for `territory`, then save the parameters.
    Raises KitError (bad kit, unknown wiki) or ProvisionError (bad templates) before anything is written."""
    names = [w.name for w in cfg.wiki]
    if wiki not in names:
        raise KitError(Text("no [[wiki]] named '{wiki}' in the config (known: {known}): declare the wiki first "
                            "(url, api_token_env, admin_user, admin_password_env)", wiki=wiki,
                            known=", ".join(names) or Text("none")))
    with open_kit(path) as kit:
        report = run_provision(cfg, store, territory=territory, root=kit.templates, only=wiki,
                               admin_factory=admin_factory)
    applied = Applied(report, notes=territory.notes)
    if wiki in report.errors:
        return applied  # nothing was set up: the config's territory stays as it was
    target, line = params_target(cfg)
    same_file = params_source is not None and Path(params_source).resolve() == target.resolve()
    if not same_file:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_text(territory.to_json(), encoding="utf-8")
            tmp.replace(target)
        except OSError as exc:
            raise KitError(Text("the wiki is set up, but the parameters could not be saved to {path} ({reason}): "
                                "run `oscartes-sync kit export` with the same options and copy its territory.json "
                                "there", path=str(target), reason=exc.strerror or str(exc))) from None
    applied.params_path, applied.config_line = target, line
    return applied


def export(dest: Path, territory: territories.Territory | None = None, cfg: Config | None = None
           ) -> tuple[Kit, Path, Path]:
    """`kit export`: build the kit of this set-up and write its folder and zip into `dest`."""
    kit = build_kit(territory, cfg=cfg)
    folder, archive = export_kit(dest, kit)
    return kit, folder, archive


# What the kit is made from besides the templates and the parameters: the code that writes it.
_MAKERS = ("publish/kit.py", "publish/docs.py", "publish/pages.py", "publish/fresh_wiki.py", "publish/markdown.py",
           "templates.py", "territory.py", "data/CC-BY-SA-4.0.txt")


class KitArchive:
    """The archive of the kit of the config's set-up, as `sync` publishes it in each Nextcloud: its `source`
    digest (every input: templates, deploy files, parameters, settings, version, the code that writes it) is
    cheap; the archive itself is built only when asked, at most once."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self._bytes: bytes | None = None

    @property
    def source(self) -> str:
        package = Path(__file__).resolve().parents[1]
        h = hashlib.sha256()
        h.update(package_version().encode())
        h.update(self.cfg.local_territory().to_json().encode())
        h.update(self.cfg.sync.model_dump_json().encode() + self.cfg.identity.model_dump_json().encode())
        files = [*sorted(p for p in templates.TEMPLATES_DIR.rglob("*") if p.is_file()),
                 *(package / "deploy" / n for n in DEPLOY_FILES), *(package / m for m in _MAKERS)]
        for path in files:
            h.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes() + b"\0")
        return h.hexdigest()

    def data(self) -> bytes:
        if self._bytes is None:
            self._bytes = build_kit(self.cfg.local_territory(), cfg=self.cfg).zip_bytes()
        return self._bytes


def zip_for(cfg: Config) -> bytes:
    """The archive of the kit of the config's set-up."""
    return KitArchive(cfg).data()


__all__ = ["Kit", "KitError", "OpenedKit", "Applied", "KIT_FORMAT", "build_kit", "export", "export_kit", "open_kit",
           "apply_kit", "territory_from", "form_import_json", "kit_name", "zip_for", "params_target", "KitArchive"]
