"""The `oscartes-sync` command: parse, call one function, print, exit (DECISIONS §12).

Exit codes: 0 nothing needs a person; 1 done, but something needs a person; 2 usage or config error.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Iterator

import click

from . import app, coordinator, i18n
from .config import ConfigError, config_origin, config_path, load_config, permission_warnings
from .i18n import N_, _, human_datetime, translate
from .report import evidence, render_run
from .store import Store, StoreError
from .text import SEMICOLON, Plural, Term, Text, join, message_of


class Context:
    def __init__(self, config: str | None, verbose: bool):
        self.config_arg = config
        self.verbose = verbose

    def load(self, read_territory: bool = True):
        return load_config(config_path(self.config_arg), config_origin(self.config_arg),
                           read_territory=read_territory)


def say(message: Any, err: bool = False) -> None:
    """Print a message in the reader's language."""
    click.echo(translate(message), err=err)


def _fail_usage(message: str) -> None:
    say(Text("error: {message}", message=message), err=True)
    sys.exit(app.EXIT_USAGE)


def _fail_busy(exc: Exception) -> None:
    """Another run holds the lock: nothing was done, and a later run will do it (exit 1, not a usage error)."""
    say(Text("error: {message}", message=_message(exc)), err=True)
    sys.exit(app.EXIT_ATTENTION)


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
        # the environment's language first, before `--help` (eager) is read; `--lang` overrides it. Only for the
        # command itself: its groups (`conflicts`, `match`) are of this class too, and keep what `--lang` chose.
        if parent is None:
            i18n.set_language(None)
        return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except StoreError as exc:  # its message names the database and never carries the password
            say(Text("error: store: {reason}", reason=_message(exc)), err=True)
            sys.exit(app.EXIT_USAGE)
        except KeyboardInterrupt:
            say(Text("interrupted"), err=True)
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
@click.option("-v", "--verbose", is_flag=True,
              help=N_("Say more: the requests sent, every planned action, and a log line per request."))
@click.version_option(package_name="oscartes-sync", prog_name="oscartes-sync", message="%(prog)s %(version)s",
                      help=N_("Show the version and exit."))
@click.pass_context
def cli(ctx: click.Context, config: str | None, verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(message)s")
    if not verbose:
        # urllib3 warns on each retry; the report already names the instance that failed, once
        logging.getLogger("urllib3").setLevel(logging.ERROR)
    ctx.obj = Context(config, verbose)


_message = message_of  # the message an exception carries (a Text, translated when shown)


def _load(ctx: Context, *, check_files: bool = False, read_territory: bool = True):
    """The config; `check_files`: also warn when it, or the secrets file, is readable by every user (the
    commands that use the secrets or run unattended: sync, serve, doctor, provision, kit apply, backup);
    `read_territory`: off only for `kit apply`, which writes the territory's parameters file."""
    try:
        cfg = ctx.load(read_territory)
    except ConfigError as exc:
        _fail_usage(_message(exc))
    for warning in permission_warnings(config_path(ctx.config_arg)) if check_files else ():
        say(Text("warning: {message}", message=warning), err=True)
    return cfg


def _with_store(ctx: Context, cfg=None):
    cfg = cfg or _load(ctx)
    try:
        store = app.open_store(cfg)
    except Exception as exc:  # the store reports a readable StoreError; anything else is a bad URL
        _fail_usage(Text("store: {reason}", reason=_message(exc)))
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
        _fail_busy(exc)


@contextmanager
def _refusals() -> Iterator[None]:
    """A decision the coordinator module refuses is a usage error: its message, exit 2, nothing written."""
    try:
        yield
    except coordinator.Refused as exc:
        _fail_usage(_message(exc))


def _nothing_configured(ctx: Context, what: Text) -> None:
    _fail_usage(Text("{path}: no [[wiki]] configured: {what}", path=str(config_path(ctx.config_arg)), what=what))


class _Progress:
    """A progress bar on a terminal for long work (a first import writes hundreds of entries); nothing when the
    output is no terminal (the systemd journal, a pipe): the report says what was done."""

    MIN = 20  # fewer writes than this are over before a bar would help

    def __init__(self) -> None:
        self.bar = None
        self.kind = None

    def __call__(self, kind: str, done: int, total: int) -> None:
        if total < self.MIN or not sys.stdout.isatty():
            return
        if self.bar is None or kind != self.kind:
            self.close()
            self.kind = kind
            self.bar = click.progressbar(length=total, label=translate(Text("{kind}: writing to the wikis",
                                                                            kind=Term.kind(kind, heading=True))),
                                         show_pos=True, width=30)
            self.bar.__enter__()
        self.bar.update(done - self.bar.pos)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@cli.command(help=N_("One full sync cycle: read every wiki, merge, write where it differs, publish; then report."))
@click.option("--dry-run", is_flag=True, help=N_("Print what the run would do; write nothing."))
@click.option("--allow-deletes", type=click.IntRange(min=0), default=0, metavar="N",
              help=N_("Accept once a run that deletes up to N records of a kind (refused by the limit)."))
@click.option("--json", "as_json", is_flag=True, help=N_("Print the run summary as JSON (its keys: README, « Sorties JSON »)."))
@click.pass_obj
def sync(ctx: Context, dry_run: bool, allow_deletes: int, as_json: bool) -> None:
    cfg = _load(ctx, check_files=True)
    if not cfg.wiki:
        _nothing_configured(ctx, Text("nothing to sync"))
    lock = cfg.path(cfg.sync.lock_file)
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _fail_usage(Text("sync.lock_file: cannot create the folder of {lock} ({reason})", lock=str(lock),
                         reason=exc.strerror or str(exc)))
    progress = _Progress()
    try:
        # the lock first: a second run must not even open (and migrate) the store
        with app.one_run_at_a_time(cfg):
            _, store = _with_store(ctx, cfg)
            try:
                instances = app.build_instances(cfg)
                run = app.sync_once(cfg, store, instances, dry_run=dry_run, allow_deletes=allow_deletes,
                                    progress=None if as_json else progress)
            finally:
                progress.close()
                store.close()
    except app.Busy as exc:
        _fail_busy(exc)
    click.echo(json.dumps(run.report, indent=2, ensure_ascii=False) if as_json
               else render_run(run, verbose=ctx.verbose))
    sys.exit(run.exit_code)


@cli.command(help=N_("The last run, the records, and what waits for a person (conflicts, possible duplicates)."))
@click.option("--json", "as_json", is_flag=True, help=N_("Machine-readable, for monitoring (its keys: README, « Sorties JSON »)."))
@click.pass_obj
def status(ctx: Context, as_json: bool) -> None:
    with _store(ctx) as store:
        st = coordinator.status(store)
    data = st.as_dict()
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        sys.exit(app.EXIT_ATTENTION if st.needs_person else app.EXIT_OK)
    counts = [Text("{n} {kind}", n=n, kind=Term(k, "kind" if n != 1 else "kind_one"))
              for k, n in sorted(st.records.items())]
    say(Text("Records: {counts}", counts=join(", ", counts)) if counts else Text("Records: none yet"))
    say(Text("Waiting for a person: {conflicts}, {duplicates}",
             conflicts=Plural("{n} open conflict", "{n} open conflicts", st.open_conflicts, n=st.open_conflicts),
             duplicates=Plural("{n} possible duplicate", "{n} possible duplicates", st.open_reviews,
                               n=st.open_reviews)))
    last = st.last_run
    if last is None:
        say(Text("No run yet."))
    else:
        known = coordinator.RUN_OUTCOMES.get(last.status)
        outcome = Text(known) if known else last.status
        finished = last.finished_at or last.started_at
        say(Text("Last run #{id}, {when}: {outcome} (exit code {code}).", id=last.id, when=human_datetime(finished),
                 outcome=outcome, code=last.exit_code if last.exit_code is not None else "-"))
        for name, err in data["last_run"]["instance_errors"].items():
            say(Text("  {instance} not synced: {reason}", instance=name, reason=err))
    sys.exit(app.EXIT_ATTENTION if st.needs_person else app.EXIT_OK)


@cli.command(help=N_("Set up the Bazar forms, lists and pages of wiki_templates/ in every wiki."))
@click.option("--check", is_flag=True, help=N_("Write nothing; print the drift and exit 1 if there is any."))
@click.option("--force", is_flag=True,
              help=N_("Also overwrite pages edited by hand (the wiki keeps their history)."))
@click.option("--json", "as_json", is_flag=True, help=N_("Print the result as JSON."))
@click.pass_obj
def provision(ctx: Context, check: bool, force: bool, as_json: bool) -> None:
    from dataclasses import asdict

    from .publish.provision import ProvisionError, render_report, run_provision

    if check and force:
        _fail_usage(Text("--check writes nothing: it cannot be combined with --force"))
    cfg, store = _with_store(ctx, _load(ctx, check_files=True))
    try:
        if not cfg.wiki:
            _nothing_configured(ctx, Text("nothing to provision"))
        with app.one_run_at_a_time(cfg):
            report = run_provision(cfg, store, check=check, force=force)
    except ProvisionError as exc:
        _fail_usage(Text("templates: {reason} (nothing was written to any wiki)", reason=_message(exc)))
    except app.Busy as exc:
        _fail_busy(exc)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps({"check": report.check, "errors": report.errors,
                               "items": [asdict(i) for i in report.items]}, indent=2, ensure_ascii=False))
    else:
        click.echo(render_report(report))
    sys.exit(report.exit_code)


@cli.command(help=N_("Check each wiki and Nextcloud (secrets, reachable, version, token, admin login, forms) and "
                     "the store; writes nothing."))
@click.option("--json", "as_json", is_flag=True, help=N_("Machine-readable, for monitoring."))
@click.pass_obj
def doctor(ctx: Context, as_json: bool) -> None:
    from .doctor import render_text, run_doctor

    cfg = _load(ctx, check_files=True)
    if not cfg.wiki and not cfg.nextcloud:
        _nothing_configured(ctx, Text("nothing to check"))
    report = run_doctor(cfg)
    click.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False) if as_json else render_text(report))
    sys.exit(report.exit_code)


@cli.command(help=N_("Find records by the words of their title, an entry id or the start of their id (all of them "
                     "without QUERY)."))
@click.argument("query", required=False)
@click.option("--deleted", is_flag=True, help=N_("Include deleted records."))
@click.option("--json", "as_json", is_flag=True, help=N_("Machine-readable."))
@click.pass_obj
def records(ctx: Context, query: str | None, deleted: bool, as_json: bool) -> None:
    with _store(ctx) as store:
        rows = coordinator.find_records(store, query, include_deleted=deleted)
        entries = {r.id: store_entries for r in rows if (store_entries := coordinator.entries_of(store, r.id))}
    if as_json:
        click.echo(json.dumps([{"id": r.id, "kind": r.kind, "name": r.fields.get("name"), "deleted": r.deleted,
                                "entries": entries.get(r.id, [])} for r in rows], indent=2, ensure_ascii=False))
        return
    if not rows:
        say(Text("No record found.") if query else Text("No record yet."))
    for r in rows:
        where = ", ".join(f"{i}:{e}" for i, e, current in entries.get(r.id, []) if current)
        line = Text("{id}  {title}  ({kind})", id=coordinator.short_id(r.id), title=r.fields.get("name") or "?",
                    kind=Term(r.kind, "kind_one")) if not r.deleted else Text(
            "{id}  {title}  ({kind}, deleted)", id=coordinator.short_id(r.id), title=r.fields.get("name") or "?",
            kind=Term(r.kind, "kind_one"))
        say(join("  ", [line, where]) if where else line)


@cli.group(invoke_without_command=True,
           help=N_("List the open conflicts (subcommands: show, resolve)."))
@click.option("--record", "record", metavar="RECORD", help=N_("Only the conflicts of this record."))
@click.pass_context
def conflicts(ctx: click.Context, record: str | None) -> None:
    if ctx.invoked_subcommand is None:
        with _store(ctx.obj) as store, _refusals():
            rows = coordinator.open_conflicts(store, record)
            titles = coordinator.record_titles(store)
        if not rows:
            say(Text("No open conflict."))
        for c in rows:
            say(Text("#{id}  {title}  {field}: {candidates}", id=c.id, title=titles.get(c.record_id) or c.record_id,
                     field=Term.field(c.field),
                     candidates="  ".join(f"{inst}={_short(v)}" for inst, v in c.candidates.items())))
        sys.exit(app.EXIT_ATTENTION if rows else app.EXIT_OK)


@conflicts.command("show", help=N_("One conflict with its candidates in full."))
@click.argument("conflict_id", type=int)
@click.pass_obj
def conflicts_show(ctx: Context, conflict_id: int) -> None:
    with _store(ctx) as store, _refusals():
        c, title = coordinator.conflict(store, conflict_id)
    status = {"open": Text("open"), "resolved": Text("resolved")}.get(c.status, c.status)
    say(Text("Conflict #{id} ({status}) on {title}, field {field}, since {when}", id=c.id, status=status,
             title=title, field=Term.field(c.field), when=human_datetime(c.opened_at)))
    say(Text("  agreed value before: {value}", value=_shown(c.base)))
    for inst, v in c.candidates.items():
        click.echo(f"  {inst}: {json.dumps(v, ensure_ascii=False)}")


@conflicts.command("resolve", help=N_("Settle a conflict (or a record's, or all); the next sync writes the values "
                                      "everywhere."))
@click.argument("conflict_id", type=int, required=False)
@click.option("--take", metavar="INSTANCE", help=N_("Keep the value of this instance."))
@click.option("--value", metavar="JSON", help=N_("Set this value (JSON, e.g. '\"Orsay\"')."))
@click.option("--newest", is_flag=True, help=N_("With --record or --all: each time, the value entered last."))
@click.option("--record", "record", metavar="RECORD", help=N_("Every open conflict of this record."))
@click.option("--all", "every", is_flag=True, help=N_("Every open conflict."))
@click.option("--dry-run", is_flag=True,
              help=N_("With --record or --all: show what would be chosen; write nothing."))
@click.pass_obj
def conflicts_resolve(ctx: Context, conflict_id: int | None, take: str | None, value: str | None, newest: bool,
                      record: str | None, every: bool, dry_run: bool) -> None:
    if record is not None or every:
        if conflict_id is not None or value is not None:
            _fail_usage(Text("--record and --all settle many conflicts: give --take INSTANCE or --newest, no ID or "
                             "--value"))
        with _store(ctx) as store, _refusals():
            choices = coordinator.resolve_conflicts(store, record=record, every=every, take=take, newest=newest,
                                                    dry_run=dry_run)
            titles = coordinator.record_titles(store)
        settled = [c for c in choices if not c.skipped]
        for c in choices:
            who = f"{titles.get(c.conflict.record_id, '?')} ({coordinator.short_id(c.conflict.record_id)})"
            say(Text("#{id}  {record}  {field}: left open ({why})", id=c.conflict.id, record=who,
                     field=Term.field(c.conflict.field), why=c.skipped) if c.skipped
                else Text("#{id}  {record}  {field}: {value}", id=c.conflict.id, record=who,
                          field=Term.field(c.conflict.field), value=_short(c.value)))
        n, total = len(settled), len(choices)
        say(Plural("{n} of {total} conflict would be resolved (dry run: nothing written).",
                   "{n} of {total} conflicts would be resolved (dry run: nothing written).", total, n=n, total=total)
            if dry_run else
            Plural("{n} of {total} conflict resolved; the next sync writes the values everywhere.",
                   "{n} of {total} conflicts resolved; the next sync writes the values everywhere.", total, n=n,
                   total=total))
        return
    if newest:
        _fail_usage(Text("--newest settles many conflicts: give --record RECORD or --all"))
    if conflict_id is None:
        _fail_usage(Text("give a conflict ID, or --record RECORD or --all"))
    if dry_run:
        _fail_usage(Text("--dry-run goes with --record or --all"))
    if (take is None) == (value is None):
        _fail_usage(Text("give exactly one of --take INSTANCE or --value JSON"))
    with _store(ctx) as store, _refusals():
        given = coordinator.parse_json_value(value) if value is not None else coordinator.UNSET
        done = coordinator.resolve_conflict(store, conflict_id, take=take, value=given)
    say(Text("Conflict #{id} resolved: {field} = {value}. The next sync writes it everywhere.", id=conflict_id,
             field=Term.field(done.field), value=json.dumps(done.value, ensure_ascii=False)))


@cli.command(help=N_("Every revision of a record (its id, an id prefix, its exact title or an entry id): who, "
                     "when, from where."))
@click.argument("record_ref", metavar="RECORD")
@click.pass_obj
def history(ctx: Context, record_ref: str) -> None:
    with _store(ctx) as store, _refusals():
        rec, lines = coordinator.history(store, record_ref)
    say(join("  ", [coordinator.describe_record(rec), rec.id]))
    for line in lines:
        r = line.revision
        author = Text(AUTHORS[r.author]) if r.author in AUTHORS else r.author
        text = (Text("r{number}  {when}  {author} via {origin} (deleted): {note}", number=r.number,
                     when=human_datetime(r.at), author=author, origin=r.origin, note=r.note) if r.deleted
                else Text("r{number}  {when}  {author} via {origin}: {note}", number=r.number,
                          when=human_datetime(r.at), author=author, origin=r.origin, note=r.note))
        say(text)
        if line.changed:
            say(Text("      changed: {fields}", fields=join(", ", [Term.field(f) for f in line.changed])))


@cli.command(help=N_("Make an old revision current again (a new revision; nothing is lost). A deleted record "
                     "without REVISION comes back as it last was, and the next sync creates its entries again."))
@click.argument("record_ref", metavar="RECORD")
@click.argument("revision", type=int, required=False)
@click.pass_obj
def restore(ctx: Context, record_ref: str, revision: int | None) -> None:
    with _store(ctx) as store, _refusals():
        rec, new = coordinator.restore_record(store, record_ref, revision)
    say(Text("Record {record} restored as r{revision}. The next sync writes it everywhere.",
             record=coordinator.describe_record(rec), revision=new))


@cli.group(invoke_without_command=True,
           help=N_("Possible duplicates waiting for a person: entries held back, and records that may be one "
                   "actor, each with its score and evidence (subcommands: link, distinct, merge, split)."))
@click.pass_context
def match(ctx: click.Context) -> None:
    if ctx.invoked_subcommand is None:
        cfg = _load(ctx.obj)
        with _store(ctx.obj, cfg) as store:
            rows = coordinator.open_reviews(store)
            titles = coordinator.record_titles(store)
            pairs = coordinator.record_pairs(store, cfg.identity)
        if not rows and not pairs:
            say(Text("No possible duplicate waiting."))
        for r in rows:
            # the full record id: it is what `match link` takes
            cands = join(", ", [_candidate(c, titles) for c in r.candidates])
            say(Text("#{id}  {instance}:{entry} \"{title}\" may be: {candidates}", id=r.id, instance=r.instance,
                     entry=r.remote_id, title=r.values.get("name") or "?", candidates=cands))
        if pairs:
            say(Text("Records that may be one actor (`match merge KEEP OTHER`, or `match distinct A B`):"))
        for p in pairs:
            say(Text("  {first} ~ {second}: score {score:.0f} ({evidence})",
                     first=coordinator.describe_record(p.first), second=coordinator.describe_record(p.second),
                     score=p.score, evidence=join(", ", list(p.evidence))))
        sys.exit(app.EXIT_ATTENTION if rows or pairs else app.EXIT_OK)


def _candidate(c: list, titles: dict[str, str]) -> Text:
    why = evidence(c[2]) if len(c) > 2 and c[2] else []
    if why:
        return Text("{title} (record {id}, score {score:.0f}: {evidence})", title=titles.get(c[0]) or c[0], id=c[0],
                    score=float(c[1]), evidence=join(", ", why))
    return Text("{title} (record {id}, score {score:.0f})", title=titles.get(c[0]) or c[0], id=c[0],
                score=float(c[1]))


@match.command("link", help=N_("The entry is this record: link them (differing values become conflicts)."))
@click.argument("item_id", type=int)
@click.argument("record_id")
@click.pass_obj
def match_link(ctx: Context, item_id: int, record_id: str) -> None:
    cfg = _load(ctx)
    with _store(ctx, cfg) as store, _refusals():
        item = coordinator.link_duplicate(cfg, store, item_id, record_id)
    say(Text("Linked {instance}:{entry} to {record}; the next sync merges them.", instance=item.instance,
             entry=item.remote_id, record=record_id))


@match.command("distinct", help=N_("ITEM: the waiting entry is a different actor (the next sync makes it a record "
                                   "of its own); RECORD RECORD: two records are two actors. Remembered, never "
                                   "proposed again."))
@click.argument("first")
@click.argument("second", required=False)
@click.pass_obj
def match_distinct(ctx: Context, first: str, second: str | None) -> None:
    with _store(ctx) as store, _refusals():
        if second is None:
            if not first.isdigit():
                raise coordinator.Refused(Text("give a review item number (`match` lists them), or two records"))
            item = coordinator.mark_distinct(store, int(first))
        else:
            a, b = coordinator.mark_distinct_records(store, first, second)
    if second is None:
        say(Text("{instance}:{entry} marked as distinct; the next sync copies it.", instance=item.instance,
                 entry=item.remote_id))
    else:
        say(Text("{first} and {second} are two actors.", first=coordinator.describe_record(a),
                 second=coordinator.describe_record(b)))


@match.command("merge", help=N_("Two records are one actor: KEEP takes OTHER's entries and values (field by field); "
                                "OTHER is deleted, its history kept; `match split KEEP` undoes it."))
@click.argument("keep")
@click.argument("other")
@click.option("--dry-run", is_flag=True, help=N_("Show the merged values; write nothing."))
@click.pass_obj
def match_merge(ctx: Context, keep: str, other: str, dry_run: bool) -> None:
    cfg = _load(ctx)
    with _store(ctx, cfg) as store, _refusals():
        m = coordinator.merge_records(store, keep, other, dry_run=dry_run, same_place_m=cfg.identity.same_place_m)
    changed = sorted(k for k, v in m.values.items() if v != m.keep.fields.get(k))
    names = {"other": coordinator.describe_record(m.other), "keep": coordinator.describe_record(m.keep)}
    say(Text("Dry run: {other} would be merged into {keep}.", **names) if dry_run
        else Text("{other} merged into {keep}.", **names))
    if changed:
        say(Text("  values taken: {values}", values=_values(changed, m.values)))
    if m.not_kept:
        say(Text("  not kept (stays in the history): {values}", values=_values(list(m.not_kept), m.not_kept)))
    if m.moved:
        say(Text("  entries that now belong to it: {wikis}", wikis=", ".join(m.moved)))
    if m.doubled:
        say(Text("  a second entry in {wikis}: the next sync removes it (kept if a member edited it since)",
                 wikis=", ".join(m.doubled)))


def _values(fields: list[str], values: dict) -> Text:
    return join(", ", [join("=", [Term.field(k), _short(values[k])]) for k in fields])


@match.command("split", help=N_("Undo the last merge into RECORD: the merged record comes back with its entries."))
@click.argument("record_ref", metavar="RECORD")
@click.pass_obj
def match_split(ctx: Context, record_ref: str) -> None:
    with _store(ctx) as store, _refusals():
        sp = coordinator.split_record(store, record_ref)
    parts = [Text("{other} is back, apart from {keep}", other=coordinator.describe_record(sp.other),
                  keep=coordinator.describe_record(sp.keep))]
    if sp.moved_back:
        parts.append(Text("its entries in {wikis} are its own again", wikis=", ".join(sp.moved_back)))
    if not sp.values_restored:
        parts.append(Text("{id} changed since the merge and keeps its values", id=coordinator.short_id(sp.keep.id)))
    say(Text("{parts}. The next sync writes both.", parts=join(SEMICOLON, parts)))


@cli.group(invoke_without_command=True,
           help=N_("Values changed in a Nextcloud card, waiting for a person (subcommands: accept, reject)."))
@click.pass_context
def suggestions(ctx: click.Context) -> None:
    if ctx.invoked_subcommand is None:
        with _store(ctx.obj) as store:
            rows = coordinator.open_suggestions(store)
            titles = coordinator.record_titles(store)
        if not rows:
            say(Text("No open suggestion."))
        for s, now in rows:
            say(Text("#{id}  {title}  {field}: {now} → {value}  (seen in {instance}, {when})", id=s.id,
                     title=titles.get(s.record_id) or s.record_id, field=Term.field(s.field), now=_short(now),
                     value=_short(s.value), instance=s.instance, when=human_datetime(s.observed_at)))
        sys.exit(app.EXIT_ATTENTION if rows else app.EXIT_OK)


@suggestions.command("accept", help=N_("Take the value into the source record; the next sync writes it "
                                       "everywhere."))
@click.argument("suggestion_id", type=int)
@click.pass_obj
def suggestions_accept(ctx: Context, suggestion_id: int) -> None:
    with _store(ctx) as store, _refusals():
        done = coordinator.accept_suggestion(store, suggestion_id)
    say(Text("Suggestion #{id} accepted: {field} = {value}. The next sync writes it everywhere.", id=suggestion_id,
             field=Term.field(done.field), value=json.dumps(done.value, ensure_ascii=False)))


@suggestions.command("reject", help=N_("Keep the record as it is (the card stays restored)."))
@click.argument("suggestion_id", type=int)
@click.pass_obj
def suggestions_reject(ctx: Context, suggestion_id: int) -> None:
    with _store(ctx) as store, _refusals():
        s = coordinator.reject_suggestion(store, suggestion_id)
    say(Text("Suggestion #{id} rejected; the record keeps its {field}.", id=s.id, field=Term.field(s.field)))


@cli.command("backup", help=N_("Save the store into PATH, a new file (SQLite: online backup; PostgreSQL: pg_dump, "
                               "custom format)."))
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def backup_cmd(ctx: Context, path: Path) -> None:
    from .backup import BackupError, backup

    cfg = _load(ctx, check_files=True)
    try:
        done = backup(cfg, path)
    except BackupError as exc:
        _fail_usage(_message(exc))
    say(Text("Store saved in {path} ({engine}, {size} bytes, schema {schema}). Restore it with "
             "`oscartes-sync restore-backup {path}`.", path=str(done.path), engine=done.engine, size=done.size,
             schema=done.schema_version))


@cli.command("restore-backup", help=N_("Replace the store with a backup made by `backup` (waits for no run: "
                                       "refused while a sync runs)."))
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def restore_backup_cmd(ctx: Context, path: Path) -> None:
    from .backup import BackupError, restore_backup

    cfg = _load(ctx)
    try:
        with _run_lock(cfg):
            done = restore_backup(cfg, path)
    except BackupError as exc:
        _fail_usage(_message(exc))
    say(Text("Store restored from {path} (schema {schema}).", path=str(done.path), schema=done.schema_version))
    if done.saved_current:
        say(Text("The store as it was is saved in {path}.", path=str(done.saved_current)))
    say(Text("The next sync compares it with the wikis and writes only what differs."))


# what a person calls each kind of text `forget` looks for
_NEEDLE_KINDS = {"email": N_("email"), "phone": N_("phone number"), "text": N_("text")}


@cli.command(help=N_("Erase a person's data (QUERY: an email, a phone number or a name) from the store and its "
                     "whole history. The wiki entries that still hold it are named: the members edit them; the "
                     "sync never copies it meanwhile."))
@click.argument("query")
@click.option("--text", "texts", multiple=True, metavar="TEXT",
              help=N_("Also erase this name or text (repeatable). A name `forget` proposes is erased only when "
                      "given here."))
@click.option("--dry-run", is_flag=True,
              help=N_("Show every place found and erase nothing (also what happens without --yes)."))
@click.option("--yes", is_flag=True, help=N_("Erase everything the dry run shows."))
@click.pass_obj
def forget(ctx: Context, query: str, texts: tuple[str, ...], dry_run: bool, yes: bool) -> None:
    from .forget import ForgetRefused, forget as run_forget

    if dry_run and yes:
        _fail_usage(Text("--dry-run erases nothing and --yes erases: give one of them"))
    cfg = _load(ctx)
    try:
        with _run_lock(cfg) if yes else nullcontext(), _store(ctx, cfg) as store:
            rep = run_forget(store, query, list(texts), erase=yes)
    except ForgetRefused as exc:
        _fail_usage(_message(exc))
    say(Text("Looking for: {needles}", needles=join(SEMICOLON, [
        Text("{kind} {label}", kind=Text(_NEEDLE_KINDS.get(n.kind, n.kind)), label=repr(n.label))
        for n in rep.needles])))
    if not rep.places:
        say(Text("Found nowhere in the store: nothing to erase."))
    else:
        n, places = rep.occurrences, len(rep.places)
        counted = (Plural("Erased {n} occurrence in {places}:", "Erased {n} occurrences in {places}:", n, n=n,
                          places=Plural("{n} place", "{n} places", places, n=places)) if rep.erased
                   else Plural("Found {n} occurrence in {places}:", "Found {n} occurrences in {places}:", n, n=n,
                               places=Plural("{n} place", "{n} places", places, n=places)))
        say(counted)
        for p in rep.places:
            fields = join(", ", [Term.field(f) for f in p.fields])
            say(Text("  {where} ({fields})", where=p.where, fields=fields) if p.fields
                else Text("  {where}", where=p.where))
    for text, n in rep.proposals:
        say(Plural("Also found, erased only if you confirm it: {text} in {n} place; add --text {text}.",
                   "Also found, erased only if you confirm it: {text} in {n} places; add --text {text}.", n,
                   text=repr(text), n=n))
    if rep.entries:
        say(Text("Still in the wikis (the members' own: edit or ask them to edit these entries):"))
        for e in rep.entries:
            say(Text("  {instance} entry {entry} ({title}): {fields}", instance=e.instance, entry=e.remote_id,
                     title=e.title, fields=join(", ", [Term.field(f) for f in e.fields]) if e.fields
                     else Text("values")))
        say(Text("  Until then the sync refuses these values there: it neither stores nor copies them, and names "
                 "each entry in its report."))
    if rep.published and rep.places:
        say(Text("Its contact details were public: the next sync rewrites the address book cards and the "
                 "open-data exports without them."))
    if rep.erased:
        say(Text("The store was compacted. Backups made before now still hold these values: delete them or let "
                 "them expire."))
        sys.exit(app.EXIT_ATTENTION if rep.entries else app.EXIT_OK)
    if rep.places:
        say(Text("Nothing erased. To erase what is listed, run again with --yes."))
    sys.exit(app.EXIT_ATTENTION if rep.places or rep.proposals else app.EXIT_OK)


@cli.command(help=N_("Webhook trigger: YesWiki's webhooks extension posts to /hook/WIKI; the entry's record is "
                     "synced at once (one run at a time with the timer, which stays the safety net)."))
@click.option("--host", metavar="ADDRESS", help=N_("Address to listen on (default [serve] host, 127.0.0.1)."))
@click.option("--port", type=click.IntRange(1, 65535), metavar="PORT",
              help=N_("Port (default [serve] port, 8765)."))
@click.pass_obj
def serve(ctx: Context, host: str | None, port: int | None) -> None:
    from .serve import Server, check

    cfg = _load(ctx, check_files=True)
    problems = check(cfg)
    for p in problems:
        say(Text("warning: {message}", message=p), err=True)
    if not any(w.hook_secret_env for w in cfg.wiki) or (problems and problems[0].startswith("no ")):
        _fail_usage(Text("{path}: {problem}; set hook_secret_env under a [[wiki]] and that variable in the secrets "
                         "file", path=str(config_path(ctx.config_arg)), problem=problems[0]))
    logging.getLogger("oscartes_sync.serve").setLevel(logging.INFO)
    try:
        server = Server(cfg, host or cfg.serve.host, port or cfg.serve.port)
    except OSError as exc:
        _fail_usage(Text("cannot listen on {address} ({reason})", address=f"{host or cfg.serve.host}:"
                         f"{port or cfg.serve.port}", reason=exc.strerror or str(exc)))
    say(Text("Listening on {url}hook/<wiki> ({wikis}); Ctrl-C stops.", url=server.url,
             wikis=", ".join(w.name for w in cfg.wiki)))
    server.serve_forever()


def _territory_options(f):
    """--department / --epci / --params / --network, shared by the kit commands."""
    f = click.option("--network", "networks", multiple=True, metavar="NAME",
                     help=N_("A network of the territory (repeat for several); with --department or --epci."))(f)
    f = click.option("--params", "params", type=click.Path(dir_okay=False), metavar="FILE",
                     help=N_("A territory parameters file (territory.json)."))(f)
    f = click.option("--epci", metavar="SIREN", help=N_("An intercommunality, by its SIREN (e.g. 200056232)."))(f)
    f = click.option("--department", metavar="CODE", help=N_("A department code (e.g. 69, 2A, 974)."))(f)
    return f


def _kit_territory(department, epci, params, networks, *, required: bool):
    from .publish import kit as kits

    if not required and department is None and epci is None and params is None:
        if networks:
            _fail_usage(Text("--network goes with --department or --epci"))
        return None
    try:
        return kits.territory_from(department=department, epci=epci, params=Path(params) if params else None,
                                   networks=tuple(networks))
    except kits.KitError as exc:
        _fail_usage(_message(exc))


def _optional_config(ctx: Context):
    """The config when one is named or the default file exists; None otherwise (the package's set-up)."""
    if ctx.config_arg or os.environ.get("OSCARTES_CONFIG") or config_path(None).is_file():
        return _load(ctx)
    return None


def _print_notes(notes) -> None:
    for note in notes:
        say(Text("note: {message}", message=note))


@cli.group(help=N_("The replication kit: export it, apply it to a wiki, write its documentation."))
def kit() -> None:
    pass


@kit.command("export", help=N_("Write the kit (a folder and its zip) into PATH, for the config's territory or the "
                               "one given."))
@click.argument("path", type=click.Path(file_okay=False))
@_territory_options
@click.pass_obj
def kit_export(ctx: Context, path: str, department, epci, params, networks) -> None:
    from .publish import kit as kits
    from .publish.docs import DocsError
    from .templates import TemplateError

    cfg = _optional_config(ctx)
    territory = _kit_territory(department, epci, params, networks, required=False)
    if territory is None and cfg is not None:
        territory = cfg.local_territory()
    try:
        made, folder, archive = kits.export(Path(path), territory, cfg)
    except (kits.KitError, TemplateError, DocsError) as exc:
        _fail_usage(_message(exc))
    _print_notes(made.notes)
    say(Text("Kit {name} written: {folder}/ and {archive} ({n} files).", name=made.name, folder=str(folder),
             archive=str(archive), n=len(made.files)))


N_("required")  # click's mark after a required option's help (--wiki): built where its extractor cannot see it


@kit.command("apply", help=N_("Set up the wiki NAME with the kit at PATH (folder or zip) for a territory: forms, "
                              "lists, maps centred on it, documentation, and on a fresh wiki its home page, banner "
                              "and menu. Nothing is written on bad input."))
@click.argument("path", type=click.Path())
@click.option("--wiki", "wiki", required=True, metavar="NAME", help=N_("The wiki of the config to set up."))
@_territory_options
@click.option("--json", "as_json", is_flag=True, help=N_("Print the provisioning report as JSON."))
@click.pass_obj
def kit_apply(ctx: Context, path: str, wiki: str, department, epci, params, networks, as_json: bool) -> None:
    from dataclasses import asdict

    from .publish import kit as kits
    from .publish.provision import ProvisionError, render_report

    territory = _kit_territory(department, epci, params, networks, required=True)
    cfg, store = _with_store(ctx, _load(ctx, check_files=True, read_territory=False))  # it writes the params
    try:
        with app.one_run_at_a_time(cfg):
            applied = kits.apply_kit(cfg, store, Path(path), wiki, territory,
                                     params_source=Path(params) if params else None)
    except (kits.KitError, ProvisionError) as exc:
        _fail_usage(Text("{reason} (nothing was written)", reason=_message(exc)))
    except app.Busy as exc:
        _fail_busy(exc)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps({"wiki": wiki, "territory": territory.name, "errors": applied.report.errors,
                               "items": [asdict(i) for i in applied.report.items],
                               "params": str(applied.params_path) if applied.params_path else None,
                               "config_line": applied.config_line, "notes": list(applied.notes)},
                              indent=2, ensure_ascii=False))
        sys.exit(applied.exit_code)
    click.echo(render_report(applied.report))
    _print_notes(applied.notes)
    if applied.params_path is None:
        say(Text("The parameters of {territory} were not saved: the wiki {wiki} was not set up.",
                 territory=territory.name, wiki=wiki))
    elif applied.config_line:
        say(Text("Parameters of {territory} saved to {path}; add these lines to the config so that provision and "
                 "sync keep serving this territory:\n{lines}", territory=territory.name,
                 path=str(applied.params_path), lines=applied.config_line))
    else:
        say(Text("Parameters of {territory} saved to {path}: provision and sync use them for every wiki of this "
                 "config.", territory=territory.name, path=str(applied.params_path)))
    sys.exit(applied.exit_code)


@kit.command("docs", help=N_("Write the documentation, in Markdown, into PATH (default docs/): the package's "
                             "set-up, for Essonne or the territory given. The repository's docs/ is this command's "
                             "output."))
@click.argument("path", type=click.Path(file_okay=False), default="docs")
@_territory_options
def kit_docs(path: str, department, epci, params, networks) -> None:
    from .publish.docs import DocsError, write_docs
    from .templates import TemplateError

    territory = _kit_territory(department, epci, params, networks, required=False)
    try:
        written = write_docs(Path(path), territory)
    except (TemplateError, DocsError) as exc:
        _fail_usage(_message(exc))
    except OSError as exc:
        _fail_usage(Text("cannot write into {path}: {reason}", path=path, reason=exc.strerror or str(exc)))
    say(Plural("{n} documentation page written to {path}/.", "{n} documentation pages written to {path}/.",
               len(written), n=len(written), path=path))


@cli.command(help=N_("Start a local sandbox (two wikis and two Nextclouds with sample data), sync it, settle a "
                     "conflict, and report. Needs no config, no network."))
@click.option("--keep", is_flag=True, help=N_("Leave the sandbox running until Ctrl-C, to look at it."))
@click.option("--workdir", type=click.Path(file_okay=False),
              help=N_("Keep the demo store here (default: temporary)."))
@click.pass_obj
def demo(ctx: Context, keep: bool, workdir: str | None) -> None:
    from .publish.provision import ProvisionError
    from .sandbox.demo import run_demo

    try:
        code = run_demo(keep=keep, workdir=workdir, echo=click.echo, verbose=ctx.verbose)
    except ProvisionError as exc:
        _fail_usage(Text("templates: {reason}", reason=_message(exc)))
    sys.exit(code)


# who took a decision, when the command did not say (the store keeps the code's word)
AUTHORS = {"coordinator": N_("coordinator")}


def _shown(v: Any) -> Any:
    """A value as JSON, or that there is none."""
    return Text("(empty)") if v is None else json.dumps(v, ensure_ascii=False)


def _short(v: Any, n: int = 40) -> str:
    s = json.dumps(v, ensure_ascii=False)
    return s if len(s) <= n else s[: n - 1] + "…"


def main() -> None:
    cli(prog_name="oscartes-sync")
