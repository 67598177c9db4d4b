"""`oscartes-sync serve`: the webhook trigger (DECISIONS §17).

YesWiki's webhooks extension, in its `yeswiki` format, posts to `https://<service>/hook/<wiki>?bearer=<secret>`
after a member creates, edits or deletes an entry through the wiki's web pages; it turns the `bearer`
parameter into an `Authorization: Bearer` header and sends a small JSON message naming the entry (contract §13,
fixtures webhooks_01-03). The member's save waits for the answer (4 s, no retry), so the hook is answered at
once and the sync happens afterwards, in one worker thread:

* the secret of that wiki (`hook_secret_env`) is compared in constant time; a wrong or missing one is 401, an
  unknown wiki 404, a body that is not such a message 400, one above MAX_BODY bytes 413;
* an edit re-reads that entry and syncs its record (sync.engine.run_sync_entry: the same planner, executor and
  guards as a full run); an entry that still holds what the service last saw or wrote there (the echo of the
  service's own write through the edit handler, or a replayed hook) costs that one read and nothing else;
* a creation or a deletion, or anything only the whole kind can decide, runs one full sync;
* one sync at a time with the timer: the worker takes the same run lock, and waits for it; hooks that arrive
  meanwhile are queued, and a burst of hooks for one entry is handled once.

The server binds 127.0.0.1 by default: the host's reverse proxy (TLS) forwards /hook/ to it.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from filelock import FileLock, Timeout
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.routing import Map, Rule
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from . import app
from .config import Config, secret
from .text import Text

log = logging.getLogger("oscartes_sync.serve")

MAX_BODY = 64 * 1024  # the yeswiki format's message is ~350 bytes; the raw format (never recommended) is bigger
ENTRY_ID = re.compile(r"^[A-Za-z0-9_]{1,190}$")  # a YesWiki page tag
ACTIONS = ("add", "edit", "delete")


@dataclass
class Queue:
    """Hooks waiting for the worker: entries to sync (a burst for one entry is one item) and whether a full run
    is due. Thread-safe; the HTTP threads add, the worker takes everything at once."""

    entries: dict[tuple[str, str], int] = field(default_factory=dict)  # (wiki, entry) -> hooks received
    full: bool = False
    in_hand: bool = False  # the worker holds a batch it has not finished
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def add(self, wiki: str, entry_id: str, full: bool) -> None:
        with self._cond:
            key = (wiki, entry_id)
            self.entries[key] = self.entries.get(key, 0) + 1
            self.full = self.full or full
            self._cond.notify_all()

    def take(self, timeout: float | None = None) -> tuple[dict[tuple[str, str], int], bool] | None:
        with self._cond:
            if not self.entries and not self.full:
                self._cond.wait(timeout)
            if not self.entries and not self.full:
                return None
            taken, full = self.entries, self.full
            self.entries, self.full, self.in_hand = {}, False, True
            return taken, full

    def done(self) -> None:
        with self._cond:
            self.in_hand = False

    @property
    def idle(self) -> bool:
        with self._cond:
            return not self.entries and not self.full and not self.in_hand

    def __len__(self) -> int:
        with self._cond:
            return len(self.entries) + int(self.full)


@dataclass
class Job:
    """What the worker did for one batch, for the log and the tests."""

    entries: dict[tuple[str, str], str]  # (wiki, entry) -> done | unchanged | full: reason | error: ...
    full_run: int | None = None  # exit code of the full run, when one ran


class Worker:
    """Takes the queued hooks, waits for the run lock, syncs, releases; again."""

    def __init__(self, cfg: Config, queue: Queue, *, settle: float | None = None, lock_poll: float = 0.5,
                 on_job: Callable[[Job], None] | None = None):
        self.cfg, self.queue = cfg, queue
        self.settle = cfg.serve.settle_seconds if settle is None else settle
        self.lock_poll = lock_poll
        self.on_job = on_job
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="oscartes-hooks", daemon=True)
        self.jobs: list[Job] = []

    def start(self) -> "Worker":
        self._thread.start()
        return self

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        with self.queue._cond:
            self.queue._cond.notify_all()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            batch = self.queue.take(timeout=0.5)
            if batch is None:
                continue
            if self.settle:  # the rest of a burst joins this batch
                self._stop.wait(self.settle)
            lock = self._acquire()
            if lock is None:  # stopping: the timer's next run syncs what these hooks announced
                self.queue.done()
                break
            batch = self._merge(batch, self.queue.take(timeout=0))  # what came while waiting joins too
            try:
                job = self._run(*batch)
            except Exception:  # noqa: BLE001 - a failed batch must not stop the trigger; the timer catches up
                log.exception("hook batch failed; the next timer run syncs everything")
                job = Job({k: "error: see the log" for k in batch[0]})
            finally:
                lock.release()
            self.jobs.append(job)
            self.queue.done()
            if self.on_job:
                self.on_job(job)

    @staticmethod
    def _merge(batch, more):
        if not more:
            return batch
        entries = dict(batch[0])
        for k, n in more[0].items():
            entries[k] = entries.get(k, 0) + n
        return entries, batch[1] or more[1]

    def _acquire(self) -> FileLock | None:
        """The run lock, waited for: a hook arriving during a timer run is handled right after it."""
        lock = FileLock(str(self.cfg.path(self.cfg.sync.lock_file)))
        while not self._stop.is_set():
            try:
                lock.acquire(timeout=self.lock_poll)
                return lock
            except Timeout:
                continue
        return None

    def _run(self, entries: dict[tuple[str, str], int], full: bool) -> Job:
        job = Job({})
        store = app.open_store(self.cfg)
        try:
            instances = app.build_instances(self.cfg)
            if not full:
                for (wiki, entry_id) in entries:
                    run = app.sync_entry(self.cfg, store, instances, wiki, entry_id)
                    job.entries[(wiki, entry_id)] = run.status if run.status != "full" else f"full: {run.reason}"
                    log.info("hook %s/%s: %s %s", wiki, entry_id, run.status, run.reason)
                    if run.status == "full":
                        full = True
                        break
            if full:
                for key in entries:
                    job.entries.setdefault(key, "full")
                summary = app.sync_once(self.cfg, store, instances)
                job.full_run = summary.exit_code
                log.info("hooks %s: full sync, exit %s", sorted(entries), summary.exit_code)
        finally:
            store.close()
        return job


# ---- the HTTP side -----------------------------------------------------------------------------------------------


def _json(status: int, **body: Any) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json")


class HookApp:
    """The WSGI application: checks a hook and queues it; never syncs in the request."""

    def __init__(self, cfg: Config, queue: Queue):
        self.cfg, self.queue = cfg, queue
        self.wikis = {w.name: w for w in cfg.wiki}
        self.urls = Map([Rule("/hook/<wiki>", endpoint="hook"), Rule("/health", endpoint="health")],
                        strict_slashes=False)

    def secret_of(self, wiki: str) -> str | None:
        w = self.wikis.get(wiki)
        return secret(w.hook_secret_env) if w is not None and w.hook_secret_env else None

    def forms_of(self, wiki: str) -> set[str]:
        w = self.wikis[wiki]
        ids = w.form_ids()
        return {str(ids[k]) for k in self.cfg.sync.kinds if k in ids}

    def __call__(self, environ: dict, start_response) -> Any:
        request = Request(environ)
        request.max_content_length = MAX_BODY
        try:
            endpoint, args = self.urls.bind_to_environ(environ).match()
            response = self.health() if endpoint == "health" else self.hook(request, args["wiki"])
        except HTTPException as exc:
            response = _json(exc.code or 400, error=exc.description or exc.name)
        return response(environ, start_response)

    def health(self) -> Response:
        return _json(200, ok=True, queued=len(self.queue))

    def hook(self, request: Request, wiki: str) -> Response:
        expected = self.secret_of(wiki)
        if expected is None:  # unknown, or no secret configured for it: the same answer (names are not probed)
            return _json(404, error="no webhook for this wiki")
        if request.method != "POST":
            return _json(405, error="POST only")
        if "bearer" in request.args:
            # formats other than `yeswiki` leave the secret in the URL (contract §13): refused, so that it is
            # noticed (the member sees a warning) and configured the right way
            return _json(400, error="use the extension's `yeswiki` format: it sends the secret as a header")
        given = request.headers.get("Authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
            return _json(401, error="missing or wrong secret")
        if request.content_length is not None and request.content_length > MAX_BODY:
            return _json(413, error=f"body above {MAX_BODY} bytes")
        try:
            body = json.loads(request.get_data(cache=False) or b"null")
        except RequestEntityTooLarge:
            return _json(413, error=f"body above {MAX_BODY} bytes")
        except ValueError:
            return _json(400, error="body is not JSON")
        problem, entry_id, action = self.parse(wiki, body)
        if problem:
            return _json(400, error=problem)
        if entry_id is None:
            return _json(200, ignored=action)
        self.queue.add(wiki, entry_id, full=action != "edit")
        log.info("hook %s: %s %s queued", wiki, action, entry_id)
        return _json(202, queued=entry_id)

    def parse(self, wiki: str, body: Any) -> tuple[str | None, str | None, str]:
        """(problem, entry id, action) of a webhooks message; no entry id: nothing to sync (a comment, a form
        not synced)."""
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            return "not a webhooks message: a JSON object with `data` is expected", None, ""
        action = body.get("action")
        form = body.get("bazar_form_id")
        if form == "comments" or (isinstance(action, str) and action.startswith("comment.")):
            return None, None, "comment"
        if action not in ACTIONS:
            return f"unknown action {str(action)[:20]!r}", None, ""
        entry_id = body["data"].get("id_fiche")
        if not isinstance(entry_id, str) or not ENTRY_ID.match(entry_id):
            return "`data.id_fiche` is missing or not an entry id", None, ""
        form = body["data"].get("id_typeannonce", form)
        if str(form) not in self.forms_of(wiki):
            return None, None, f"form {str(form)[:20]} is not synced"
        return None, entry_id, action


class _Handler(WSGIRequestHandler):
    """Logs each request without its query string: a misconfigured webhook may carry its secret there."""

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        log.info("%s %s %s", self.command, self.path.split("?", 1)[0], getattr(code, "value", code))


@dataclass
class Server:
    """The HTTP server and its worker, started together (tests, and `serve`)."""

    cfg: Config
    host: str
    port: int
    settle: float | None = None

    def __post_init__(self) -> None:
        self.queue = Queue()
        self.app = HookApp(self.cfg, self.queue)
        self.worker = Worker(self.cfg, self.queue, settle=self.settle)
        # our own socket: werkzeug would print and exit on a port in use; this raises OSError for the CLI
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        with socket.create_server((self.host, self.port), family=family) as sock:
            self.port = sock.getsockname()[1]
            self._http = make_server(self.host, self.port, self.app, threaded=True, request_handler=_Handler,
                                     fd=sock.fileno())
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self) -> "Server":
        self.worker.start()
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="oscartes-serve", daemon=True)
        self._thread.start()
        return self

    def wait_idle(self, timeout: float = 30) -> bool:
        """Until the queue is empty and the worker has nothing in hand (tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.queue.idle:
                return True
            time.sleep(0.05)
        return False

    def serve_forever(self) -> None:
        self.worker.start()
        try:
            self._http.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self) -> None:
        if self._thread is not None:
            self._http.shutdown()
            self._thread.join(5)
        self._http.server_close()
        self.worker.stop()


def check(cfg: Config) -> list[str]:
    """What keeps `serve` from doing anything useful, as messages for the coordinator (empty: ready)."""
    problems = []
    if not cfg.wiki:
        problems.append(Text("no [[wiki]] configured"))
    with_secret = [w.name for w in cfg.wiki if w.hook_secret_env and secret(w.hook_secret_env)]
    for w in cfg.wiki:
        if not w.hook_secret_env:
            problems.append(Text("wiki {wiki}: no hook_secret_env: its hooks are refused", wiki=w.name))
        elif not secret(w.hook_secret_env):
            problems.append(Text("wiki {wiki}: secret variable {variable} is not set: its hooks are refused",
                                 wiki=w.name, variable=w.hook_secret_env))
    if cfg.wiki and not with_secret:
        problems.insert(0, Text("no wiki has a webhook secret: nothing would be accepted"))
    return problems
