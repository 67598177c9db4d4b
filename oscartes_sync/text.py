"""A message for a person, carried as a value until it is shown (DECISIONS §21).

`Text("conflict on {field}", field=name)` is a `str`: its value is the English rendering, so JSON outputs, stored
run reports, logs and `in` checks keep reading the stable English text. It also remembers its template (the
msgid of the catalogue) and its parameters, so that `i18n.translate()` renders it in the reader's language
where it is shown. A parameter may itself be a `Text` (translated too); any other value is shown as it is
(titles, field names, URLs are data, never translated).

Standard library only, no I/O: the pure planner and the targets build messages with it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any


class Text(str):
    """A message: its English rendering (the str value), its template and its parameters."""

    template: str
    params: dict[str, Any]
    plural: str | None  # the plural template (then `count` chooses, as ngettext does)
    count: int | None
    literal: bool  # a template that is no message of its own (joined parts): never looked up

    def __new__(cls, template: str, /, **params: Any) -> Text:
        return _make(cls, template, params)

    def __reduce__(self):  # copy, deepcopy and pickle keep the message, not only its English rendering
        return (_rebuild, (self.to_json(),))

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form that `Text.from_json` turns back into the same message (the store keeps it)."""
        out: dict[str, Any] = {"t": self.template, "p": {k: _param_json(v) for k, v in self.params.items()}}
        if self.plural is not None:
            out["pl"], out["n"] = self.plural, self.count
        if self.literal:
            out["lit"] = True
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Text:
        params = {k: _param_value(v) for k, v in data["p"].items()}
        return _make(cls, data["t"], params, data.get("pl"), data.get("n"), bool(data.get("lit")))


class Term(str):
    """A name the code uses for something a person calls otherwise: a canonical field (`Term.field("phone")`)
    or a record kind (`Term.kind("actor")`). Its str value is the code's name (stable in JSON); shown to a
    person it is that thing's label in their language (`i18n.translate`)."""

    vocabulary: str  # "field" | "kind"
    heading: bool  # shown with a capital first letter (a heading)

    def __new__(cls, name: str, vocabulary: str, heading: bool = False) -> Term:
        self = str.__new__(cls, name)
        self.vocabulary, self.heading = vocabulary, heading
        return self

    def __reduce__(self):
        return (Term, (str.__str__(self), self.vocabulary, self.heading))

    @classmethod
    def field(cls, name: str) -> Term:
        return cls(name, "field")

    @classmethod
    def kind(cls, name: str, heading: bool = False) -> Term:
        return cls(name, "kind", heading)


def N_(message: str) -> str:  # noqa: N802 (the gettext convention)
    """Marks a message for extraction where it is defined (a table of labels); it is translated where shown."""
    return message


def N_plural(singular: str, plural: str) -> tuple[str, str]:  # noqa: N802
    """Marks a message with a plural form in a table (it is shown through `Plural`)."""
    return singular, plural


def _make(cls: type[Text], template: str, params: dict[str, Any], plural: str | None = None,
          count: int | None = None, literal: bool = False) -> Text:
    chosen = template if plural is None or count == 1 else plural
    self = str.__new__(cls, chosen.format(**params))
    self.template, self.params, self.plural, self.count, self.literal = template, dict(params), plural, count, literal
    return self


def _param_json(value: Any) -> Any:
    if isinstance(value, Text):
        return value.to_json()
    if isinstance(value, Term):
        return {"term": str.__str__(value), "of": value.vocabulary} | ({"heading": True} if value.heading else {})
    return value


def _param_value(data: Any) -> Any:
    if isinstance(data, dict) and "t" in data and "p" in data:
        return Text.from_json(data)
    if isinstance(data, dict) and {"term", "of"} <= set(data) <= {"term", "of", "heading"}:
        return Term(data["term"], data["of"], bool(data.get("heading")))
    return data


def _rebuild(data: dict[str, Any]) -> Text:
    return Text.from_json(data)


def Plural(singular: str, plural: str, count: int, /, **params: Any) -> Text:  # noqa: N802 (reads as Text)
    """A message whose words follow a number: `Plural("{n} entry", "{n} entries", n, n=n)`."""
    return _make(Text, singular, params, plural, count)


def join(separator: str, parts: Iterable[Any]) -> Text:
    """Parts (messages or plain strings) shown one after the other, each in the reader's language. A separator
    that is a message is translated too (`SEMICOLON`: French puts a space before it)."""
    items = list(parts)
    params = {f"p{i}": item for i, item in enumerate(items)}
    if isinstance(separator, Text):
        template, params["sep"] = "{sep}".join(f"{{p{i}}}" for i in range(len(items))), separator
    else:
        template = separator.replace("{", "{{").replace("}", "}}").join(f"{{p{i}}}" for i in range(len(items)))
    return _make(Text, template, params, literal=True)


def message_of(exc: BaseException) -> str:
    """The message an exception was raised with: a `Text` stays a message (translated where it is shown);
    anything else is its English words."""
    return exc.args[0] if len(exc.args) == 1 and isinstance(exc.args[0], str) else str(exc)


def scrub(message: str, secrets: Iterable[str], mask: str = "***") -> str:
    """`message` with every secret replaced by `mask`, a message staying a message (its parameters scrubbed)."""
    secrets = [s for s in secrets if s]
    if not isinstance(message, Text):
        for s in secrets:
            message = message.replace(s, mask)
        return message
    return _map_params(message, lambda v: scrub(v, secrets, mask) if isinstance(v, str) else v)


def _map_params(message: Text, fn: Callable[[Any], Any]) -> Text:
    params = {k: fn(v) for k, v in message.params.items()}
    return _make(Text, message.template, params, message.plural, message.count, message.literal)


def stored(message: str) -> Any:
    """A message as a JSON value kept in the store's state (a cache of refusals): restored by `restored`."""
    return message.to_json() if isinstance(message, Text) else message


def restored(value: Any) -> str:
    """What `stored` kept, back as a message (a plain string as it is: states written before messages)."""
    if isinstance(value, dict) and "t" in value and "p" in value:
        try:
            return Text.from_json(value)
        except (KeyError, TypeError, ValueError, IndexError):
            return str(value.get("t", ""))
    return value


def encode_note(note: str) -> str:
    """A note for a text column: a plain string as it is; a message as its English rendering followed by its
    JSON form, so that the English stays readable in the database and the message can be shown translated."""
    if not isinstance(note, Text):
        return note
    return str.__str__(note) + NOTE_MARK + json.dumps(note.to_json(), ensure_ascii=False, sort_keys=True)


def decode_note(stored: str) -> str:
    """What `encode_note` stored, back as a message (or the plain string, or the English part of a message
    whose JSON form cannot be read any more)."""
    if not stored or NOTE_MARK not in stored:
        return stored
    english, _, data = stored.partition(NOTE_MARK)
    try:
        return Text.from_json(json.loads(data))
    except (ValueError, KeyError, TypeError, IndexError):
        return english


NOTE_MARK = "\n\x1e"  # record separator: never typed in a note

# TRANSLATORS: the separator of a list of clauses ("4 conflicts; 7 refused values"); French: " ; "
SEMICOLON = Text("; ")
