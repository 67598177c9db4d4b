"""The `oscartes-sync` command: parse, call one function, print, exit (DECISIONS §12).

Exit codes: 0 nothing needs a person; 1 done, but something needs a person; 2 usage or config error.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import click

from . import app
from .clean import clean
from .config import ConfigError, config_origin, config_path, load_config
from .records import KINDS
from .report import render
from .store import StoreError


class Context:
    def __init__(self, config: str | None, verbose: bool):
        self.config_arg = config
        self.verbose = verbose

    def load(self):
        return load_config(config_path(self.config_arg), config_origin(self.config_arg))


def _fail_usage(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(app.EXIT_USAGE)


class _Group(click.Group):
    """Turns the store's readable errors into one line and exit 2 instead of a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except StoreError as exc:  # its message names the database and never carries the password
            click.echo(f"error: store: {exc}", err=True)
            sys.exit(app.EXIT_USAGE)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config", metavar="PATH", help="Config file (default oscartes.toml, or OSCARTES_CONFIG).")
@click.option("-v", "--verbose", is_flag=True, help="Log each request.")
@click.version_option(package_name="oscartes-sync", prog_name="oscartes-sync", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context, config: str | None, verbose: bool) -> None:
    """Keep one source record per actor in sync across the OSCARTES wikis."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(message)s")
    if not verbose:
        # urllib3 warns on each retry; the report already names the instance that failed, once
        logging.getLogger("urllib3").setLevel(logging.ERROR)
    ctx.obj = Context(config, verbose)


def _load(ctx: Context):
    try:
        return ctx.load()
    except ConfigError as exc:
        _fail_usage(str(exc))


def _with_store(ctx: Context, cfg=None):
    cfg = cfg or _load(ctx)
    try:
        store = app.open_store(cfg)
    except Exception as exc:  # the store reports a readable StoreError; anything else is a bad URL
        _fail_usage(f"store: {exc}")
    return cfg, store


@cli.command()
@click.option("--dry-run", is_flag=True, help="Print the plan; write nothing.")
@click.option("--allow-deletes", type=click.IntRange(min=0), default=0, metavar="N",
              help="Accept once a run that deletes up to N records of a kind (refused by the limit).")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@click.pass_obj
def sync(ctx: Context, dry_run: bool, allow_deletes: int, as_json: bool) -> None:
    """One full sync cycle."""
    cfg = _load(ctx)
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
                open_conflicts, open_reviews = len(store.conflicts("open")), len(store.review_items("open"))
            finally:
                store.close()
    except app.Busy as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(app.EXIT_ATTENTION)
    click.echo(json.dumps(run.report, indent=2, ensure_ascii=False) if as_json
               else render(run.result, run.stats, run.titles, open_conflicts=open_conflicts,
                           open_reviews=open_reviews))
    sys.exit(run.exit_code)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable, for monitoring.")
@click.pass_obj
def status(ctx: Context, as_json: bool) -> None:
    """Last runs, open conflicts and review items."""
    cfg, store = _with_store(ctx)
    try:
        runs = store.runs(5)
        conflicts = store.conflicts("open")
        reviews = store.review_items("open")
        counts: dict[str, int] = {}
        for r in store.records():
            counts[r.kind] = counts.get(r.kind, 0) + 1
    finally:
        store.close()
    last = runs[0] if runs else None
    data = {
        "records": counts,
        "open_conflicts": len(conflicts),
        "open_reviews": len(reviews),
        "last_run": None if last is None else {
            "id": last.id, "started_at": str(last.started_at), "finished_at": str(last.finished_at),
            "status": last.status, "exit_code": last.exit_code,
            "instance_errors": (last.report or {}).get("instance_errors", {}),
        },
    }
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        click.echo("Records: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"))
        click.echo(f"Open conflicts: {len(conflicts)}   Possible duplicates to review: {len(reviews)}")
        if last is None:
            click.echo("No run yet.")
        else:
            click.echo(f"Last run #{last.id}: {last.status} (exit {last.exit_code}), finished {last.finished_at}")
            for name, err in data["last_run"]["instance_errors"].items():
                click.echo(f"  ERROR {name}: {err}")
    needs = bool(conflicts or reviews or (last and last.exit_code))
    sys.exit(app.EXIT_ATTENTION if needs else app.EXIT_OK)


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
    cfg, store = _with_store(ctx)
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

    cfg = _load(ctx)
    if not cfg.wiki and not cfg.nextcloud:
        _fail_usage(f"{config_path(ctx.config_arg)}: no [[wiki]] configured: nothing to check")
    report = run_doctor(cfg)
    click.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False) if as_json else render_text(report))
    sys.exit(report.exit_code)


@cli.group(invoke_without_command=True)
@click.pass_context
def conflicts(ctx: click.Context) -> None:
    """List open conflicts (subcommands: show, resolve)."""
    if ctx.invoked_subcommand is None:
        cfg, store = _with_store(ctx.obj)
        try:
            rows = store.conflicts("open")
            titles = app.record_titles(store)
        finally:
            store.close()
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
    cfg, store = _with_store(ctx)
    try:
        c = store.conflict(conflict_id)
        if c is None:
            _fail_usage(f"no conflict #{conflict_id}")
        rec = store.record(c.record_id)
    finally:
        store.close()
    click.echo(f"Conflict #{c.id} ({c.status}) on {rec.fields.get('name') if rec else c.record_id}, field {c.field}")
    click.echo(f"  agreed value before: {json.dumps(c.base, ensure_ascii=False)}")
    for inst, v in c.candidates.items():
        click.echo(f"  {inst}: {json.dumps(v, ensure_ascii=False)}")


@conflicts.command("resolve")
@click.argument("conflict_id", type=int)
@click.option("--take", metavar="INSTANCE", help="Keep the value of this instance.")
@click.option("--value", metavar="JSON", help="Set this value (JSON, e.g. '\"Orsay\"').")
@click.pass_obj
def conflicts_resolve(ctx: Context, conflict_id: int, take: str | None, value: str | None) -> None:
    """Settle a conflict; the next sync writes the value everywhere."""
    if (take is None) == (value is None):
        _fail_usage("give exactly one of --take INSTANCE or --value JSON")
    cfg, store = _with_store(ctx)
    try:
        c = store.conflict(conflict_id)
        if c is None or c.status != "open":
            _fail_usage(f"no open conflict #{conflict_id}")
        if take is not None:
            if take not in c.candidates:
                _fail_usage(f"conflict #{conflict_id} has no candidate from {take!r}; "
                            f"candidates: {', '.join(c.candidates)}")
            chosen: Any = c.candidates[take]
        else:
            try:
                chosen = json.loads(value)
            except json.JSONDecodeError as exc:
                _fail_usage(f"--value is not JSON ({exc}); a text needs quotes: --value '\"Orsay\"'")
        rec = store.record(c.record_id)
        if rec is None:
            _fail_usage(f"conflict #{conflict_id} belongs to record {c.record_id}, which no longer exists")
        if value is not None:
            chosen = _checked_value(rec.kind, c.field, chosen)
        with store.transaction():
            store.resolve_conflict(c.id, chosen, by="coordinator")
            store.update_record(c.record_id, {**rec.fields, c.field: chosen}, author="coordinator",
                                origin="conflicts resolve", note=f"conflict #{c.id} on {c.field} resolved")
    finally:
        store.close()
    click.echo(f"Conflict #{conflict_id} resolved: {c.field} = {json.dumps(chosen, ensure_ascii=False)}. "
               "The next sync writes it everywhere.")


@cli.command()
@click.argument("record_id")
@click.pass_obj
def history(ctx: Context, record_id: str) -> None:
    """Every revision of a record: who, when, from where."""
    cfg, store = _with_store(ctx)
    try:
        if store.record(record_id) is None:
            _fail_usage(f"no record {record_id}")
        revs = store.history(record_id)
    finally:
        store.close()
    prev: dict[str, Any] = {}
    for r in revs:
        changed = sorted(k for k in set(prev) | set(r.fields) if prev.get(k) != r.fields.get(k))
        flag = " (deleted)" if r.deleted else ""
        click.echo(f"r{r.number}  {r.at}  {r.author} via {r.origin}{flag}: {r.note}")
        if changed:
            click.echo("      changed: " + ", ".join(changed))
        prev = r.fields


@cli.command()
@click.argument("record_id")
@click.argument("revision", type=int)
@click.pass_obj
def restore(ctx: Context, record_id: str, revision: int) -> None:
    """Make an old revision current again (a new revision; nothing is lost)."""
    cfg, store = _with_store(ctx)
    try:
        if store.record(record_id) is None:
            _fail_usage(f"no record {record_id}")
        if revision not in {r.number for r in store.history(record_id)}:
            _fail_usage(f"record {record_id} has no revision {revision}")
        new = store.restore(record_id, revision, author="coordinator")
    finally:
        store.close()
    click.echo(f"Record {record_id} restored from r{revision} as r{new}. The next sync writes it everywhere.")


@cli.group(invoke_without_command=True)
@click.pass_context
def match(ctx: click.Context) -> None:
    """Possible duplicates waiting for a person (subcommands: link, distinct)."""
    if ctx.invoked_subcommand is None:
        cfg, store = _with_store(ctx.obj)
        try:
            rows = store.review_items("open")
            titles = app.record_titles(store)
        finally:
            store.close()
        if not rows:
            click.echo("No possible duplicate waiting.")
        for r in rows:
            # the full record id: it is what `match link` takes
            cands = ", ".join(f"{titles.get(c[0]) or c[0]} (record {c[0]}, score {c[1]:.0f})" for c in r.candidates)
            click.echo(f"#{r.id}  {r.instance}:{r.remote_id} {r.values.get('name')!r} may be: {cands}")
        sys.exit(app.EXIT_ATTENTION if rows else app.EXIT_OK)


@match.command("link")
@click.argument("item_id", type=int)
@click.argument("record_id")
@click.pass_obj
def match_link(ctx: Context, item_id: int, record_id: str) -> None:
    """The entry is this record: link them (differing values become conflicts)."""
    cfg, store = _with_store(ctx)
    try:
        item = next((r for r in store.review_items("open") if r.id == item_id), None)
        if item is None:
            _fail_usage(f"no open review item #{item_id}")
        if store.record(record_id) is None:
            _fail_usage(f"no record {record_id}")
        if store.link(record_id, item.instance) is not None:
            _fail_usage(f"record {record_id} already has an entry in {item.instance}")
        wiki = next((w for w in cfg.wiki if w.name == item.instance), None)
        form_id = wiki.form_ids()[item.kind] if wiki else ""
        with store.transaction():
            store.set_link(record_id, item.instance, form_id=form_id, remote_id=item.remote_id, snapshot={})
            store.close_review_item(item.id, "merged")
    finally:
        store.close()
    click.echo(f"Linked {item.instance}:{item.remote_id} to {record_id}; the next sync merges them.")


@match.command("distinct")
@click.argument("item_id", type=int)
@click.pass_obj
def match_distinct(ctx: Context, item_id: int) -> None:
    """The entry is a different actor: the next sync makes it a record of its own."""
    cfg, store = _with_store(ctx)
    try:
        item = next((r for r in store.review_items("open") if r.id == item_id), None)
        if item is None:
            _fail_usage(f"no open review item #{item_id}")
        store.close_review_item(item.id, "distinct")
    finally:
        store.close()
    click.echo(f"{item.instance}:{item.remote_id} marked as distinct; the next sync copies it.")


@cli.group(invoke_without_command=True)
@click.pass_context
def suggestions(ctx: click.Context) -> None:
    """Values changed in a Nextcloud card, waiting for a person (subcommands: accept, reject)."""
    if ctx.invoked_subcommand is None:
        cfg, store = _with_store(ctx.obj)
        try:
            rows = store.suggestions("open")
            titles = app.record_titles(store)
            current = {r.id: store.record(r.record_id) for r in rows}
        finally:
            store.close()
        if not rows:
            click.echo("No open suggestion.")
        for s in rows:
            rec = current[s.id]
            now = rec.fields.get(s.field) if rec else None
            click.echo(f"#{s.id}  {titles.get(s.record_id) or s.record_id}  {s.field}: {_short(now)} -> "
                       f"{_short(s.value)}  (seen in {s.instance}, {s.observed_at:%Y-%m-%d %H:%M})")
        sys.exit(app.EXIT_ATTENTION if rows else app.EXIT_OK)


def _open_suggestion(store, suggestion_id: int):
    s = store.suggestion(suggestion_id)
    if s is None or s.status != "open":
        _fail_usage(f"no open suggestion #{suggestion_id}")
    return s


@suggestions.command("accept")
@click.argument("suggestion_id", type=int)
@click.pass_obj
def suggestions_accept(ctx: Context, suggestion_id: int) -> None:
    """Take the value into the source record; the next sync writes it everywhere."""
    cfg, store = _with_store(ctx)
    try:
        s = _open_suggestion(store, suggestion_id)
        rec = store.record(s.record_id)
        if rec is None or rec.deleted:
            _fail_usage(f"suggestion #{s.id} belongs to record {s.record_id}, which no longer exists")
        value = _checked_value(rec.kind, s.field, s.value)
        with store.transaction():
            store.update_record(rec.id, {**rec.fields, s.field: value}, author="coordinator", origin=s.instance,
                                note=f"suggestion #{s.id} on {s.field} accepted")
            store.close_suggestion(s.id, "accepted")
    finally:
        store.close()
    click.echo(f"Suggestion #{s.id} accepted: {s.field} = {json.dumps(value, ensure_ascii=False)}. "
               "The next sync writes it everywhere.")


@suggestions.command("reject")
@click.argument("suggestion_id", type=int)
@click.pass_obj
def suggestions_reject(ctx: Context, suggestion_id: int) -> None:
    """Keep the record as it is (the card stays restored)."""
    cfg, store = _with_store(ctx)
    try:
        s = _open_suggestion(store, suggestion_id)
        store.close_suggestion(s.id, "rejected")
    finally:
        store.close()
    click.echo(f"Suggestion #{s.id} rejected; the record keeps its {s.field}.")


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


def _checked_value(kind: str, field: str, value: Any) -> Any:
    """A coordinator's value, cleaned as a member's would be; refused with the reason, exit 2."""
    try:
        fdef = KINDS[kind].field(field)
    except KeyError:
        return value  # a field this version does not know: kept as given
    cleaned = clean(fdef.type, value, max_length=fdef.max_length)
    if cleaned.problem:
        _fail_usage(f"--value for {field} refused: {cleaned.problem}")
    if cleaned.value is None and field == KINDS[kind].title_field:
        _fail_usage(f"--value for {field} refused: the {field} cannot be empty")
    return cleaned.value


def _short(v: Any, n: int = 40) -> str:
    s = json.dumps(v, ensure_ascii=False)
    return s if len(s) <= n else s[: n - 1] + "…"


def main() -> None:
    cli(prog_name="oscartes-sync")
