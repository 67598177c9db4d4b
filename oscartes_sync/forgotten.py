"""Values erased with `forget`, found again in any text without keeping them (GDPR art. 17).

A value to forget (an email, a phone number, a name the coordinator confirmed) is a *needle*: one or more
forms, each a sequence of words. Text is compared word by word after folding (case, accents, and the spaces,
dots or dashes inside a number: "01 69 10 20 30" is the word "0169102030"), so "Jean  DUPONT" holds the needle
"Jean Dupont" and "Jean Dupontel" does not.

`forget` erases the needles from the store with their plain text (`erase`), then keeps only a keyed hash of
each form (`ForgetList`), so that the sync can refuse a value a wiki still holds (`ForgetList.holds`) without
the store holding the value itself. The key is random and kept in the store; a hash of a phone number can still
be found by trying every number with that key, which is why the README says what is kept and why.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

STATE_KEY = "forget"
ERASED = "[…]"
# separators that may sit inside a written number ("01 69 10 20 30", "01.69.10.20.30", "01-69-10-20-30")
_NUMBER_SEPARATORS = " .-\u00a0\u202f\u2009"


def _fold(ch: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)).casefold()


@dataclass(frozen=True)
class Word:
    text: str  # folded
    where: tuple[int, ...]  # index in the original string of each folded character


def words(text: str) -> list[Word]:
    """The folded words of `text`, each with where its characters are in `text`."""
    out: list[Word] = []
    chars: list[str] = []
    where: list[int] = []
    i, n = 0, len(text)

    def close() -> None:
        if chars:
            out.append(Word("".join(chars), tuple(where)))
            chars.clear()
            where.clear()

    while i < n:
        folded = _fold(text[i])
        if folded and all(c.isalnum() for c in folded):
            for c in folded:
                chars.append(c)
                where.append(i)
            i += 1
            continue
        if chars and chars[-1].isdigit() and text[i] in _NUMBER_SEPARATORS:
            j = i
            while j < n and text[j] in _NUMBER_SEPARATORS:
                j += 1
            if j < n and text[j].isdigit():  # a number written in groups goes on
                i = j
                continue
        close()
        i += 1
    close()
    return out


@dataclass(frozen=True)
class Needle:
    """One value to forget: what the coordinator sees (`label`), and the word sequences that find it."""

    kind: str  # email | phone | text
    label: str
    forms: tuple[tuple[str, ...], ...]

    @property
    def digit_forms(self) -> tuple[str, ...]:
        """Forms that are one number: also found inside a longer run of digits ("Tél. 0169102030/0612...")."""
        return tuple(f[0] for f in self.forms if len(f) == 1 and f[0].isdigit())


EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def needle(value: str, region: str = "FR") -> Needle:
    """The needle of a query: an email address, a phone number, or else a text (a name)."""
    value = value.strip()
    if EMAIL.match(value):
        return Needle("email", value, (tuple(w.text for w in words(value)),))
    phone = _phone_forms(value, region)
    if phone:
        return Needle("phone", value, phone)
    forms = tuple(w.text for w in words(value))
    return Needle("text", value, (forms,) if forms else ())


def _phone_forms(value: str, region: str) -> tuple[tuple[str, ...], ...]:
    import phonenumbers

    if not re.fullmatch(r"[\d\s.()+\-\u00a0]{6,}", value) or sum(c.isdigit() for c in value) < 6:
        return ()
    try:
        num = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return ()
    if not phonenumbers.is_possible_number(num):
        return ()
    national = str(num.national_number)
    prefix = phonenumbers.region_code_for_number(num)
    trunk = "0" if prefix in ("FR", "BE", "CH", "DE", "GB", "IT", "NL") and not national.startswith("0") else ""
    return tuple(dict.fromkeys([(f"{trunk}{national}",), (f"{num.country_code}{national}",),
                                (f"00{num.country_code}{national}",)]))


# ---- erasing (the plain needles, in the store) ----------------------------------------------------------------


def spans(text: str, needles: Iterable[Needle]) -> list[tuple[int, int]]:
    """Where the needles are in `text`: (start, end) in the original string, merged."""
    ws = words(text)
    found: list[tuple[int, int]] = []
    for nd in needles:
        for form in nd.forms:
            k = len(form)
            for i in range(len(ws) - k + 1):
                if all(ws[i + j].text == form[j] for j in range(k)):
                    start = ws[i].where[0]
                    if start > 0 and text[start - 1] == "+" and form[0].isdigit():  # +33 1 69...
                        start -= 1
                    found.append((start, ws[i + k - 1].where[-1] + 1))
        for digits in nd.digit_forms:
            for w in ws:
                if len(w.text) > len(digits) and w.text.isdigit():
                    start = w.text.find(digits)
                    while start >= 0:
                        found.append((w.where[start], w.where[start + len(digits) - 1] + 1))
                        start = w.text.find(digits, start + 1)
    found.sort()
    merged: list[tuple[int, int]] = []
    for s, e in found:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def erase_text(text: str, needles: Iterable[Needle]) -> tuple[str | None, int]:
    """`text` without the needles (each replaced by "[…]"), None when nothing else was in it; and how many."""
    found = spans(text, needles)
    if not found:
        return text, 0
    rest = "".join(text[prev:s] for prev, s in zip([0] + [e for _, e in found], [s for s, _ in found]))
    rest += text[found[-1][1]:]
    if not any(ch.isalnum() for ch in rest):
        return None, len(found)
    out, prev = [], 0
    for s, e in found:
        out.append(text[prev:s])
        out.append(ERASED)
        prev = e
    out.append(text[prev:])
    return "".join(out), len(found)


def erase_value(value: Any, needles: list[Needle]) -> tuple[Any, int]:
    """A JSON value with the needles erased from every string in it (dict keys are names, left as they are)."""
    if isinstance(value, str):
        return erase_text(value, needles)
    if isinstance(value, list):
        total, out = 0, []
        for v in value:
            nv, n = erase_value(v, needles)
            out.append(nv)
            total += n
        return out, total
    if isinstance(value, dict):
        total, outd = 0, {}
        for k, v in value.items():
            nv, n = erase_value(v, needles)
            outd[k] = nv
            total += n
        return outd, total
    return value, 0


# ---- remembering them as hashes (the sync) ---------------------------------------------------------------------


def _digest(key: bytes, form: Iterable[str]) -> str:
    return hashlib.blake2b("\x1f".join(form).encode("utf-8"), key=key, digest_size=20).hexdigest()


@dataclass
class ForgetList:
    """The keyed hashes of every form of every forgotten needle, as kept in the store's state."""

    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    hashes: dict[str, dict[str, Any]] = field(default_factory=dict)  # digest -> {"n": words, "since", "len"?}

    @classmethod
    def from_state(cls, state: Any) -> "ForgetList":
        if not isinstance(state, dict) or not state.get("key"):
            return cls()
        return cls(bytes.fromhex(state["key"]), dict(state.get("hashes") or {}))

    def as_state(self) -> dict[str, Any]:
        return {"key": self.key.hex(), "hashes": self.hashes}

    def __bool__(self) -> bool:
        return bool(self.hashes)

    def add(self, nd: Needle, at: datetime | None = None) -> None:
        since = (at or datetime.now(timezone.utc)).strftime("%Y-%m-%d")
        for form in nd.forms:
            digits = len(form) == 1 and form[0].isdigit()
            meta: dict[str, Any] = {"n": len(form), "since": since}
            if digits:
                meta.update(digits=True, len=len(form[0]))
            self.hashes[_digest(self.key, form)] = meta

    def holds(self, value: Any) -> bool:
        """Whether a value (a string, or a list of them) holds a forgotten needle."""
        if not self.hashes:
            return False
        if isinstance(value, list):
            return any(self.holds(v) for v in value)
        if not isinstance(value, str):
            return False
        ws = [w.text for w in words(value)]
        lengths = {h["n"] for h in self.hashes.values()}
        for k in lengths:
            for i in range(len(ws) - k + 1):
                if _digest(self.key, ws[i:i + k]) in self.hashes:
                    return True
        sizes = {h["len"] for h in self.hashes.values() if h.get("digits")}
        for w in ws:  # a forgotten number inside a longer run of digits
            if w.isdigit():
                for size in sizes:
                    for s in range(len(w) - size + 1) if len(w) > size else ():
                        if _digest(self.key, (w[s:s + size],)) in self.hashes:
                            return True
        return False
