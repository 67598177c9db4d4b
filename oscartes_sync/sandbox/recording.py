"""What the emulators share: the log of the requests they received, and faults a test can inject."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass

from werkzeug.wrappers import Response

# What a test can make an emulator do to a request, each backed by the contracts (or by the network itself):
#   500       the server's own error page (YesWiki: PHP exception JSON, §1; Nextcloud: Sabre error)
#   html200   an HTML page with status 200 where JSON or XML is due (YesWiki §10.1, a maintenance page)
#   drop      the connection closed before any answer (a restarted php-fpm or proxy)
#   slow      the answer after `delay` seconds (§9 timings; a client timeout when above it)
#   truncate  the request is handled, then the answer stops halfway and the connection closes (a body cut
#             mid-JSON by a dying worker or proxy)
#   drop-after  the request is handled (a create is made), then the connection closes without an answer
#   429       Nextcloud only: its brute-force throttle or share rate limit (nextcloud-contract, no Retry-After)
FAULTS = ("500", "html200", "drop", "slow", "truncate", "drop-after", "429")
_AFTER = ("truncate", "drop-after")
_BYPASS = "oscartes.faults.bypass"


@dataclass
class Fault:
    method: str
    pattern: re.Pattern
    kind: str
    remaining: int
    delay: float = 2.0


def _dropped() -> Iterable[bytes]:
    raise ConnectionResetError("connection dropped by fault injection")
    yield b""  # pragma: no cover - makes this a generator


def drop_connection(environ: dict, start_response) -> Iterable[bytes]:
    """Close the connection without an answer (werkzeug treats the ConnectionError as a dropped connection:
    no bytes sent); a 502 where the socket is out of reach."""
    sock = environ.get("werkzeug.socket")
    if sock is None:
        return Response("", status=502)(environ, start_response)
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    start_response("200 OK", [])
    return _dropped()


class RequestRecorder:
    """Mixed into an emulator that has `_lock`, `request_log` and `_faults`, and a `_fault_response(kind,
    environ, start_response)` that answers "html200" and "500" the way that server fails."""

    def reset_log(self) -> None:
        with self._lock:
            self.request_log.clear()

    def count(self, method: str | None = None, contains: str | None = None) -> int:
        with self._lock:
            return sum(1 for m, p in self.request_log
                       if (method is None or m == method.upper()) and (contains is None or contains in p))

    def inject(self, method: str, path_regex: str, fault: str, times: int = 1, delay: float = 2.0) -> None:
        """Make the next `times` requests matching METHOD (or "*") and `path_regex` (searched in the path with
        its query) fail: "500" (the server's own 500), "html200" (200 text/html page), "drop" (connection
        closed without an answer), "slow" (answer after `delay` seconds)."""
        known = getattr(self, "supported_faults", FAULTS)
        if fault not in known:
            raise ValueError(f"unknown fault {fault!r} for this emulator; expected one of {known}")
        with self._lock:
            self._faults.append(Fault(method.upper(), re.compile(path_regex), fault, times, delay))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _record(self, method: str, logged: str, environ: dict, start_response):
        """Log the request; the response of an injected fault, or None to answer normally."""
        if environ.get(_BYPASS):  # the request itself, handled for a fault that acts after it
            return None
        fault = None
        with self._lock:
            self.request_log.append((method, logged))
            for f in self._faults:
                if f.remaining > 0 and f.method in (method, "*") and f.pattern.search(logged):
                    f.remaining -= 1
                    fault = f
                    break
            self._faults = [f for f in self._faults if f.remaining > 0]
        if fault is None:
            return None
        if fault.kind == "slow":
            time.sleep(fault.delay)
            return None
        if fault.kind == "drop":
            return drop_connection(environ, start_response)
        if fault.kind in _AFTER:
            return self._after(fault.kind, environ, start_response)
        return self._fault_response(fault.kind, environ, start_response)

    def _after(self, kind: str, environ: dict, start_response):
        """Handle the request as usual (whatever it changes is changed), then fail to deliver the answer."""
        environ[_BYPASS] = True
        seen: dict = {}

        def keep(status, headers, exc_info=None):
            seen.update(status=status, headers=headers)
            return lambda data: None

        body = b"".join(self(environ, keep))
        if kind == "drop-after":
            return drop_connection(environ, start_response)
        headers = [(k, v) for k, v in seen["headers"] if k.lower() != "content-length"]
        start_response(seen["status"], headers + [("Content-Length", str(len(body))), ("Connection", "close")])
        return _cut(body[: max(1, len(body) // 2)], environ)


def _cut(part: bytes, environ: dict) -> Iterable[bytes]:
    yield part
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise ConnectionResetError("answer cut by fault injection")
