"""The `oscartes-sync` command: parse, call one function, print, exit (DECISIONS §12).

Exit codes: 0 nothing needs a person; 1 done, but something needs a person; 2 usage or config error.
"""

from __future__ import annotations

import json
import logging
import sys
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Iterator

import click

from . import app, coordinator, i18n
from .i18n import N_, _
from .config import ConfigError, config_origin, config_path, load_config, permission_warnings
from .report import render
from .store import Store, StoreError


class Context:
    def __init__(self, config: str | None, verbose: bool):
        self.config_arg = config
        self.verbose = verbose

    def load(self):
        return load_config(config_path(self.config_arg), config_origin(self.config_arg))


def _fail_usage(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(app.EXIT_USAGE)


@contextmanager
def _translated_help(command: click.Command, ctx: click.Context | None = None) -> Iterator[None]:
    """Help texts are written in English and marked with N_(): they are translated when shown, once `--lang`
    has been read (click keeps them from the import on)."""
    objects = [command, *(command.get_params(ctx) if ctx is not None else command.params)]
    saved = [(o, o.help, getattr(o, "short_help", None)) for o in objects]
    for o in objects:
        o.help = _(o.help) if o.help else o.help
        if getattr(o, "short_help", None):
            o.short_help = _(o.short_help)
    try:
        yield
    finally:
        for o, help_text, short in saved:
            o.help = help_text
            if short is not None:
                o.short_help = short


class _Command(click.Command):
    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with _translated_help(self, ctx):
            super().format_help(ctx, formatter)

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        fresh = self._help_option is None
        option = super().get_help_option(ctx)
        if fresh and option is not None:
            option.help = N_("Show this message and exit.")  # click writes it in the language of its first use
        return option

    def get_short_help_str(self, limit: int = 45) -> str:
        with _translated_help(self):
            return super().get_short_help_str(limit)


class _SubGroup(_Command, click.Group):
    command_class = _Command
    group_class = type  # a group's subgroups are of its own class


class _Group(_SubGroup):
    """Turns the store's readable errors into one line and exit 2 instead of a traceback."""

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        # the environment's language first, before `--help` (eager) is read; `--lang` overrides it
        i18n.set_language(None)
        return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except StoreError as exc:  # its message names the database and never carries the password
            click.echo(f"error: store: {exc}", err=True)
            sys.exit(app.EXIT_USAGE)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


def _set_language(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    return i18n.set_language(value)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]},
             help=N_("Keep one source record per actor in sync across the OSCARTES wikis."))
@click.option("--lang", type=click.Choice(i18n.LANGUAGES), is_eager=True, expose_value=False,
              callback=_set_language, help=N_("Language of the messages (default: French, or English when LANG "
                                               "starts with en)."))
@click.option("--config", "config", metavar="PATH",
              help=N_("Config file (default oscartes.toml, or OSCARTES_CONFIG)."))
@click.option("-v", "--verbose", is_flag=True, help=N_("Log each request."))
@click.version_option(package_name="oscartes-sync", prog_name="oscartes-sync", message="%(prog)s %(version)s",
                      help=N_("Show the version and exit."))
@click.pass_context
def cli(ctx: click.Context, config: str | None, verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(message)s")
    if not verbose:
        # urllib3 warns on each retry; the report already names the instance that failed, once
        logging.getLogger("urllib3").setLevel(logging.ERROR)
    ctx.obj = Context(config, verbose)


def _load(ctx: Context, *, check_files: bool = False):
    """The config; `check_files`: also warn when it, or the secrets file, is readable by every user (the
    commands that use the secrets or run unattended: sync, serve, doctor, provision, backup)."""
    try:
        cfg = ctx.load()
    except ConfigError as exc:
        _fail_usage(str(exc))
    for warning in permission_warnings(config_path(ctx.config_arg)) if check_files else ():
        click.echo(f"warning: {warning}", err=True)
    return cfg


def _with_store(ctx: Context, cfg=None):
    cfg = cfg or _load(ctx)
    try:
        store = app.open_store(cfg)
    except Exception as exc:  # the store reports a readable StoreError; anything else is a bad URL
        _fail_usage(f"store: {exc}")
    return cfg, store


@contextmanager
def _store(ctx: Context, cfg=None) -> Iterator[Store]:
    """The store of the config, closed afterwards whatever happens."""
    _, store = _with_store(ctx, cfg)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def _run_lock(cfg) -> Iterator[None]:
    """The run lock for a command that writes the store; held by a run: its message, exit 1, nothing done."""
    try:
        with app.one_run_at_a_time(cfg):
            yield
    except app.Busy as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(app.EXIT_ATTENTION)


@contextmanager
def _refusals() -> Iterator[None]:
    """A decision the coordinator module refuses is a usage error: its message, exit 2, nothing written."""
    try:
        yield
    except coordinator.Refused as exc:
        _fail_usage(str(exc))


@cli.command()
@click.option("--dry-run", is_flag=True, help="Print the plan; write nothing.")
@click.option("--allow-deletes", type=click.IntRange(min=0), default=0, metavar="N",
              help="Accept once a run that deletes up to N records of a kind (refused by the limit).")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@click.pass_obj
def sync(ctx: Context, dry_run: bool, allow_deletes: int, as_json: bool) -> None:
    """One full sync cycle."""
    cfg = _load(ctx, check_files=True)
    if not cfg.wiki:
        _fail_usage(f"{config_path(ctx.config_arg)}: no [[wiki]] configured: nothing to sync")
    lock = cfg.path(cfg.sync.lock_file)
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _fail_usage(f"sync.lock_file: cannot create the folder of {lock} ({exc.strerror or exc})")
    try:
        # the lock first: a second run must not even open (and migrate) the store
        with app.one_run_at_a_time(cfg):
            _, store = _with_store(ctx, cfg)
            try:
                instances = app.build_instances(cfg)
                run = app.sync_once(cfg, store, instances, dry_run=dry_run, allow_deletes=allow_deletes)
            finally:
                store.close()
    except app.Busy as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(app.EXIT_ATTENTION)
    click.echo(json.dumps(run.report, indent=2, ensure_ascii=False) if as_json
               else render(run.result, run.stats, run.titles, open_conflicts=run.open_conflicts,
                           open_reviews=run.open_reviews))
    sys.exit(run.exit_code)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable, for monitoring.")
@click.pass_obj
def status(ctx: Context, as_json: bool) -> None:
    """Last runs, open conflicts and review items."""
    with _store(ctx) as store:
        st = coordinator.status(store)
    data = st.as_dict()
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        click.echo("Records: " + (", ".join(f"{k} {v}" for k, v in sorted(st.records.items())) or "none"))
        click.echo(f"Open conflicts: {st.open_conflicts}   Possible duplicates to review: {st.open_reviews}")
        last = st.last_run
        if last is None:
            click.echo("No run yet.")
        else:
            click.echo(f"Last run #{last.id}: {last.status} (exit {last.exit_code}), finished {last.finished_at}")
            for name, err in data["last_run"]["instance_errors"].items():
                click.echo(f"  ERROR {name}: {err}")
    sys.exit(app.EXIT_ATTENTION if st.needs_person else app.EXIT_OK)


@cli.command()
@click.option("--check", is_flag=True, help="Write nothing; print the drift and exit 1 if there is any.")
@click.option("--force", is_flag=True, help="Also overwrite pages edited by hand (the wiki keeps their history).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def provision(ctx: Context, check: bool, force: bool, as_json: bool) -> None:
    """Set up the Bazar forms, lists and pages of wiki_templates/ in every wiki."""
    from dataclasses import asdict

    from .publish.provision import ProvisionError, render_report, run_provision

    if check and force:
        _fail_usage("--check writes nothing: it cannot be combined with --force")
    cfg, store = _with_store(ctx, _load(ctx, check_files=True))
    try:
        if not cfg.wiki:
            _fail_usage(f"{config_path(ctx.config_arg)}: no [[wiki]] configured: nothing to provision")
        with app.one_run_at_a_time(cfg):
            report = run_provision(cfg, store, check=check, force=force)
    except ProvisionError as exc:
        _fail_usage(f"templates: {exc} (nothing was written to any wiki)")
    except app.Busy as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(app.EXIT_ATTENTION)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps({"check": report.check, "errors": report.errors,
                               "items": [asdict(i) for i in report.items]}, indent=2, ensure_ascii=False))
    else:
        click.echo(render_report(report))
    sys.exit(report.exit_code)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable, for monitoring.")
@click.pass_obj
def doctor(ctx: Context, as_json: bool) -> None:
    """Check each wiki (secrets, reachable, version, token, admin login, forms) and the store."""
    from .doctor import render_text, run_doctor

    cfg = _load(ctx, check_files=True)
    if not cfg.wiki and not cfg.nextcloud:
        _fail_usage(f"{config_path(ctx.config_arg)}: no [[wiki]] configured: nothing to check")
    report = run_doctor(cfg)
    click.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False) if as_json else render_text(report))
    sys.exit(report.exit_code)


@cli.command()
@click.argument("query", required=False)
@click.option("--deleted", is_flag=True, help="Include deleted records.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable.")
@click.pass_obj
def records(ctx: Context, query: str | None, deleted: bool, as_json: bool) -> None:
    """Find records by title words, entry id or id prefix (all of them without QUERY)."""
    with _store(ctx) as store:
        rows = coordinator.find_records(store, query, include_deleted=deleted)
        entries = {r.id: store_entries for r in rows if (store_entries := coordinator.entries_of(store, r.id))}
    if as_json:
        click.echo(json.dumps([{"id": r.id, "kind": r.kind, "name": r.fields.get("name"), "deleted": r.deleted,
                                "entries": entries.get(r.id, [])} for r in rows], indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("No record found." if query else "No record yet.")
    for r in rows:
        where = ", ".join(f"{i}:{e}" for i, e, current in entries.get(r.id, []) if current)
        click.echo(f"{coordinator.short_id(r.id)}  {r.fields.get('name') or '?'}  ({r.kind}"
                   + (", deleted" if r.deleted else "") + ")" + (f"  {where}" if where else ""))


@cli.group(invoke_without_command=True)
@click.option("--record", "record", metavar="RECORD", help="Only the conflicts of this record.")
@click.pass_context
def conflicts(ctx: click.Context, record: str | None) -> None:
    """List open conflicts (subcommands: show, resolve)."""
    if ctx.invoked_subcommand is None:
        with _store(ctx.obj) as store, _refusals():
            rows = coordinator.open_conflicts(store, record)
            titles = coordinator.record_titles(store)
        if not rows:
            click.echo("No open conflict.")
        for c in rows:
            click.echo(f"#{c.id}  {titles.get(c.record_id) or c.record_id}  field {c.field}: "
                       + "  ".join(f"{inst}={_short(v)}" for inst, v in c.candidates.items()))
        sys.exit(app.EXIT_ATTENTION if rows else app.EXIT_OK)


@conflicts.command("show")
@click.argument("conflict_id", type=int)
@click.pass_obj
def conflicts_show(ctx: Context, conflict_id: int) -> None:
    """One conflict with its candidates in full."""
    with _store(ctx) as store, _refusals():
        c, title = coordinator.conflict(store, conflict_id)
    click.echo(f"Conflict #{c.id} ({c.status}) on {title}, field {c.field}")
    click.echo(f"  agreed value before: {json.dumps(c.base, ensure_ascii=False)}")
    for inst, v in c.candidates.items():
        click.echo(f"  {inst}: {json.dumps(v, ensure_ascii=False)}")


@conflicts.command("resolve")
@click.argument("conflict_id", type=int, required=False)
@click.option("--take", metavar="INSTANCE", help="Keep the value of this instance.")
@click.option("--value", metavar="JSON", help="Set this value (JSON, e.g. '\"Orsay\"').")
@click.option("--newest", is_flag=True, help="With --record or --all: each time, the value entered last.")
@click.option("--record", "record", metavar="RECORD", help="Every open conflict of this record.")
@click.option("--all", "every", is_flag=True, help="Every open conflict.")
@click.option("--dry-run", is_flag=True, help="With --record or --all: show what would be chosen; write nothing.")
@click.pass_obj
def conflicts_resolve(ctx: Context, conflict_id: int | None, take: str | None, value: str | None, newest: bool,
                      record: str | None, every: bool, dry_run: bool) -> None:
    """Settle a conflict (or a record's, or all); the next sync writes the values everywhere."""
    if record is not None or every:
        if conflict_id is not None or value is not None:
            _fail_usage("--record and --all settle many conflicts: give --take INSTANCE or --newest, no ID or --value")
        with _store(ctx) as store, _refusals():
            choices = coordinator.resolve_conflicts(store, record=record, every=every, take=take, newest=newest,
                                                    dry_run=dry_run)
            titles = coordinator.record_titles(store)
        settled = [c for c in choices if not c.skipped]
        for c in choices:
            who = f"{titles.get(c.conflict.record_id, '?')} ({coordinator.short_id(c.conflict.record_id)})"
            click.echo(f"#{c.conflict.id}  {who}  {c.conflict.field}: "
                       + (f"left open ({c.skipped})" if c.skipped else _short(c.value)))
        verb = "would be resolved (dry run: nothing written)" if dry_run else "resolved; the next sync writes them"
        click.echo(f"{len(settled)} of {len(choices)} conflicts {verb}.")
        return
    if newest:
        _fail_usage("--newest settles many conflicts: give --record RECORD or --all")
    if conflict_id is None:
        _fail_usage("give a conflict ID, or --record RECORD or --all")
    if dry_run:
        _fail_usage("--dry-run goes with --record or --all")
    if (take is None) == (value is None):
        _fail_usage("give exactly one of --take INSTANCE or --value JSON")
    with _store(ctx) as store, _refusals():
        given = coordinator.parse_json_value(value) if value is not None else coordinator.UNSET
        done = coordinator.resolve_conflict(store, conflict_id, take=take, value=given)
    click.echo(f"Conflict #{conflict_id} resolved: {done.field} = {json.dumps(done.value, ensure_ascii=False)}. "
               "The next sync writes it everywhere.")


@cli.command()
@click.argument("record_ref", metavar="RECORD")
@click.pass_obj
def history(ctx: Context, record_ref: str) -> None:
    """Every revision of a record (its id, an id prefix, its exact title or an entry id): who, when, from where."""
    with _store(ctx) as store, _refusals():
        rec, lines = coordinator.history(store, record_ref)
    click.echo(f"{coordinator.describe_record(rec)}  {rec.id}")
    for line in lines:
        r = line.revision
        flag = " (deleted)" if r.deleted else ""
        click.echo(f"r{r.number}  {r.at}  {r.author} via {r.origin}{flag}: {r.note}")
        if line.changed:
            click.echo("      changed: " + ", ".join(line.changed))


@cli.command()
@click.argument("record_ref", metavar="RECORD")
@click.argument("revision", type=int, required=False)
@click.pass_obj
def restore(ctx: Context, record_ref: str, revision: int | None) -> None:
    """Make an old revision current again (a new revision; nothing is lost). A deleted record without
    REVISION comes back as it last was, and the next sync creates its entries again."""
    with _store(ctx) as store, _refusals():
        rec, new = coordinator.restore_record(store, record_ref, revision)
    click.echo(f"Record {coordinator.describe_record(rec)} restored as r{new}. The next sync writes it everywhere.")


@cli.group(invoke_without_command=True)
@click.pass_context
def match(ctx: click.Context) -> None:
    """Possible duplicates waiting for a person: entries held back, and records that may be one actor, each
    with its score and evidence (subcommands: link, distinct, merge, split)."""
    if ctx.invoked_subcommand is None:
        cfg = _load(ctx.obj)
        with _store(ctx.obj, cfg) as store:
            rows = coordinator.open_reviews(store)
            titles = coordinator.record_titles(store)
            pairs = coordinator.record_pairs(store, cfg.identity)
        if not rows and not pairs:
            click.echo("No possible duplicate waiting.")
        for r in rows:
            # the full record id: it is what `match link` takes
            cands = ", ".join(f"{titles.get(c[0]) or c[0]} (record {c[0]}, score {c[1]:.0f}"
                              + (f": {', '.join(c[2])}" if len(c) > 2 and c[2] else "") + ")" for c in r.candidates)
            click.echo(f"#{r.id}  {r.instance}:{r.remote_id} {r.values.get('name')!r} may be: {cands}")
        if pairs:
            click.echo("Records that may be one actor (`match merge KEEP OTHER`, or `match distinct A B`):")
        for p in pairs:
            click.echo(f"  {coordinator.describe_record(p.first)} ~ {coordinator.describe_record(p.second)}: "
                       f"score {p.score:.0f} ({', '.join(p.evidence)})")
        sys.exit(app.EXIT_ATTENTION if rows or pairs else app.EXIT_OK)


@match.command("link")
@click.argument("item_id", type=int)
@click.argument("record_id")
@click.pass_obj
def match_link(ctx: Context, item_id: int, record_id: str) -> None:
    """The entry is this record: link them (differing values become conflicts)."""
    cfg = _load(ctx)
    with _store(ctx, cfg) as store, _refusals():
        item = coordinator.link_duplicate(cfg, store, item_id, record_id)
    click.echo(f"Linked {item.instance}:{item.remote_id} to {record_id}; the next sync merges them.")


@match.command("distinct")
@click.argument("first")
@click.argument("second", required=False)
@click.pass_obj
def match_distinct(ctx: Context, first: str, second: str | None) -> None:
    """ITEM: the waiting entry is a different actor (the next sync makes it a record of its own); RECORD
    RECORD: two records are two actors. Remembered, never proposed again."""
    with _store(ctx) as store, _refusals():
        if second is None:
            if not first.isdigit():
                raise coordinator.Refused("give a review item number (`match` lists them), or two records")
            item = coordinator.mark_distinct(store, int(first))
        else:
            a, b = coordinator.mark_distinct_records(store, first, second)
    if second is None:
        click.echo(f"{item.instance}:{item.remote_id} marked as distinct; the next sync copies it.")
    else:
        click.echo(f"{coordinator.describe_record(a)} and {coordinator.describe_record(b)} are two actors.")


@match.command("merge")
@click.argument("keep")
@click.argument("other")
@click.option("--dry-run", is_flag=True, help="Show the merged values; write nothing.")
@click.pass_obj
def match_merge(ctx: Context, keep: str, other: str, dry_run: bool) -> None:
    """Two records are one actor: KEEP takes OTHER's entries and values (field by field); OTHER is deleted,
    its history kept; `match split KEEP` undoes it."""
    cfg = _load(ctx)
    with _store(ctx, cfg) as store, _refusals():
        m = coordinator.merge_records(store, keep, other, dry_run=dry_run, same_place_m=cfg.identity.same_place_m)
    changed = sorted(k for k, v in m.values.items() if v != m.keep.fields.get(k))
    click.echo(("Dry run: " if dry_run else "") + f"{coordinator.describe_record(m.other)} "
               + ("would be merged" if dry_run else "merged") + f" into {coordinator.describe_record(m.keep)}.")
    if changed:
        click.echo("  values taken: " + ", ".join(f"{k}={_short(m.values[k])}" for k in changed))
    if m.not_kept:
        click.echo("  not kept (stays in the history): " + ", ".join(f"{k}={_short(v)}" for k, v in m.not_kept.items()))
    if m.moved:
        click.echo("  entries that now belong to it: " + ", ".join(m.moved))
    if m.doubled:
        click.echo("  a second entry in " + ", ".join(m.doubled)
                   + ": the next sync removes it (kept if a member edited it since)")


@match.command("split")
@click.argument("record_ref", metavar="RECORD")
@click.pass_obj
def match_split(ctx: Context, record_ref: str) -> None:
    """Undo the last merge into RECORD: the merged record comes back with its entries."""
    with _store(ctx) as store, _refusals():
        sp = coordinator.split_record(store, record_ref)
    click.echo(f"{coordinator.describe_record(sp.other)} is back, apart from {coordinator.describe_record(sp.keep)}"
               + (f"; its entries in {', '.join(sp.moved_back)} are its own again" if sp.moved_back else "")
               + ("" if sp.values_restored else f"; {coordinator.short_id(sp.keep.id)} changed since the merge"
                                                " and keeps its values") + ". The next sync writes both.")


@cli.group(invoke_without_command=True)
@click.pass_context
def suggestions(ctx: click.Context) -> None:
    """Values changed in a Nextcloud card, waiting for a person (subcommands: accept, reject)."""
    if ctx.invoked_subcommand is None:
        with _store(ctx.obj) as store:
            rows = coordinator.open_suggestions(store)
            titles = coordinator.record_titles(store)
        if not rows:
            click.echo("No open suggestion.")
        for s, now in rows:
            click.echo(f"#{s.id}  {titles.get(s.record_id) or s.record_id}  {s.field}: {_short(now)} -> "
                       f"{_short(s.value)}  (seen in {s.instance}, {s.observed_at:%Y-%m-%d %H:%M})")
        sys.exit(app.EXIT_ATTENTION if rows else app.EXIT_OK)


@suggestions.command("accept")
@click.argument("suggestion_id", type=int)
@click.pass_obj
def suggestions_accept(ctx: Context, suggestion_id: int) -> None:
    """Take the value into the source record; the next sync writes it everywhere."""
    with _store(ctx) as store, _refusals():
        done = coordinator.accept_suggestion(store, suggestion_id)
    click.echo(f"Suggestion #{suggestion_id} accepted: {done.field} = {json.dumps(done.value, ensure_ascii=False)}. "
               "The next sync writes it everywhere.")


@suggestions.command("reject")
@click.argument("suggestion_id", type=int)
@click.pass_obj
def suggestions_reject(ctx: Context, suggestion_id: int) -> None:
    """Keep the record as it is (the card stays restored)."""
    with _store(ctx) as store, _refusals():
        s = coordinator.reject_suggestion(store, suggestion_id)
    click.echo(f"Suggestion #{s.id} rejected; the record keeps its {s.field}.")


@cli.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def backup_cmd(ctx: Context, path: Path) -> None:
    """Save the store into PATH, a new file (SQLite: online backup; PostgreSQL: pg_dump, custom format)."""
    from .backup import BackupError, backup

    cfg = _load(ctx, check_files=True)
    try:
        done = backup(cfg, path)
    except BackupError as exc:
        _fail_usage(str(exc))
    click.echo(f"Store saved in {done.path} ({done.engine}, {done.size} bytes, schema {done.schema_version}). "
               f"Restore it with `oscartes-sync restore-backup {done.path}`.")


@cli.command("restore-backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def restore_backup_cmd(ctx: Context, path: Path) -> None:
    """Replace the store with a backup made by `backup` (waits for no run: refused while a sync runs)."""
    from .backup import BackupError, restore_backup

    cfg = _load(ctx)
    try:
        with _run_lock(cfg):
            done = restore_backup(cfg, path)
    except BackupError as exc:
        _fail_usage(str(exc))
    click.echo(f"Store restored from {done.path} (schema {done.schema_version})."
               + (f" The store as it was is saved in {done.saved_current}." if done.saved_current else "")
               + " The next sync compares it with the wikis and writes only what differs.")


@cli.command()
@click.argument("query")
@click.option("--text", "texts", multiple=True, metavar="TEXT",
              help="Also erase this name or text (repeatable). A name `forget` proposes is erased only when given here.")
@click.option("--dry-run", is_flag=True, help="Show every place found and erase nothing (also what happens without --yes).")
@click.option("--yes", is_flag=True, help="Erase everything the dry run shows.")
@click.pass_obj
def forget(ctx: Context, query: str, texts: tuple[str, ...], dry_run: bool, yes: bool) -> None:
    """Erase a person's data (QUERY: an email, a phone number or a name) from the store and its whole history.
    The wiki entries that still hold it are named: the members edit them; the sync never copies it meanwhile."""
    from .forget import ForgetRefused, forget as run_forget

    if dry_run and yes:
        _fail_usage("--dry-run erases nothing and --yes erases: give one of them")
    cfg = _load(ctx)
    try:
        with _run_lock(cfg) if yes else nullcontext(), _store(ctx, cfg) as store:
            rep = run_forget(store, query, list(texts), erase=yes)
    except ForgetRefused as exc:
        _fail_usage(str(exc))
    click.echo("Looking for: " + "; ".join(f"{n.kind} {n.label!r}" for n in rep.needles))
    if not rep.places:
        click.echo("Found nowhere in the store: nothing to erase.")
    else:
        click.echo(f"{'Erased' if rep.erased else 'Found'} {rep.occurrences} occurrences in {len(rep.places)} places:")
        for p in rep.places:
            click.echo(f"  {p.where}" + (f" ({', '.join(p.fields)})" if p.fields else ""))
    for text, n in rep.proposals:
        click.echo(f"Also found, erased only if you confirm it: {text!r} in {n} places; add --text {text!r}.")
    if rep.entries:
        click.echo("Still in the wikis (the members' own: edit or ask them to edit these entries):")
        for e in rep.entries:
            click.echo(f"  {e.instance} entry {e.remote_id} ({e.title}): {', '.join(e.fields) or 'values'}")
        click.echo("  Until then the sync refuses these values there: it neither stores nor copies them, and names "
                   "each entry in its report.")
    if rep.published and rep.places:
        click.echo("Its contact details were public: the next sync rewrites the address book cards and the open-data "
                   "exports without them.")
    if rep.erased:
        click.echo("The store was compacted. Backups made before now still hold these values: delete them or let "
                   "them expire.")
        sys.exit(app.EXIT_ATTENTION if rep.entries else app.EXIT_OK)
    if rep.places:
        click.echo("Nothing erased. To erase what is listed, run again with --yes.")
    sys.exit(app.EXIT_ATTENTION if rep.places or rep.proposals else app.EXIT_OK)


@cli.command()
@click.option("--host", metavar="ADDRESS", help="Address to listen on (default [serve] host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), metavar="PORT", help="Port (default [serve] port, 8765).")
@click.pass_obj
def serve(ctx: Context, host: str | None, port: int | None) -> None:
    """Webhook trigger: YesWiki's webhooks extension posts to /hook/WIKI; the entry's record is synced at once
    (one run at a time with the timer, which stays the safety net)."""
    from .serve import Server, check

    cfg = _load(ctx, check_files=True)
    problems = check(cfg)
    for p in problems:
        click.echo(f"warning: {p}", err=True)
    if not any(w.hook_secret_env for w in cfg.wiki) or (problems and problems[0].startswith("no ")):
        _fail_usage(f"{config_path(ctx.config_arg)}: {problems[0]}; set hook_secret_env under a [[wiki]] and that "
                    "variable in the secrets file")
    logging.getLogger("oscartes_sync.serve").setLevel(logging.INFO)
    try:
        server = Server(cfg, host or cfg.serve.host, port or cfg.serve.port)
    except OSError as exc:
        _fail_usage(f"cannot listen on {host or cfg.serve.host}:{port or cfg.serve.port} ({exc.strerror or exc})")
    click.echo(f"Listening on {server.url}hook/<wiki> ({', '.join(w.name for w in cfg.wiki)}); Ctrl-C stops.")
    server.serve_forever()


@cli.command()
@click.option("--keep", is_flag=True, help="Leave the sandbox running until Ctrl-C, to look at it.")
@click.option("--workdir", type=click.Path(file_okay=False), help="Keep the demo store here (default: temporary).")
def demo(keep: bool, workdir: str | None) -> None:
    """Start a local sandbox (two wikis with sample data), sync it, and report. Needs no config, no network."""
    from .publish.provision import ProvisionError
    from .sandbox.demo import run_demo

    try:
        code = run_demo(keep=keep, workdir=workdir, echo=click.echo)
    except ProvisionError as exc:
        _fail_usage(f"templates: {exc}")
    sys.exit(code)


def _short(v: Any, n: int = 40) -> str:
    s = json.dumps(v, ensure_ascii=False)
    return s if len(s) <= n else s[: n - 1] + "…"


def main() -> None:
    cli(prog_name="oscartes-sync")
