"""Admin side of the YesWiki 4.4.2 emulator: Bazar forms and lists web UI, the page edit handler with
hashcash and optimistic locking, and the legacy `json` handler (contract §4, §5, §6).

Installed on every `YesWikiEmulator` through its extension points. Each behaviour below names the
fixture or README line it reproduces; where the contract says nothing, the choice is marked "assumed".
"""

from __future__ import annotations

import json
import re
import secrets
import struct
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from werkzeug.wrappers import Response

from oscartes_sync.targets.wikiname import genere_nom_wiki

from .yeswiki_emulator import SOURCE_URL_URI, Ctx, WikiForm, _h, _php_json, _scalar_str, parse_template_lines, \
    purify_html

if TYPE_CHECKING:
    from .yeswiki_emulator import YesWikiEmulator

MSG_FORM_CREATED = "BAZ_NOUVEAU_FORMULAIRE_ENREGISTRE"
MSG_FORM_UPDATED = "BAZ_FORMULAIRE_MODIFIE"
MSG_FORM_IMPORTED = "BAZ_FORM_IMPORT_SUCCESSFULL"
MSG_FORM_DELETED = "BAZ_FORMULAIRE_ET_FICHES_SUPPRIMES"
MSG_AUTH_NEEDED = "BAZ_AUTH_NEEDED"
# forms_20: the Location of a delete without confirmDeleteToken carries this message, urlencoded
MSG_NO_CSRF = ("Erreur de conception du site : Le formulaire de soumission ne contenait pas le jeton "
               "d'identification unique nécessaire aux mécanismes internes de sécurité.")
# forms_15
MSG_NO_TITLE_FIELD = ("Votre formulaire doit contenir un titre. Vous pouvez soit ajouter un champ texte avec comme "
                      "identifiant \"bf_titre\", soit un champ \"titre automatique\".")
# pages_14 (the wiki sends it with HTML entities)
MSG_STALE = ("Cette page a &eacute;t&eacute; modifi&eacute;e par quelqu'un d'autre pendant que vous "
             "l'&eacute;ditiez. Veuillez copier vos changements et r&eacute;&eacute;diter cette page.")
# forms_10: the editor's initial template
DEFAULT_TEMPLATE = "texte***bf_titre***Titre de la fiche*** *** *** *** ***text***1***"
HASHCASH_KEY_PATH = "/tools/security/wp-hashcash-getkey.php"
# pages_18: a tag with a space is refused; YesWiki's WikiName characters (letters, digits, `_`, `-`, Latin-1)
_VALID_TAG = re.compile(r"[A-Za-z0-9_\-\u00C0-\u00FF]+")
_FORM_FIELDS = ("bn_label_nature", "bn_description", "bn_template", "bn_condition", "bn_sem_context", "bn_sem_type")

_BAZ_MENU = ('<div class="page" ondblclick="doubleClickEdit(event);">\n<div class="BAZ_menu">\n  <ul class="nav '
             'nav-tabs">\n' + "".join(
                 f'    <li><a href="{{base}}?BazaR&amp;vue={vue}">{label}</a></li>\n'
                 for vue, label in (("formulaire", "Formulaires"), ("consulter", "Rechercher"),
                                    ("saisir", "Saisir"), ("listes", "Listes"), ("importer", "Importer"),
                                    ("exporter", "Exporter"))) + "  </ul>\n</div>\n")


def _random_name(low: int = 6, high: int = 18) -> str:
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return "".join(secrets.choice(letters) for _ in range(low + secrets.randbelow(high - low + 1)))


def hashcash_script(value: int) -> str:
    """wp-hashcash-getkey.php (pages_11, and 6 answers of the live 4.4.2): a JS function summing n parts of
    the secret, packed as little-endian 32-bit words XORed with a random key, padded with spaces."""
    n = 2 + secrets.randbelow(10)
    part, rest = divmod(value, n)
    fn, var = _random_name(), _random_name(8, 10)
    inner = f"function {fn} (){{var {var} = {part}; " + f"{var} += {part}; " * (n - 1) + \
        f"{var} += {rest}; return {var}; }} {fn} ();"
    raw = inner.encode("latin-1")
    raw += b" " * (-len(raw) % 4)
    words = [struct.unpack("<I", raw[i:i + 4])[0] for i in range(0, len(raw), 4)]
    key = 1 + secrets.randbelow(2**31 - 1)
    outer, arr = _random_name(), _random_name()
    cells = "".join(f"{arr}[{i}] = {w ^ key} ^ {key}; " for i, w in enumerate(words))
    return (f"function {outer}(){{var {arr} = new Array({len(words)}); {cells} var a = new Array({arr}.length); "
            f"for (var i=0; i<{arr}.length; i++) {{ a[i] = String.fromCharCode({arr}[i] & 0xFF, {arr}[i]>>>8 & 0xFF, "
            f"{arr}[i]>>>16 & 0xFF, {arr}[i]>>>24 & 0xFF); }} return eval(a.join('')); }} {outer}();")


class AdminRoutes:
    def __init__(self, emu: YesWikiEmulator):
        self.emu = emu
        # the secret of cache/hashcash.key (rotated every 4 h on a real wiki; fixed here)
        self.hashcash_value = 100_000_000 + secrets.randbelow(2_000_000_000)
        self.csrf_tokens: dict[str, str] = {}  # session id -> confirmDeleteToken (session-bound, forms_21a)

    def install(self) -> None:
        emu = self.emu
        emu.register_bazar_view("formulaire", "", self.forms_table)
        emu.register_bazar_view("formulaire", "new", self.form_new)
        emu.register_bazar_view("formulaire", "modif", self.form_modif)
        emu.register_bazar_view("formulaire", "confirm_delete", self.form_confirm_delete)
        emu.register_bazar_view("formulaire", "delete", self.form_delete)
        emu.register_bazar_view("listes", "", self.lists_table)
        emu.register_bazar_view("listes", "saisir_liste", self.list_new)
        emu.register_bazar_view("listes", "modif_liste", self.list_modif)
        emu.register_bazar_view("listes", "supprimer_liste", self.list_delete)
        emu.register_web_handler("edit", self.edit)
        emu.register_web_handler("json", self.json_handler)
        emu.register_web_handler("acls", self.acls)
        emu.register_bazar_view("saisir", "saisir_fiche", self.entry_new)
        emu.register_path_handler(HASHCASH_KEY_PATH, self.hashcash_key)

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _redirect(ctx: Ctx, query: str, body: str = "") -> Response:
        return Response(body, status=302, content_type="text/html; charset=UTF-8",
                        headers={"Location": f"{ctx.base_url}?{query}", "Access-Control-Allow-Origin": "*"})

    def _menu(self, ctx: Ctx) -> str:
        return _BAZ_MENU.replace("{base}", _h(ctx.base_url))

    def _bazar_redirect(self, ctx: Ctx, vue: str, msg: str | None) -> Response:
        query = f"BazaR&vue={vue}" + (f"&msg={quote_plus(msg)}" if msg else "")
        return self._redirect(ctx, query, self._menu(ctx))

    def _page(self, ctx: Ctx, title: str, content: str) -> Response:
        resp = self.emu._html(self.emu._html_page(ctx, title, self._menu(ctx) + content))
        resp.headers["Access-Control-Allow-Origin"] = "*"
        return resp

    # ------------------------------------------------------------------ forms (§4)
    def _next_form_id(self) -> str:
        """FormManager::findNewId: the smallest free id right after a used one (forms_14: {1..5,1042} -> 6)."""
        ids = {int(i) for i in self.emu.forms if i.isdigit()}
        if not ids:
            return "1"
        return str(min(i + 1 for i in ids if i + 1 not in ids))

    @staticmethod
    def _has_title_field(template: str) -> bool:
        return any(c[0] == "titre" or c[1] == "bf_titre" for c in parse_template_lines(template))

    def _form_editor(self, ctx: Ctx, action: str, values: dict[str, str], alert: str = "") -> Response:
        """The form editor of forms_10 (field names as recorded)."""
        alert_html = f'<div class="alert alert-danger">{_h(alert)}</div>\n' if alert else ""
        checked_one = ' checked' if values.get("bn_only_one_entry") == "Y" else ""
        checked_sem = ' checked' if values.get("bn_sem_use_template") == "1" else ""
        content = (
            f'{alert_html}<form id="formulaire" method="post" action="{_h(ctx.base_url)}?BazaR&amp;vue=formulaire'
            f'&amp;action={_h(action)}">\n'
            + (f'<input type="hidden" name="bn_id_nature" value="{_h(values.get("bn_id_nature", ""))}">\n'
               if values.get("bn_id_nature") else "")
            + f'<input type="text" name="bn_label_nature" value="{_h(values.get("bn_label_nature", ""))}">\n'
            f'<textarea name="bn_description">{_h(values.get("bn_description", ""))}</textarea>\n'
            f'<textarea name="bn_template">{_h(values.get("bn_template", DEFAULT_TEMPLATE))}</textarea>\n'
            f'<input type="checkbox" name="bn_only_one_entry" value="Y"{checked_one}>\n'
            f'<input type="text" name="bn_only_one_entry_message" '
            f'value="{_h(values.get("bn_only_one_entry_message", ""))}">\n'
            f'<textarea name="bn_condition">{_h(values.get("bn_condition", ""))}</textarea>\n'
            f'<textarea name="bn_sem_context">{_h(values.get("bn_sem_context", ""))}</textarea>\n'
            f'<input type="text" name="bn_sem_type" value="{_h(values.get("bn_sem_type", ""))}">\n'
            f'<input type="checkbox" name="bn_sem_use_template" value="1"{checked_sem}>\n'
            '<button type="submit" name="valider"></button>\n</form>')
        return self._page(ctx, "BazaR", content)

    @staticmethod
    def _posted_form(data: dict[str, Any]) -> dict[str, str]:
        values = {k: _scalar_str(data.get(k, "")) for k in _FORM_FIELDS}
        values["bn_sem_use_template"] = "1" if _scalar_str(data.get("bn_sem_use_template")) == "1" else "0"
        values["bn_only_one_entry"] = "Y" if _scalar_str(data.get("bn_only_one_entry")) == "Y" else "N"
        values["bn_only_one_entry_message"] = _scalar_str(data.get("bn_only_one_entry_message", ""))
        return values

    def _store_form(self, form_id: str, values: dict[str, str]) -> None:
        extra = {k: values[k] for k in ("bn_condition", "bn_sem_context", "bn_sem_type", "bn_sem_use_template",
                                        "bn_only_one_entry", "bn_only_one_entry_message") if k in values}
        self.emu.forms[form_id] = WikiForm(form_id, values.get("bn_label_nature", ""), values.get("bn_template", ""),
                                           values.get("bn_description", ""), self.emu._options_for, extra)

    def forms_table(self, ctx: Ctx, p: dict) -> Response:
        imported = ctx.posted.data.get("imported-form") if ctx.method == "POST" else None
        if isinstance(imported, dict):
            # forms_19/22: no admin check at all on this path
            for form_id, raw in imported.items():
                try:
                    row = json.loads(_scalar_str(raw))
                except ValueError:
                    continue  # assumed: an undecodable definition is skipped
                if not isinstance(row, dict):
                    continue
                values = self._posted_form(row)
                same_label = next((f.id for f in self.emu.forms.values()
                                   if f.label == values["bn_label_nature"]), None)
                self._store_form(same_label or str(form_id), values)
            return self._bazar_redirect(ctx, "formulaire", MSG_FORM_IMPORTED)
        rows = "".join(f'<tr><td>{_h(f.id)}</td><td>{_h(f.label)}</td></tr>\n'
                       for f in sorted(self.emu.forms.values(), key=lambda f: f.label.lower()))
        return self._page(ctx, "BazaR", f'<table class="table">\n{rows}</table>')

    def form_new(self, ctx: Ctx, p: dict) -> Response:
        if not ctx.is_admin:
            # forms_16 (anonymous) and forms_17 (bearer token only); logged-in non-admins: assumed the same
            return self._bazar_redirect(ctx, "formulaire", MSG_AUTH_NEEDED)
        if ctx.method != "POST":
            return self._form_editor(ctx, "new", {})  # forms_10
        data = ctx.posted.data
        values = self._posted_form(data)
        if not self._has_title_field(values["bn_template"]):
            return self._form_editor(ctx, "new", values, MSG_NO_TITLE_FIELD)  # forms_15
        wanted = _scalar_str(data.get("bn_id_nature")).strip()
        # forms_13: honoured when free; forms_14: silently another id when taken
        form_id = wanted if wanted.isdigit() and wanted not in self.emu.forms else self._next_form_id()
        self._store_form(form_id, values)
        return self._bazar_redirect(ctx, "formulaire", MSG_FORM_CREATED)  # forms_11

    def form_modif(self, ctx: Ctx, p: dict) -> Response:
        if not ctx.is_admin:
            return self._bazar_redirect(ctx, "formulaire", MSG_AUTH_NEEDED)  # assumed, as forms_16
        form_id = _scalar_str(ctx.get.get("idformulaire"))
        if ctx.method != "POST":
            form = self.emu.forms.get(form_id)
            values = form.as_json() if form else {}
            return self._form_editor(ctx, f"modif&idformulaire={form_id}",
                                     {k: _scalar_str(v) for k, v in values.items() if isinstance(v, str)})
        values = self._posted_form(ctx.posted.data)
        if not self._has_title_field(values["bn_template"]):
            return self._form_editor(ctx, f"modif&idformulaire={form_id}", values, MSG_NO_TITLE_FIELD)  # assumed
        # forms_18: the SQL UPDATE uses the POSTed bn_id_nature; a missing or unknown one updates nothing,
        # yet the answer is the same redirect
        target = _scalar_str(ctx.posted.data.get("bn_id_nature"))
        if target in self.emu.forms:
            self._store_form(target, values)
        return self._bazar_redirect(ctx, "formulaire", MSG_FORM_UPDATED)

    def form_confirm_delete(self, ctx: Ctx, p: dict) -> Response:
        if not ctx.is_admin:
            return self._bazar_redirect(ctx, "formulaire", MSG_AUTH_NEEDED)  # assumed
        form_id = _scalar_str(ctx.get.get("idformulaire"))
        token = self.csrf_tokens.setdefault(ctx.session_id, secrets.token_urlsafe(24))
        return self._page(ctx, "BazaR", (  # forms_21a
            f'<form method="post" action="{_h(ctx.base_url)}?BazaR&amp;vue=formulaire&amp;action=delete&amp;'
            f'idformulaire={_h(form_id)}">\n<input type="hidden" name="confirmDeleteToken" value="{_h(token)}">\n'
            '<button type="submit" class="btn btn-danger">Supprimer</button>\n</form>'))

    def form_delete(self, ctx: Ctx, p: dict) -> Response:
        if not ctx.is_admin:
            return self._bazar_redirect(ctx, "formulaire", MSG_AUTH_NEEDED)  # assumed
        token = self.csrf_tokens.get(ctx.session_id)
        posted = _scalar_str(ctx.posted.data.get("confirmDeleteToken")) if ctx.method == "POST" else ""
        if not token or not secrets.compare_digest(posted, token):
            return self._bazar_redirect(ctx, "formulaire", MSG_NO_CSRF)  # forms_20: nothing deleted
        form_id = _scalar_str(ctx.get.get("idformulaire"))
        for tag in list(self.emu.entries(form_id)):  # forms_21: the form AND all its entries
            self.emu._delete_page(tag)
            self.emu.triples = [t for t in self.emu.triples
                                if not (t["resource"] == tag and t["property"] == SOURCE_URL_URI)]
        self.emu.forms.pop(form_id, None)
        return self._bazar_redirect(ctx, "formulaire", MSG_FORM_DELETED)

    # ------------------------------------------------------------------ lists (§5)
    def _list_editor(self, ctx: Ctx, action: str, title: str, labels: dict[str, str]) -> Response:
        rows = labels or {"": ""}
        inputs = "".join(f'<input type="text" name="id[{i}]" value="{_h(k)}">\n'
                         f'<input type="text" name="label[{i}]" value="{_h(v)}">\n'
                         for i, (k, v) in enumerate(rows.items(), start=1))
        return self._page(ctx, "BazaR", (  # lists_10
            f'<form method="post" action="{_h(ctx.base_url)}?BazaR&amp;vue=listes&amp;action={_h(action)}">\n'
            f'<input type="text" name="titre_liste" value="{_h(title)}">\n{inputs}'
            '<button type="submit" name="valider"></button>\n</form>'))

    @staticmethod
    def _posted_list(data: dict[str, Any]) -> tuple[str, dict[str, str]]:
        title = _scalar_str(data.get("titre_liste"))
        ids, labels = data.get("id"), data.get("label")
        ids = ids if isinstance(ids, dict) else ({str(i + 1): v for i, v in enumerate(ids)}
                                                 if isinstance(ids, list) else {})
        labels = labels if isinstance(labels, dict) else ({str(i + 1): v for i, v in enumerate(labels)}
                                                          if isinstance(labels, list) else {})
        out: dict[str, str] = {}
        for pos in sorted(ids, key=lambda k: int(k) if k.isdigit() else 0):
            key = _scalar_str(ids[pos])
            if key:
                out[key] = purify_html(_scalar_str(labels.get(pos, "")))  # lists_16: HTMLPurifier
        return title, out

    def _list_body(self, title: str, labels: dict[str, str]) -> str:
        return _php_json({"titre_liste": title, "label": labels})

    def lists_table(self, ctx: Ctx, p: dict) -> Response:
        alert = ""
        imported = ctx.posted.data.get("imported-list") if ctx.method == "POST" else None
        if isinstance(imported, dict):
            # lists_x1 (recorded): each JSON {titre_liste, label} is created as a new list, its id from its title
            # (a taken id gets 2, 3...), labels purified; then the lists page with a success alert
            for raw in imported.values():
                try:
                    data = json.loads(_scalar_str(raw))
                except ValueError:
                    continue  # assumed: an undecodable list is skipped
                if not isinstance(data, dict):
                    continue
                title = _scalar_str(data.get("titre_liste"))
                labels = data.get("label") if isinstance(data.get("label"), dict) else {}
                self._create_list(ctx, title, {str(k): purify_html(_scalar_str(v)) for k, v in labels.items()})
            alert = '<div class="alert alert-success">Liste(s) importée(s) avec succès.</div>'
        rows = "".join(f"<tr><td>{_h(t)}</td></tr>\n" for t, v in self.emu.types.items()
                       if v == "liste" and self.emu.revisions.get(t))
        return self._page(ctx, "BazaR", f'{alert}<table class="table">\n{rows}</table>')

    def _create_list(self, ctx: Ctx, title: str, labels: dict[str, str]) -> str:
        emu = self.emu
        list_id = genere_nom_wiki("Liste " + title, emu._page_exists)  # lists_11, lists_12 (collision)
        emu._save_page(list_id, self._list_body(title, labels), ctx.user or ctx.client_ip, ctx.user or "")
        emu._set_type(list_id, "liste")
        return list_id

    def list_new(self, ctx: Ctx, p: dict) -> Response:
        # lists_18: no user check at all
        if ctx.method != "POST":
            return self._list_editor(ctx, "saisir_liste", "", {})
        title, labels = self._posted_list(ctx.posted.data)
        list_id = self._create_list(ctx, title, labels)
        if _scalar_str(ctx.get.get("onsubmit")) == "postmessage":  # lists_12
            message = _php_json({"msg": "list_created", "id": list_id, "title": title})
            return self._page(ctx, "BazaR", f"<script>\nwindow.parent.postMessage({message}, '*');\n</script>")
        return self._redirect(ctx, "BazaR&vue=listes", self._menu(ctx))

    def list_modif(self, ctx: Ctx, p: dict) -> Response:
        emu = self.emu
        list_id = _scalar_str(ctx.get.get("idliste"))
        exists = emu.types.get(list_id) == "liste" and emu._page_exists(list_id)
        if ctx.method != "POST" or not exists:
            current = json.loads(emu.revisions[list_id][-1]["body"]) if exists else {}
            # assumed for an unknown list: the editor again, nothing saved
            return self._list_editor(ctx, f"modif_liste&idliste={list_id}", current.get("titre_liste", ""),
                                     current.get("label") or {})
        # README §5: admin or any user with write access; default write ACL '*' lets everyone in
        title, labels = self._posted_list(ctx.posted.data)
        body = self._list_body(title, labels)
        if body != emu.revisions[list_id][-1]["body"]:  # assumed: SavePage writes nothing for an identical body
            emu._save_page(list_id, body, ctx.user or ctx.client_ip)  # lists_16: full replacement, new revision
        return self._redirect(ctx, "BazaR&vue=listes", self._menu(ctx))

    def list_delete(self, ctx: Ctx, p: dict) -> Response:
        emu = self.emu
        list_id = _scalar_str(ctx.get.get("idliste"))
        if emu.types.get(list_id) == "liste" and emu._page_exists(list_id) and emu._can_delete(ctx, list_id):
            emu._delete_page(list_id)  # lists_17: GET with a session, no CSRF
        # assumed: refused or unknown lists get the same redirect, nothing deleted
        return self._redirect(ctx, "BazaR&vue=listes", self._menu(ctx))

    def json_handler(self, ctx: Ctx, p: dict) -> Response:
        """Legacy `/?AnyPage/json&demand=lists[&list=ListeX]` (lists_14/15)."""
        emu = self.emu
        if _scalar_str(ctx.get.get("demand")) != "lists":
            body: Any = None  # assumed: other demands are not emulated
        else:
            lists = {}
            for tag in sorted((t for t, v in emu.types.items() if v == "liste" and emu.revisions.get(t)),
                              key=lambda t: emu.revisions[t][0]["id"]):
                try:
                    lists[tag] = json.loads(emu.revisions[tag][-1]["body"])
                except ValueError:
                    continue
            wanted = ctx.get.get("list")
            body = lists.get(_scalar_str(wanted)) if wanted else lists  # assumed: unknown list -> null
        resp = Response(json.dumps(body), status=200, content_type="application/json; charset=UTF-8")
        resp.headers["Access-Control-Allow-Origin"] = "*"
        return resp

    # ------------------------------------------------------------------ pages (§6)
    def hashcash_key(self, ctx: Ctx, p: dict) -> Response:
        return Response(hashcash_script(self.hashcash_value), status=200, content_type="text/html; charset=UTF-8")

    def _edit_form(self, ctx: Ctx, tag: str, body: str, previous: str, alert: str = "") -> Response:
        """pages_10: the ACEditor form; pages_14: with the alert; pages_15: the same without any."""
        alert_html = f'<div class="alert alert-danger">{alert}</div>\n' if alert else ""
        siteurl = quote_plus(ctx.base_url)
        content = (
            f'{alert_html}<form id="ACEditor" name="ACEditor" action="{_h(ctx.base_url)}?{_h(tag)}/edit" '
            'method="POST">\n'
            f'<input type="hidden" name="previous" value="{_h(previous)}">\n'
            '<button type="submit" name="submit" value="Sauver">Sauver</button>\n'
            f'<textarea name="body">{_h(body)}</textarea>\n'
            '<input type="text" name="pagetags" value="">\n<input type="hidden" name="antispam" value="0">\n'
            '<button type="submit" name="submit" value="Sauver">Sauver</button>\n</form>\n'
            f'<script type="text/javascript" src="{_h(ctx.base_url)}tools/security/wp-hashcash-js.php?formid=ACEditor'
            f'&amp;siteurl={_h(siteurl)}"></script>')
        return self.emu._html(self.emu._html_page(ctx, f"{tag}/edit", content))

    def edit(self, ctx: Ctx, p: dict) -> Response:
        emu, tag = self.emu, p["tag"]
        if emu.types.get(tag) == "fiche_bazar":
            return emu._entry_edit(ctx, tag)
        if not _VALID_TAG.fullmatch(tag):
            return emu._html("<p>Le nom de la page est incorrect.</p>")  # pages_18
        refused = emu.write_refused(ctx, tag)  # review_01: editor and save refused, nothing saved
        if refused is not None:
            return refused
        revs = emu.revisions.get(tag)
        current = str(revs[-1]["id"]) if revs else ""
        if ctx.method != "POST":
            return self._edit_form(ctx, tag, revs[-1]["body"] if revs else "", current)
        data = ctx.posted.data
        body = _scalar_str(data.get("body"))
        previous = _scalar_str(data.get("previous"))
        if _scalar_str(data.get("submit")) != "Sauver":
            return self._edit_form(ctx, tag, body, previous)  # assumed: preview or other buttons save nothing
        if _scalar_str(data.get("hashcash_value")).strip() != str(self.hashcash_value):
            return self._edit_form(ctx, tag, body, previous)  # pages_15: no message at all
        if revs and previous != current:
            return self._edit_form(ctx, tag, body, previous, MSG_STALE)  # pages_14
        body = body.rstrip()  # pages_12 -> pages_19: stored right-trimmed
        if not revs or revs[-1]["body"].rstrip() != body:  # pages_16: identical body, no new revision
            # pages_17: anonymous saves under owner "" and the client IP as user
            emu._save_page(tag, body, ctx.user or ctx.client_ip, None if revs else (ctx.user or ""))
        return self._redirect(ctx, tag)


    # ------------------------------------------------------------------ page ACLs (handlers/page/acls.php)
    def acls(self, ctx: Ctx, p: dict) -> Response:
        """GET: the ACL form of a page for its owner or an admin; POST: save read, write, comment and maybe a
        new owner, then 302 to the page. Anyone else, or a missing page: an alert, nothing saved
        (review_01, review_02)."""
        emu, tag = self.emu, p["tag"]
        owner = emu._page_owner(tag)
        if not emu.revisions.get(tag) or not (ctx.is_admin or (ctx.user is not None and ctx.user == owner)):
            return emu._html(emu._html_page(ctx, f"{tag}/acls", '<div class="page"><div class="alert alert-danger">'
                                            "Vous ne pouvez pas gérer les permissions de cette page</div></div>"))
        if ctx.method == "POST":
            data = ctx.posted.data
            for privilege in ("read", "write", "comment"):
                emu._save_acl(tag, privilege, _scalar_str(data.get(f"{privilege}_acl")))
            new_owner = _scalar_str(data.get("newowner"))
            if new_owner:
                emu.revisions[tag][-1]["owner"] = new_owner  # SetPageOwner: the latest row
            return self._redirect(ctx, tag)
        options = "".join(f'<option value="{_h(u)}">{_h(u)}</option>' for u in sorted(emu.users))
        content = (f'<div class="page"><form action="{_h(ctx.base_url)}?{_h(tag)}/acls" method="post">\n'
                   f'<textarea name="read_acl">{_h(emu._page_acl(tag, "read"))}</textarea>\n'
                   f'<textarea name="write_acl">{_h(emu._page_acl(tag, "write"))}</textarea>\n'
                   f'<input type="hidden" name="comment_acl" value="{_h(emu._page_acl(tag, "comment"))}">\n'
                   f'<select name="newowner"><option value=""></option>{options}</select>\n'
                   '<input type="submit" value="Enregistrer"></form></div>')
        return emu._html(emu._html_page(ctx, f"{tag}/acls", content))

    # ------------------------------------------------------------------ Bazar create form (EntryController::create)
    def entry_new(self, ctx: Ctx, p: dict) -> Response:
        """GET ?BazaR&vue=saisir&action=saisir_fiche&id=<form>: the create form, each field prefilled from the
        query (BazarField::getValue reads $_REQUEST) and fields whose write ACL the visitor fails left out;
        POST with bf_titre and antispam=1: a new entry, owned by the session's user ('' for a visitor, whose
        IP is the editor), then 302 to it (review_04, review_05). Anyone may create, visitors included."""
        emu = self.emu
        form_id = _scalar_str(ctx.get.get("id") or ctx.get.get("id_typeannonce"))
        form = emu.forms.get(form_id)
        if form is None:
            return self._page(ctx, "BazaR", '<div class="alert alert-danger">BAZ_PAS_DE_FORM_AVEC_CET_ID</div>')
        data = ctx.posted.data if ctx.method == "POST" else {}
        if ctx.method == "POST" and "bf_titre" in data:
            if _scalar_str(data.get("antispam")) != "1":  # assumed: as the edit handler (entries_72)
                return self._page(ctx, "BazaR", '<div class="alert alert-danger">Protection antispam</div>')
            tag = emu._create_entry(ctx, form_id)
            return self._redirect(ctx, f"BazaR&vue=consulter&action=voir_fiche&id_fiche={tag}&message=ajout_ok")
        inputs = []
        for f in form.property_fields():
            if not emu._acl_allows(f.columns[12], ctx.user, ctx.is_admin, None):
                continue
            prop = f.propertyname
            value = _scalar_str(ctx.get.get(prop, data.get(prop, f.columns[5].strip())))
            if f.kind == "titre":
                inputs.append(f'<input type="hidden" name="bf_titre" value="{_h(f.columns[1])}">')
            elif f.kind == "textelong":
                inputs.append(f'<textarea name="{_h(prop)}">{_h(value)}</textarea>')
            else:
                inputs.append(f'<input type="text" name="{_h(prop)}" value="{_h(value)}">')
        inputs += ['<input type="hidden" name="antispam" value="0">',
                   f'<input type="hidden" name="id_typeannonce" value="{_h(form_id)}">',
                   '<button type="submit" class="btn btn-primary">Valider</button>']
        return self._page(ctx, "BazaR", '<form id="formulaire" method="post" enctype="multipart/form-data" '
                                        'action="">\n' + "\n".join(inputs) + "\n</form>")


def install_admin_routes(emu: YesWikiEmulator) -> AdminRoutes:
    routes = AdminRoutes(emu)
    routes.install()
    emu.admin_routes = routes  # type: ignore[attr-defined]  # tests read the hashcash value / CSRF tokens
    return routes
