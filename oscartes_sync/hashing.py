"""Content hashes: the one change signal the sync trusts (PRODUCT.md §7).

`content_hash` is the SHA-256 of the canonical JSON form of a value: keys sorted, no whitespace, UTF-8,
non-ASCII kept as is. Two values hash equal exactly when their JSON forms are equal, so `True` and `1`, or
`1` and `1.0`, are different values (Python's `==` would call them equal). NaN and infinities are refused:
they are not JSON and PostgreSQL would refuse them too.
"""

from __future__ import annotations

import hashlib
import json


def canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def content_hash(value: object) -> str:
    # surrogatepass: a lone surrogate (possible after json.loads of a "\\ud800" escape) must not crash a hash
    return hashlib.sha256(canonical_json(value).encode("utf-8", "surrogatepass")).hexdigest()
