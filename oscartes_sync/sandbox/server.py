"""Run a WSGI app on 127.0.0.1 with werkzeug's threaded server.

`start_server(app)` serves on a free port in a daemon thread and returns a `RunningServer`
(`.url` ends with '/', `.port`, `.stop()`, usable as a context manager).
`serve_forever(app, port)` serves in the current thread (for a separate process).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from werkzeug.serving import WSGIRequestHandler, make_server

WSGIApp = Callable[..., Any]


class _QuietHandler(WSGIRequestHandler):
    """Request handler that does not log every request (test and benchmark output stays readable)."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


def with_latency(app: WSGIApp, latency: float) -> WSGIApp:
    """Wrap `app` so that every request waits `latency` seconds first (benchmarks only)."""
    if not latency:
        return app

    def delayed(environ: dict, start_response: Callable) -> Any:
        time.sleep(latency)
        return app(environ, start_response)

    return delayed


class RunningServer:
    def __init__(self, app: WSGIApp, *, host: str = "127.0.0.1", port: int = 0, latency: float = 0.0):
        self._server = make_server(host, port, with_latency(app, latency), threaded=True,
                                   request_handler=_QuietHandler)
        self.host = host
        self.port: int = self._server.server_port
        self.url = f"http://{host}:{self.port}/"
        # a short poll interval makes stop() quick (tests start and stop many servers)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"wsgi-{self.port}", daemon=True)
        self._thread.start()

    def wrap(self, middleware: Callable[[WSGIApp], WSGIApp]) -> None:
        """Put a WSGI middleware in front of the app (tests: act at a precise moment of a request)."""
        self._server.app = middleware(self._server.app)

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> "RunningServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(app: WSGIApp, *, port: int = 0, latency: float = 0.0) -> RunningServer:
    """Serve `app` on 127.0.0.1 (`port` 0 = a free port) in a daemon thread."""
    return RunningServer(app, port=port, latency=latency)


def serve_forever(app: WSGIApp, port: int, *, host: str = "127.0.0.1", latency: float = 0.0) -> None:
    """Serve `app` in the current thread until interrupted."""
    server = make_server(host, port, with_latency(app, latency), threaded=True, request_handler=_QuietHandler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
