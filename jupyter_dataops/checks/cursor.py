"""A cursor over one line of the check language: words, numbers, quoted text and errors that
point at the column where the problem is."""

from __future__ import annotations

import re

from jupyter_dataops.errors import DataOpsSyntaxError

IDENT = re.compile(r"[^\W\d]\w*")


class Line:
    """A cursor over one line; every error points at its column."""

    def __init__(self, text: str, lineno: int, source_name: str | None) -> None:
        self.text = text
        self.n = lineno
        self.pos = 0
        self.source_name = source_name

    def error(self, message: str, pos: int | None = None, hint: str | None = None):
        col = (self.pos if pos is None else pos) + 1
        return DataOpsSyntaxError(
            message,
            line=self.n,
            column=col,
            text=self.text,
            hint=hint,
            source_name=self.source_name,
        )

    def ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def at_end(self) -> bool:
        """True at the end of the line or at a trailing ``# comment``."""
        self.ws()
        return self.pos >= len(self.text) or self.text[self.pos] == "#"

    def peek(self, s: str) -> bool:
        self.ws()
        return self.text.startswith(s, self.pos)

    def take(self, s: str) -> bool:
        if self.peek(s):
            self.pos += len(s)
            return True
        return False

    def expect(self, s: str, what: str | None = None) -> None:
        if not self.take(s):
            raise self.error(f"expected {what or repr(s)} here, found {self._found()}")

    def word(self, pattern: re.Pattern[str] = IDENT) -> str | None:
        self.ws()
        m = pattern.match(self.text, self.pos)
        if not m:
            return None
        self.pos = m.end()
        return m.group()

    def keyword(self, *words: str) -> str | None:
        """Take one of ``words`` (case-insensitive, whole word) if it comes next."""
        self.ws()
        m = IDENT.match(self.text, self.pos)
        if m and m.group().lower() in words:
            self.pos = m.end()
            return m.group().lower()
        return None

    def _found(self) -> str:
        if self.at_end():
            return "the end of the line"
        return repr(self.text[self.pos : self.pos + 12].split(" ")[0] or self.text[self.pos])

    def end(self) -> None:
        if not self.at_end():
            raise self.error(f"unexpected {self._found()} after the check")

    def column_name(self) -> str:
        """A column: a bare name, or quoted with "..." or `...` (for names with spaces)."""
        self.ws()
        if self.pos < len(self.text) and self.text[self.pos] in "\"`'":
            return self.quoted()
        name = self.word(IDENT)
        if name is None:
            raise self.error(f"expected a column name here, found {self._found()}")
        return name

    def quoted(self) -> str:
        q = self.text[self.pos]
        end = self.text.find(q, self.pos + 1)
        if end < 0:
            raise self.error(f"this quote {q} is never closed")
        s = self.text[self.pos + 1 : end]
        self.pos = end + 1
        return s
