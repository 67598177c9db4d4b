"""What the emulators share: the log of the requests they received, and faults a test can inject."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass

from werkzeug.wrappers import Response

FAULTS = ("500", "html200", "drop", "slow")


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
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {FAULTS}")
        with self._lock:
            self._faults.append(Fault(method.upper(), re.compile(path_regex), fault, times, delay))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _record(self, method: str, logged: str, environ: dict, start_response):
        """Log the request; the response of an injected fault, or None to answer normally."""
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
        return self._fault_response(fault.kind, environ, start_response)
