"""What the emulators share: the log of the requests they received, and faults a test can inject."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

FAULTS = ("500", "html200", "drop", "slow")


@dataclass
class Fault:
    method: str
    pattern: re.Pattern
    kind: str
    remaining: int
    delay: float = 2.0


class RequestRecorder:
    """Mixed into an emulator that has `_lock`, `request_log` and `_faults`, and a `_fault_response(kind,
    environ, start_response)` that answers a fault the way that server would fail."""

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
        return self._fault_response(fault.kind, environ, start_response)
