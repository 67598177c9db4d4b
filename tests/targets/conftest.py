"""Fixture for the YesWiki client tests: a scriptable fake wiki on pytest-httpserver (the test module feeds it
the contract's recorded answers)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest
from werkzeug import Request, Response


@dataclass
class Seen:
    method: str
    query: str
    headers: dict[str, str]
    form: dict[str, str]
    cookies: dict[str, str]


@dataclass
class FakeWiki:
    """Routes `(method, query regex)` to responses (a Response, or a callable taking the Request).
    The first matching route wins; `times` limits how often a route answers."""

    server: Any
    seen: list[Seen] = field(default_factory=list)
    routes: list[list[Any]] = field(default_factory=list)
    # Like YesWiki, answer a bearer request with a `name` cookie (the token's user logged in); False makes
    # the fake answer such requests anonymously, as YesWiki does on public routes for a refused token.
    bearer_accepted: bool = True

    @property
    def url(self) -> str:
        return self.server.url_for("/")

    def on(self, method: str, query: str, response: Response | Callable[[Request], Response],
           times: int | None = None) -> None:
        self.routes.append([method, re.compile(query), response, times])

    def handle(self, request: Request) -> Response:
        query = request.query_string.decode("latin-1")
        self.seen.append(Seen(request.method, query, dict(request.headers),
                              request.form.to_dict(), dict(request.cookies)))
        for route in self.routes:
            method, rx, response, times = route
            if method == request.method and rx.fullmatch(query) and (times is None or times > 0):
                if times is not None:
                    route[3] = times - 1
                resp = response if isinstance(response, Response) else response(request)
                if self.bearer_accepted and request.headers.get("Authorization", "").startswith("Bearer ") \
                        and resp.status_code not in (401, 403):
                    resp = Response(resp.get_data(), status=resp.status_code, headers=list(resp.headers.items()))
                    resp.set_cookie("name", "TokenUser")
                return resp
        return Response("", status=404, content_type="text/html")

    def count(self, method: str, query: str) -> int:
        rx = re.compile(query)
        return sum(1 for s in self.seen if s.method == method and rx.fullmatch(s.query))


@pytest.fixture
def fake(httpserver) -> FakeWiki:
    wiki = FakeWiki(httpserver)
    httpserver.expect_request(re.compile(".*")).respond_with_handler(wiki.handle)
    return wiki
