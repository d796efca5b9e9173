"""Find the line of a key in a TOML file, so that errors can say where to look.

``tomllib`` gives values but no positions. This scanner reads the same text and
records the line where each table header and key appears. It understands what
broadcaster's files use (tables, arrays of tables, dotted and quoted keys,
multi-line arrays and strings); for anything fancier it answers with the line of
the enclosing table, which is still the right place to look.
"""

from __future__ import annotations

import re

_BARE = r"[A-Za-z0-9_-]+"
_KEY = rf'(?:{_BARE}|"(?:[^"\\]|\\.)*"|\'[^\']*\')'
_DOTTED = rf"{_KEY}(?:\s*\.\s*{_KEY})*"
_HEADER = re.compile(rf"^\s*(\[\[?)\s*({_DOTTED})\s*\]\]?\s*(?:#.*)?$")
_ASSIGN = re.compile(rf"^\s*({_DOTTED})\s*=")
_PART = re.compile(_KEY)

Path = tuple  # a key path: ("bulletins", "x", "script") or ("slots", 0, "at")


def _split(dotted: str) -> list[str]:
    parts = []
    for m in _PART.finditer(dotted):
        p = m.group(0)
        if p[0] in "\"'":
            p = p[1:-1]
        parts.append(p)
    return parts


class LineIndex:
    """Maps key paths to 1-based line numbers."""

    def __init__(self, text: str):
        self.lines: dict[Path, int] = {}
        counts: dict[Path, int] = {}
        table: tuple = ()
        depth = 0          # open brackets of a multi-line array
        in_string = None   # delimiter of an open multi-line string
        for n, line in enumerate(text.splitlines(), start=1):
            if in_string:
                if line.count(in_string) % 2 == 1:
                    in_string = None
                continue
            if depth:
                depth = max(0, depth + _bracket_balance(line))
                continue
            m = _HEADER.match(line)
            if m:
                parts = tuple(_split(m.group(2)))
                if m.group(1) == "[[":
                    idx = counts.get(parts, 0)
                    counts[parts] = idx + 1
                    table = parts + (idx,)
                else:
                    table = parts
                self.lines.setdefault(table, n)
                continue
            m = _ASSIGN.match(line)
            if m:
                self.lines.setdefault(table + tuple(_split(m.group(1))), n)
                rest = line[m.end():]
                for delim in ('"""', "'''"):
                    if rest.count(delim) % 2 == 1:
                        in_string = delim
                depth = max(0, _bracket_balance(rest))

    def line(self, *path) -> int | None:
        """The line of ``path``, or of its nearest enclosing table that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None


def _bracket_balance(text: str) -> int:
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'', "", text).split("#", 1)[0]
    return text.count("[") - text.count("]")
