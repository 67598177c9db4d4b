"""A fake of the national address geocoder (Base Adresse Nationale, `GET /search/?q=&postcode=&citycode=&limit=`)
for the sandbox, the tests and the demo: real HTTP on 127.0.0.1, answers in the documented GeoCodeJSON shape.

It knows the communes of Essonne (reference data) and no street: an address "<number> <street word> ..." in a
known commune is placed near the commune's centre, at a spot derived from the text (the same address always
gives the same point, a few hundred metres from the centre), score 0.9, type housenumber; a text with no street
word gets the commune itself (type municipality, score 0.3); a text in no known commune gets no feature. Every
request is logged (`request_log`), and faults can be injected as on the wiki emulators.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from typing import Callable, Iterable
from urllib.parse import parse_qs

from werkzeug.wrappers import Request, Response

from .. import geo
from .recording import Fault, RequestRecorder

STREET_WORDS = ("rue", "avenue", "av", "boulevard", "bd", "chemin", "place", "allee", "route", "impasse", "quai",
                "square", "voie", "cours", "sentier", "promenade", "passage", "esplanade", "parc", "mail")


class GeocoderEmulator(RequestRecorder):
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.request_log: list[tuple[str, str]] = []
        self._faults: list[Fault] = []

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        qs = environ.get("QUERY_STRING", "")
        faulty = self._record(request.method, request.path + (f"?{qs}" if qs else ""), environ, start_response)
        if faulty is not None:
            return faulty
        if request.path.rstrip("/") != "/search":
            return Response("Not Found", status=404)(environ, start_response)
        params = {k: v[0] for k, v in parse_qs(qs).items()}
        q = params.get("q", "").strip()
        if len(q) < 3:
            body = {"code": 400, "message": "q must contain between 3 and 200 chars and start with a number or a "
                                            "letter"}
            return Response(json.dumps(body), status=400, content_type="application/json")(environ, start_response)
        features = self._search(q, params.get("postcode", ""), params.get("citycode", ""))
        body = {"type": "FeatureCollection", "version": "draft", "features": features[: int(params.get("limit", 5))],
                "attribution": "BAN", "licence": "ETALAB-2.0", "query": q, "limit": int(params.get("limit", 5))}
        return Response(json.dumps(body, ensure_ascii=False), status=200,
                        content_type="application/json; charset=utf-8")(environ, start_response)

    def _fault_response(self, kind: str, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if kind == "html200":
            return Response("<html><body>maintenance</body></html>", status=200,
                            content_type="text/html")(environ, start_response)
        return Response(json.dumps({"code": 502, "message": "Bad gateway"}), status=502,
                        content_type="application/json")(environ, start_response)

    @staticmethod
    def _search(q: str, postcode: str, citycode: str) -> list[dict]:
        commune = geo.commune_by_insee(citycode) if citycode else None
        if commune is None:
            candidates = geo.communes_by_postcode(postcode) if postcode else geo.all_communes()
            words = geo.name_key(q)
            commune = next((c for c in sorted(candidates, key=lambda c: -len(c.name)) if geo.name_key(c.name) in words),
                           candidates[0] if postcode and len(candidates) == 1 else None)
        if commune is None or not commune.has_point or (postcode and postcode not in commune.postcodes):
            return []
        words = geo.name_key(q).split()
        number = re.match(r"^\s*(\d+)", q)
        if not any(w in STREET_WORDS for w in words):
            return [_feature(commune.lat, commune.lon, 0.3, "municipality", commune.name, commune, "")]
        digest = hashlib.sha256(geo.name_key(q).encode()).digest()
        dlat = (digest[0] - 128) / 128 * 0.006  # up to ~650 m north or south of the centre
        dlon = (digest[1] - 128) / 128 * 0.009
        label = f"{q.split(commune.name)[0].strip().rstrip(',')} {commune.postcode} {commune.name}"
        return [_feature(commune.lat + dlat, commune.lon + dlon, 0.9, "housenumber" if number else "street", label,
                         commune, number.group(1) if number else "")]


def _feature(lat: float, lon: float, score: float, kind: str, label: str, commune: geo.Commune,
             number: str) -> dict:
    props = {"label": label, "score": score, "id": f"{commune.insee}_fake", "name": label.rsplit(commune.postcode, 1)[0]
             .strip(), "postcode": commune.postcode, "citycode": commune.insee, "x": 0, "y": 0, "city": commune.name,
             "context": "91, Essonne, Île-de-France", "type": kind, "importance": 0.5}
    if number:
        props["housenumber"] = number
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
            "properties": props}
