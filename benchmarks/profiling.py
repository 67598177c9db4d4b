"""A sampling profiler for the benchmarks: cheap enough to leave on during a 10,000-actor run, and it can be
read at any moment (a run stopped at its time limit still says where the time went).

Every `interval` seconds it looks at the main thread's stack and counts, per `file:function`, the samples in
which the function was on the stack (inclusive: its share of wall time) and at the top (self).
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from pathlib import Path


def _where(code) -> str:
    path = Path(code.co_filename)
    parts = path.parts
    if "oscartes_sync" in parts:
        short = "/".join(parts[parts.index("oscartes_sync"):])
    elif "site-packages" in parts:
        short = "/".join(parts[parts.index("site-packages") + 1:])
    else:
        short = "/".join(parts[-2:])
    return f"{short}:{code.co_name}"


class Sampler:
    def __init__(self, interval: float = 0.005):
        self.interval = interval
        self.inclusive: Counter[str] = Counter()
        self.self_: Counter[str] = Counter()
        self.samples = 0
        self._target = threading.main_thread().ident
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sampler", daemon=True)

    def start(self) -> "Sampler":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            frame = sys._current_frames().get(self._target)
            if frame is None:
                continue
            self.samples += 1
            self.self_[_where(frame.f_code)] += 1
            seen = set()
            while frame is not None:
                seen.add(_where(frame.f_code))
                frame = frame.f_back
            self.inclusive.update(seen)

    def top(self, n: int = 25, *, prefix: str = "") -> dict[str, list[tuple[str, float]]]:
        """Shares of the sampled wall time (0..1), highest first; `prefix` keeps only matching locations."""
        total = max(self.samples, 1)

        def pick(c: Counter[str]) -> list[tuple[str, float]]:
            return [(k, round(v / total, 4)) for k, v in c.most_common() if k.startswith(prefix)][:n]

        return {"inclusive": pick(self.inclusive), "self": pick(self.self_)}

    def report(self, n: int = 25) -> str:
        lines = [f"sampled wall time: {self.samples} samples every {self.interval * 1000:g} ms"]
        top = self.top(n)
        lines.append("  inclusive (share of wall time with the function on the stack):")
        lines += [f"    {share:6.1%}  {where}" for where, share in top["inclusive"]]
        lines.append("  self (share of wall time at the top of the stack):")
        lines += [f"    {share:6.1%}  {where}" for where, share in top["self"][:15]]
        mine = self.top(n, prefix="oscartes_sync/")
        lines.append("  oscartes_sync only, inclusive:")
        lines += [f"    {share:6.1%}  {where}" for where, share in mine["inclusive"]]
        return "\n".join(lines)

