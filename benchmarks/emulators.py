"""The emulated servers in another process, so that the benchmarks measure the client alone (DECISIONS §15).

`EmulatorProcess` (used by benchmarks/run.py and tests/fault_suite.py) starts a child process that serves two
`YesWikiEmulator`s with werkzeug's threaded server, each with the provisioned actor and event forms and the
users/tokens it is given, and a per-request latency; with `clouds=2` (the benchmarks) also both networks'
Nextclouds (`CLOUDS`: the service account with its app password, a group, a member), with `cloud=True` (the
fault suite) the first one only. The parent drives it through a pipe:

* ``seed(wiki, entries, form)``: adds entries as members would. This is setup and BYPASSES HTTP: it calls the
  emulator's own create code inside the child (same id derivation and field formatting), which takes
  seconds for 10,000 entries instead of minutes.
* ``counts()`` / ``reset()``: requests received by each server since the last reset, by "METHOD family";
  ``bytes()``: the bytes each received (request bodies) and sent (response bodies) since the last reset.
* ``inject(server, ...)``: the emulator's fault injection (a failing listing).
* ``cpu()``: the child's CPU seconds (the emulators' own cost, kept out of the client's figures).

Latency: ``--latency S`` waits S seconds before each request (default 0.02); ``--contract`` waits what the
real YesWiki of the contract (§9, 2 cores, loopback) took per route instead.

Standalone, for poking at it by hand::

    OSCARTES_BENCH_TOKEN=... OSCARTES_BENCH_PASSWORD=... \\
        python -m benchmarks.emulators --port-a 8081 --port-b 8082 --latency 0.02 [--contract] [--seed 1000]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import sys
import threading
import time
from types import SimpleNamespace
from typing import Any, Callable
from urllib.parse import unquote

WIKIS = ("polesnoe", "tel")
CLOUDS = ("polesnoe-cloud", "tel-cloud")
ACTOR_FORM = "20"
EVENT_FORM = "22"

# Seconds per request on the real YesWiki of the contract (§9, perf_results.json). Routes §9 does not measure
# are estimated from the nearest measured one (marked "est.").
CONTRACT_LATENCY = {
    "GET list": None,        # 170-230 ms at 1000 entries, with token: see _listing_latency
    "POST create": 0.115,    # 200 + 800 sequential creates: mean 114-117 ms
    "GET page": 0.120,       # one entry GET with bearer token ~120 ms
    "GET revision": 0.120,   # same route with &time=
    "GET source": 0.120,     # est.: bearer-authenticated small API GET, like one entry GET
    "GET form": 0.060,       # est.: anonymous small API GET (~60 ms)
    "GET forms": 0.060,      # est.
    "POST edit": 0.115,      # est.: an entry save through the web handler, like a create
    "POST login": 0.100,     # est.
    "GET revisions": 0.120,  # est.
    "DELETE delete": 0.120,  # est.
}


def family(method: str, path: str) -> str:
    """`GET list`, `POST create`, ... for a request path as the emulator logs it (`/?api/forms/20/entries`)."""
    query = path.split("?", 1)[1] if "?" in path else ""
    first, _, rest = query.partition("&")
    first = unquote(first)
    if first.startswith("api/"):
        sub = first[4:]
        if re.fullmatch(r"forms/[^/]+/entries(/.*)?", sub):
            name = "list"
        elif re.fullmatch(r"forms/[^/]+", sub):
            name = "form"
        elif sub == "forms":
            name = "forms"
        elif sub.startswith("entries/") and method == "POST":
            name = "create"
        elif sub.startswith(("entry/url/", "triples/")):
            name = "source"
        elif sub.startswith("pages/"):
            name = "delete" if method == "DELETE" else ("revision" if "time=" in rest else "page")
        else:
            name = "api-other"
    elif first.endswith("/edit"):
        name = "edit"
    elif first.endswith("/revisions"):
        name = "revisions"
    elif method == "POST" and first in ("", "PagePrincipale"):
        name = "login"
    else:
        name = "web-other"
    return f"{method} {name}"


WRITE_FAMILIES = ("POST create", "POST edit", "DELETE delete")


def _listing_latency(emu) -> float:
    # 170-230 ms for 1000 entries (1.06 MB): a fixed part plus a part that grows with the JSON sent.
    n = sum(1 for v in emu.types.values() if v == "fiche_bazar")
    return 0.03 + 0.16 * n / 1000.0


def with_contract_latency(app: Callable, emu) -> Callable:
    def delayed(environ: dict, start_response: Callable) -> Any:
        path = environ.get("PATH_INFO", "/") + "?" + environ.get("QUERY_STRING", "")
        fam = family(environ.get("REQUEST_METHOD", "GET").upper(), path)
        delay = _listing_latency(emu) if fam == "GET list" else CONTRACT_LATENCY.get(fam) or 0.06
        time.sleep(delay)
        return app(environ, start_response)

    return delayed


def make_wiki(name: str, users: dict[str, str]):
    from oscartes_sync.config import DEFAULT_FORM_IDS
    from oscartes_sync.records import DECISIONS
    from oscartes_sync.sandbox.yeswiki_emulator import YesWikiEmulator
    from oscartes_sync.templates import render_form_template

    emu = YesWikiEmulator(name)
    emu.add_user(users["admin_user"], users["admin_password"], token=users["admin_token"], admin=True)
    emu.add_user(users["member_user"], users["member_password"], token=users["member_token"], admin=False)
    emu.add_form(ACTOR_FORM, "Acteurs", render_form_template("actor", dict(DEFAULT_FORM_IDS)))
    emu.add_form(EVENT_FORM, "Événements", render_form_template("event", dict(DEFAULT_FORM_IDS)))
    # the review page's decisions form, as `provision` sets it up: every run lists it too (DECISIONS §25)
    emu.add_form(DECISIONS.form_id, DECISIONS.label, render_form_template(DECISIONS.name, dict(DEFAULT_FORM_IDS)))
    return emu


class Bytes:
    """WSGI middleware: the bytes a server received (request bodies) and sent (response bodies)."""

    def __init__(self, app: Callable):
        self.app, self.received, self.sent = app, 0, 0
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.received = self.sent = 0

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        out = self.app(environ, start_response)
        total = 0
        try:
            for chunk in out:
                total += len(chunk)
                yield chunk
        finally:
            close = getattr(out, "close", None)
            if close:
                close()
            with self._lock:
                self.received += length
                self.sent += total


def start(emu, port: int, latency: float, contract: bool):
    from werkzeug.serving import make_server

    from oscartes_sync.sandbox.server import _QuietHandler, with_latency

    app = with_contract_latency(emu, emu) if contract else with_latency(emu, latency)
    counted = Bytes(app)
    server = make_server("127.0.0.1", port, counted, threaded=True, request_handler=_QuietHandler)
    server.bytes = counted
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    return server


def seed(emu, entries: list[dict[str, str]], user: str, form: str = ACTOR_FORM) -> list[str]:
    """Members' entries, created by the emulator's own create code without HTTP (setup only)."""
    from oscartes_sync.sandbox.yeswiki_emulator import Posted

    ids = []
    with emu._lock:
        for values in entries:
            ctx = SimpleNamespace(posted=Posted(data=dict(values)), is_admin=False, user=user,
                                  client_ip="127.0.0.1", request=SimpleNamespace(headers={}))
            ids.append(emu._create_entry(ctx, form))
    return ids


def counts(emu) -> dict[str, int]:
    """Requests by family; a web edit of a page that is not an entry (a derived page the sync publishes) is
    `POST page-edit`, not an entry write."""
    out: dict[str, int] = {}
    with emu._lock:
        log = list(emu.request_log)
        types = dict(emu.types)
    for method, path in log:
        key = family(method, path)
        if key == "POST edit":
            tag = unquote(path.split("?", 1)[-1].split("&", 1)[0]).rsplit("/", 1)[0]
            if types.get(tag) != "fiche_bazar":
                key = "POST page-edit"
        elif path.startswith("/tools/security/wp-hashcash"):
            key = f"{method} hashcash"
        out[key] = out.get(key, 0) + 1
    return out


CLOUD = CLOUDS[0]

# what a Nextcloud counts as written: a card, an event or a file put, deleted, moved or made, a share made
CLOUD_WRITES = ("PUT", "DELETE", "MKCOL", "MOVE", "COPY", "PROPPATCH", "POST")


def cloud_family(method: str, path: str) -> str:
    """`REPORT addressbook`, `PUT calendar`, `PROPFIND files`, ... for a request to an emulated Nextcloud."""
    p = path.split("?", 1)[0]
    for prefix, name in (("/remote.php/dav/addressbooks/", "addressbook"), ("/remote.php/dav/calendars/", "calendar"),
                         ("/remote.php/dav/files/", "files"), ("/ocs/", "ocs")):
        if p.startswith(prefix):
            return f"{method} {name}"
    return f"{method} other"


def cloud_counts(emu) -> dict[str, int]:
    out: dict[str, int] = {}
    with emu._lock:
        log = list(emu.request_log)
    for method, path in log:
        key = cloud_family(method, path)
        out[key] = out.get(key, 0) + 1
    return out


def make_cloud(users: dict[str, str], name: str = CLOUD):
    """The network's Nextcloud: the service account (an app password) and the group its book is shared with."""
    from oscartes_sync.sandbox.nextcloud_emulator import NextcloudEmulator

    emu = NextcloudEmulator(name)
    emu.add_user("oscartes", users["admin_password"], app_password=users["cloud_app_password"], admin=True)
    emu.add_user("membre", users["member_password"])
    emu.add_group("membres", members=["membre"])
    return emu


class Tripwire:
    """Counts the requests every server of the child receives (in the order they arrive) and, once armed,
    stops at the k-th: "after" handles it first (what it writes is written), "before" does not; either way it
    sets `reached` and holds the request until `release` (the parent kills the client meanwhile), then drops
    the connection. "hold" handles nothing and answers normally once released (two runs at once)."""

    def __init__(self, reached, release):
        self.reached, self.release = reached, release
        self._lock = threading.Lock()
        self.count = 0
        self.at: int | None = None
        self.mode = "after"
        self.hit: str | None = None  # "METHOD family" of the request it stopped at

    def arm(self, at: int | None, mode: str = "after") -> None:
        with self._lock:
            self.count, self.at, self.mode, self.hit = 0, at, mode, None
        self.reached.clear()
        self.release.clear()

    def wrap(self, server: str, holder: dict) -> Callable:
        from oscartes_sync.sandbox.recording import drop_connection

        def wrapped(environ: dict, start_response: Callable) -> Any:
            with self._lock:
                self.count += 1
                mine = self.at is not None and self.count == self.at
                if mine:
                    method = environ.get("REQUEST_METHOD", "GET")
                    path = environ.get("PATH_INFO", "/") + "?" + environ.get("QUERY_STRING", "")
                    self.hit = (f"{server} {family(method, path)}" if server in WIKIS
                                else f"{server} {method} {environ.get('PATH_INFO', '/')[:60]}")
            if not mine:
                return holder["app"](environ, start_response)
            if self.mode == "hold":
                self.reached.set()
                self.release.wait(120)
                return holder["app"](environ, start_response)
            if self.mode == "after":
                b"".join(holder["app"](environ, lambda *a, **k: (lambda data: None)))
            self.reached.set()
            self.release.wait(120)
            return drop_connection(environ, start_response)

        return wrapped


def _child(conn, latency: float, contract: bool, users: dict[str, str], ports: tuple[int, int],
           cloud: bool = False, events=None, clouds: int = 0) -> None:
    from werkzeug.serving import make_server

    from oscartes_sync.sandbox.server import _QuietHandler

    trip = Tripwire(*events) if events else None
    emus = {name: make_wiki(name, users) for name in WIKIS}
    for name in CLOUDS[:max(clouds, 1 if cloud else 0)]:
        emus[name] = make_cloud(users, name)
    holders = {name: {"app": emus[name]} for name in emus}
    if trip is not None:  # the suite's servers: the app each holds can be replaced by a fresh emulator
        servers = {}
        for name, port in zip(emus, (*ports, 0)):
            srv = make_server("127.0.0.1", port, trip.wrap(name, holders[name]), threaded=True,
                              request_handler=_QuietHandler)
            threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
            servers[name] = srv
    else:
        # a Nextcloud waits what a wiki does per request (the contract's per-route latencies are the wikis')
        servers = {name: start(emus[name], port, latency, contract and name in WIKIS)
                   for name, port in zip(emus, (*ports, *(0,) * len(emus)))}
    conn.send({name: f"http://127.0.0.1:{s.server_port}/" for name, s in servers.items()})
    while True:
        try:
            cmd, args = conn.recv()
        except EOFError:
            break
        try:
            if cmd == "stop":
                conn.send(None)
                break
            if cmd == "seed":
                result: Any = seed(emus[args[0]], args[1], users["member_user"], *args[2:])
            elif cmd == "counts":
                result = {name: counts(emus[name]) if name in WIKIS else cloud_counts(emus[name]) for name in emus}
            elif cmd == "bytes":
                result = {name: {"received": s.bytes.received, "sent": s.bytes.sent} for name, s in servers.items()
                          if hasattr(s, "bytes")}
            elif cmd == "reset":
                for e in emus.values():
                    e.reset_log()
                for s in servers.values():
                    if hasattr(s, "bytes"):
                        s.bytes.reset()
                result = None
            elif cmd == "inject":
                emus[args[0]].inject(*args[1:])
                result = None
            elif cmd == "entry_count":
                result = {name: len(emus[name].entries(args[0] if args else ACTOR_FORM)) for name in WIKIS}
            elif cmd == "log":  # the requests of one family since the last reset (debugging a count)
                with emus[args[0]]._lock:
                    result = [p for m, p in emus[args[0]].request_log if family(m, p) == args[1]]
            elif cmd == "cpu":
                result = time.process_time()
            elif cmd == "fresh":  # new emulators behind the same addresses: a test starts from nothing
                emus = {name: make_wiki(name, users) for name in WIKIS}
                for name in CLOUDS[:max(clouds, 1 if cloud else 0)]:
                    emus[name] = make_cloud(users, name)
                for name in emus:
                    holders[name]["app"] = emus[name]
                result = None
            elif cmd == "arm":
                trip.arm(*args)
                result = None
            elif cmd == "tripped":
                result = {"count": trip.count, "hit": trip.hit}
            elif cmd == "entries":  # every wiki's entries of the actor form, as stored
                result = {name: emus[name].entries(ACTOR_FORM) for name in WIKIS}
            elif cmd == "cards":  # the service's address book in the Nextcloud
                result = emus[CLOUD].cards("oscartes", args[0]) if cloud else {}
            elif cmd == "fault":  # the emulator's own fault injection, on any server (the Nextcloud too)
                emus[args[0]].inject(*args[1:])
                result = None
            elif cmd == "clear_faults":
                for e in emus.values():
                    e.clear_faults()
                result = None
            else:
                raise ValueError(f"unknown command {cmd!r}")
            conn.send(("ok", result))
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails loudly
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
    for s in servers.values():
        s.shutdown()
        s.server_close()


class EmulatorProcess:
    """The emulated servers in a child process (spawned: nothing of the parent's state is shared)."""

    def __init__(self, users: dict[str, str], *, latency: float = 0.02, contract: bool = False,
                 ports: tuple[int, int] = (0, 0), cloud: bool = False, tripwire: bool = False, clouds: int = 0):
        ctx = mp.get_context("spawn")
        self._conn, child_conn = ctx.Pipe()
        # the fault suite's tripwire: the child says when it stopped at the armed request, the parent releases it
        self.reached, self.release = (ctx.Event(), ctx.Event()) if tripwire else (None, None)
        events = (self.reached, self.release) if tripwire else None
        self._proc = ctx.Process(target=_child, args=(child_conn, latency, contract, users, ports, cloud, events,
                                                      clouds), name="emulators", daemon=True)
        self._proc.start()
        deadline = time.monotonic() + 60
        while not self._conn.poll(0.2):
            if not self._proc.is_alive() or time.monotonic() > deadline:
                self._proc.kill()
                raise RuntimeError("the emulator process did not start (see its traceback above)")
        self.urls: dict[str, str] = self._conn.recv()

    def _call(self, cmd: str, *args: Any) -> Any:
        self._conn.send((cmd, args))
        status, result = self._conn.recv()
        if status != "ok":
            raise RuntimeError(f"emulator process: {result}")
        return result

    def seed(self, wiki: str, entries: list[dict[str, str]], form: str = ACTOR_FORM) -> list[str]:
        return self._call("seed", wiki, entries, form)

    def counts(self) -> dict[str, dict[str, int]]:
        return self._call("counts")

    def bytes(self) -> dict[str, dict[str, int]]:
        return self._call("bytes")

    def reset(self) -> None:
        self._call("reset")

    def inject(self, wiki: str, method: str, path_regex: str, fault: str, times: int = 1) -> None:
        self._call("inject", wiki, method, path_regex, fault, times)

    def entry_count(self, form: str = ACTOR_FORM) -> dict[str, int]:
        return self._call("entry_count", form)

    def log(self, wiki: str, fam: str) -> list[str]:
        return self._call("log", wiki, fam)

    def cpu(self) -> float:
        return self._call("cpu")

    # the fault suite (tests/fault_suite.py)
    def fresh(self) -> None:
        self._call("fresh")

    def arm(self, at: int | None, mode: str = "after") -> None:
        self._call("arm", at, mode)

    def tripped(self) -> dict[str, Any]:
        return self._call("tripped")

    def entries(self) -> dict[str, dict[str, dict]]:
        return self._call("entries")

    def cards(self, book: str) -> dict[str, str]:
        return self._call("cards", book)

    def fault(self, server: str, method: str, path_regex: str, kind: str, times: int = 1,
              delay: float = 2.0) -> None:
        self._call("fault", server, method, path_regex, kind, times, delay)

    def clear_faults(self) -> None:
        self._call("clear_faults")

    def stop(self) -> None:
        try:
            self._conn.send(("stop", ()))
            self._conn.poll(5) and self._conn.recv()
        except (OSError, EOFError):
            pass
        self._proc.join(timeout=5)
        if self._proc.is_alive():
            self._proc.kill()

    def __enter__(self) -> "EmulatorProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.emulators", description=__doc__.split("\n\n")[0])
    p.add_argument("--port-a", type=int, default=8081, help="port of the first wiki (polesnoe)")
    p.add_argument("--port-b", type=int, default=8082, help="port of the second wiki (tel)")
    p.add_argument("--latency", type=float, default=0.02, help="seconds waited before each request")
    p.add_argument("--contract", action="store_true", help="per-route latency measured on a real YesWiki")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed N actors (N/2 per wiki)")
    args = p.parse_args(argv)
    token, password = os.environ.get("OSCARTES_BENCH_TOKEN"), os.environ.get("OSCARTES_BENCH_PASSWORD")
    if not (token and password):
        print("set OSCARTES_BENCH_TOKEN and OSCARTES_BENCH_PASSWORD (WikiAdmin's API token and password)",
              file=sys.stderr)
        return 2
    users = {"admin_user": "WikiAdmin", "admin_password": password, "admin_token": token,
             "member_user": "MembreActif", "member_password": password, "member_token": token + "m"}
    emus = {name: make_wiki(name, users) for name in WIKIS}
    if args.seed:
        from .dataset import make_dataset

        data = make_dataset(args.seed)
        seed(emus["polesnoe"], data.wiki_a, users["member_user"])
        seed(emus["tel"], data.wiki_b, users["member_user"])
    servers = [start(emus[n], port, args.latency, args.contract) for n, port in zip(WIKIS, (args.port_a, args.port_b))]
    for name, s in zip(WIKIS, servers):
        print(f"{name}: http://127.0.0.1:{s.server_port}/")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    for s in servers:
        s.shutdown()
        s.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
