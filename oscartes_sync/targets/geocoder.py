"""Client of the national address geocoder (Base Adresse Nationale, `GET {url}?q=...&postcode=...&citycode=...`).

The answer is a GeoCodeJSON FeatureCollection: each feature has a `Point` geometry `[lon, lat]` and properties
`label`, `score` (0-1), `type` (housenumber, street, locality, municipality), `postcode`, `citycode`, `city`.
The public service allows 50 requests per second per IP; this client spaces its requests by
`requests_per_second` (a run-wide budget is the caller's). Only GET, retried on connection errors and 502-504;
a 429 stops the geocoder for the run (`TerminalError`): the next run goes on where this one stopped.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ..text import Text
from .base import RequestStats, TerminalError, TransientError


@dataclass(frozen=True)
class GeocodeMatch:
    latitude: float
    longitude: float
    score: float
    type: str
    label: str
    citycode: str


class BanGeocoder:
    def __init__(self, url: str, *, requests_per_second: float = 10.0, timeout: float = 10.0):
        self.name = "geocoder"
        self.url = url
        self.timeout = timeout
        self.stats = RequestStats()
        self._interval = 1.0 / requests_per_second if requests_per_second > 0 else 0.0
        self._last = 0.0
        self._lock = threading.Lock()
        self._session = requests.Session()
        retry = Retry(total=2, connect=2, read=1, status=2, allowed_methods=frozenset({"GET"}),
                      status_forcelist=(502, 503, 504), backoff_factor=0.3, raise_on_status=False)
        self._session.mount("http://", HTTPAdapter(max_retries=retry))
        self._session.mount("https://", HTTPAdapter(max_retries=retry))
        self._session.headers.update({"User-Agent": "oscartes-sync"})

    def close(self) -> None:
        self._session.close()

    def _wait_turn(self) -> None:
        with self._lock:
            delay = self._last + self._interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._last = time.monotonic()

    def search(self, text: str, *, postcode: str = "", citycode: str = "") -> GeocodeMatch | None:
        """The best match for `text` in that postcode / commune, or None when the geocoder finds nothing."""
        params = {"q": text, "limit": "1"}
        if postcode:
            params["postcode"] = postcode
        if citycode:
            params["citycode"] = citycode
        self._wait_turn()
        self.stats.count("GET search")
        try:
            resp = self._session.get(self.url, params=params, timeout=self.timeout)
        except requests.Timeout:
            raise TransientError(self.name, Text("no answer within {timeout:g} s", timeout=self.timeout)) from None
        except requests.RequestException:
            raise TransientError(self.name, Text("could not connect to the geocoder")) from None
        if resp.status_code == 429:
            raise TerminalError(self.name, Text("the geocoder refuses more requests for now (HTTP 429)"))
        if resp.status_code == 400:
            return None  # a query it cannot read (too short, only punctuation): nothing to find
        if resp.status_code != 200:
            raise TransientError(self.name, Text("the geocoder answered HTTP {status_code}",
                                                 status_code=resp.status_code))
        try:
            body = resp.json()
            features = body["features"]
        except (ValueError, KeyError, TypeError):
            raise TerminalError(self.name, Text("the geocoder answered something that is not GeoCodeJSON")) from None
        for feature in features if isinstance(features, list) else []:
            try:
                lon, lat = feature["geometry"]["coordinates"][:2]
                props = feature["properties"]
                return GeocodeMatch(float(lat), float(lon), float(props.get("score") or 0), str(props.get("type") or ""),
                                    str(props.get("label") or ""), str(props.get("citycode") or ""))
            except (KeyError, TypeError, ValueError, IndexError):
                continue
        return None
