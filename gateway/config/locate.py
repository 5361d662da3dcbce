"""Find the line of a key in a TOML text, so that errors can point at it.

``tomllib`` gives us values but forgets where they came from, and a message
such as "unknown key 'chanel'" is only useful with a line number. The scanner
here reads a text that ``tomllib`` has already accepted and records the line
of every table header, key and array element under its full path, e.g.
``("agencies", "00000001003214345000", "documents", "invoice", "format")`` or
``("agencies", "00000001003214345000", "contacts", 1, "email")``. It is
deliberately lenient: it never rejects anything, it only remembers lines.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence

PathPart = str | int
KeyPath = tuple[PathPart, ...]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_PUNCTUATION = "[]{}=,.\n"


def format_key_path(path: Sequence[PathPart]) -> str:
    """``("agencies", "0…", "contacts", 1, "email")`` -> ``agencies."0…".contacts[1].email``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        shown = part if _BARE_KEY.match(part) and not part.isdigit() else f'"{part}"'
        text += f".{shown}" if text else shown
    return text


def format_table_header(path: Sequence[str]) -> str:
    """The ``[a."b".c]`` header a user would write for ``path``."""
    return f"[{format_key_path(path)}]"


class _Token:
    __slots__ = ("kind", "line", "text")

    def __init__(self, kind: str, text: str, line: int) -> None:
        self.kind = kind  # one of _PUNCTUATION, "word" or "string"
        self.text = text
        self.line = line


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    line = 1
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\n":
            tokens.append(_Token("\n", ch, line))
            line += 1
            i += 1
        elif ch in " \t\r":
            i += 1
        elif ch == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif ch in _PUNCTUATION:
            tokens.append(_Token(ch, ch, line))
            i += 1
        elif ch in "\"'":
            end = _string_end(text, i)
            raw = text[i:end]
            tokens.append(_Token("string", raw, line))
            line += raw.count("\n")
            i = end
        else:
            start = i
            while i < n and text[i] not in " \t\r#\"'" and text[i] not in _PUNCTUATION:
                i += 1
            tokens.append(_Token("word", text[start:i], line))
    return tokens


def _string_end(text: str, start: int) -> int:
    """Index just past the string literal starting at ``start``."""
    quote = text[start]
    escapes = quote == '"'  # literal strings ('...') have no escapes
    n = len(text)
    if text.startswith(quote * 3, start):
        i = start + 3
        while i < n and not text.startswith(quote * 3, i):
            i += 2 if escapes and text[i] == "\\" else 1
        end = min(i + 3, n)
        # The content may end in up to two quotes of its own: """a"""" is 'a"'.
        extra = 0
        while end < n and text[end] == quote and extra < 2:
            end += 1
            extra += 1
        return end
    i = start + 1
    while i < n and text[i] not in (quote, "\n"):
        i += 2 if escapes and text[i] == "\\" else 1
    return i + 1


def _key_text(token: _Token) -> list[str]:
    if token.kind == "string":
        try:
            value = tomllib.loads(f"k = {token.text}")["k"]
        except tomllib.TOMLDecodeError:
            value = token.text.strip("\"'")
        return [str(value)]
    # Outside strings a dot always separates key parts ("a.b = 1").
    return [part for part in token.text.split(".") if part]


class _Scanner:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0
        self.lines: dict[KeyPath, int] = {}
        # Tables that exist only because a deeper header names them:
        # [agencies."X".documents.invoice] defines agencies."X" too.
        self.implicit: dict[KeyPath, int] = {}
        self.array_tables: dict[KeyPath, int] = {}

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> _Token | None:
        token = self.peek()
        if token is not None:
            self.pos += 1
        return token

    def remember(self, path: KeyPath, line: int) -> None:
        self.lines.setdefault(path, line)

    def scan(self) -> dict[KeyPath, int]:
        table: KeyPath = ()
        while (token := self.peek()) is not None:
            if token.kind == "\n":
                self.pos += 1
            elif token.kind == "[":
                table = self.header()
            else:
                self.key_value(table)
                self.skip_to_line_end()
        return {**self.implicit, **self.lines}

    def header(self) -> KeyPath:
        first = self.take()
        assert first is not None
        is_array = (nxt := self.peek()) is not None and nxt.kind == "["
        if is_array:
            self.pos += 1
        path = self.key_parts(stop="]")
        self.skip_to_line_end()
        for depth in range(1, len(path)):
            self.implicit.setdefault(path[:depth], first.line)
        if is_array:
            index = self.array_tables.get(path, 0)
            self.array_tables[path] = index + 1
            self.remember(path, first.line)
            path = (*path, index)
        self.remember(path, first.line)
        return path

    def key_parts(self, stop: str) -> KeyPath:
        parts: list[str] = []
        while (token := self.peek()) is not None and token.kind not in (stop, "\n"):
            self.pos += 1
            if token.kind in ("word", "string"):
                parts.extend(_key_text(token))
        return tuple(parts)

    def key_value(self, table: KeyPath) -> None:
        start = self.peek()
        assert start is not None
        key = self.key_parts(stop="=")
        if (token := self.peek()) is None or token.kind != "=":
            return
        self.pos += 1
        path = (*table, *key)
        # Dotted keys define their intermediate tables on this line too.
        for depth in range(len(table) + 1, len(path) + 1):
            self.remember(path[:depth], start.line)
        self.value(path)

    def value(self, path: KeyPath) -> None:
        token = self.peek()
        if token is None:
            return
        if token.kind == "{":
            self.pos += 1
            self.inline_table(path)
        elif token.kind == "[":
            self.pos += 1
            self.array(path)
        else:
            # Scalars, including a date-time written with a space, are one or more words.
            while (token := self.peek()) is not None and token.kind in ("word", "string", "."):
                self.pos += 1

    def inline_table(self, path: KeyPath) -> None:
        while (token := self.peek()) is not None:
            if token.kind == "}":
                self.pos += 1
                return
            if token.kind in (",", "\n"):
                self.pos += 1
                continue
            self.key_value(path)

    def array(self, path: KeyPath) -> None:
        index = 0
        while (token := self.peek()) is not None:
            if token.kind == "]":
                self.pos += 1
                return
            if token.kind in (",", "\n"):
                self.pos += 1
                continue
            self.remember((*path, index), token.line)
            before = self.pos
            self.value((*path, index))
            if self.pos == before:  # never loop on something unexpected
                self.pos += 1
            index += 1

    def skip_to_line_end(self) -> None:
        while (token := self.peek()) is not None and token.kind != "\n":
            self.pos += 1


class KeyLocator:
    """Line numbers of the keys and tables of one TOML text."""

    def __init__(self, text: str) -> None:
        self._lines = _Scanner(text).scan()

    def line_of(self, path: Sequence[PathPart]) -> int | None:
        """The line of ``path``, else of its nearest enclosing table that has one."""
        key = tuple(path)
        while key:
            if key in self._lines:
                return self._lines[key]
            key = key[:-1]
        return None

    def alias(self, spelled: Sequence[PathPart], canonical: Sequence[PathPart]) -> None:
        """Make every path under ``spelled`` findable under ``canonical`` too (an agency
        table whose OIN the file writes with spaces or dots)."""
        old, new = tuple(spelled), tuple(canonical)
        if old == new:
            return
        for path, line in list(self._lines.items()):
            if path[: len(old)] == old:
                self._lines.setdefault(new + path[len(old):], line)

    def exact_line(self, path: Sequence[PathPart]) -> int | None:
        """The line of ``path`` itself, or None if the text does not spell it out."""
        return self._lines.get(tuple(path))
