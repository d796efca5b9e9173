"""schedule.toml edited as text, line by line, by the programs that write it (compose, calendar changes,
zones import): every line they do not change stays as it was and where it was, comments included. (A
TOML library that writes the whole file back moves tables about: an [[slots]] entry written after other
tables was moved up to the first.) Values are written as TOML by tomlkit, the only module that knows it."""

from __future__ import annotations

import re

_HEADER = re.compile(r'^\s*\[\[?\s*([A-Za-z0-9_.\-" ]+?)\s*\]\]?\s*(#.*)?$')


class TomlLines:
    """A TOML file's lines, with the edits a writer of schedule.toml needs."""

    def __init__(self, text: str):
        self.lines = text.splitlines()

    def text(self) -> str:
        return "\n".join(self.lines).rstrip("\n") + "\n"

    def blocks(self) -> list[tuple[str, int, int]]:
        """(header, its line, end) of each table in order; ``end`` is the next header's line (or the end)."""
        heads = [(m[1].replace(" ", "").replace('"', ""), i) for i, line in enumerate(self.lines)
                 if (m := _HEADER.match(line))]
        return [(h, i, heads[k + 1][1] if k + 1 < len(heads) else len(self.lines)) for k, (h, i) in enumerate(heads)]

    def table(self, header: str) -> tuple[int, int] | None:
        return next(((s, e) for h, s, e in self.blocks() if h == header and not self._is_array(s)), None)

    def _is_array(self, line: int) -> bool:
        return self.lines[line].lstrip().startswith("[[")

    def set(self, header: str, key: str, value) -> None:
        """``key = value`` in table ``header``: its line (and the lines of an array written over several)
        replaced, a comment after a one-line value kept; or added after the table's last key; the table is
        added at the end of the file if there is none."""
        where = self.table(header)
        if where is None:
            self._insert(len(self.lines), [f"[{header}]", f"{key} = {_value(value)}"])
            return
        start, end = where
        for i in range(start + 1, end):
            if not re.match(rf"^\s*{re.escape(key)}\s*=", self.lines[i]):
                continue
            depth, j = 0, i
            while True:
                code = self.lines[j].split("#")[0]
                depth += code.count("[") - code.count("]")
                if depth <= 0 or j + 1 >= end:
                    break
                j += 1
            m = re.match(r"^(\s*).*?\S(\s+#.*)?$", self.lines[i]) if j == i else None
            comment = m[2] if m and m[2] and '"' not in m[2] and "'" not in m[2] else ""
            self.lines[i:j + 1] = [f"{m[1] if m else ''}{key} = {_value(value)}{comment}"]
            return
        last = max([i for i in range(start + 1, end) if self.lines[i].strip()
                    and not self.lines[i].lstrip().startswith("#")], default=start)
        self.lines.insert(last + 1, f"{key} = {_value(value)}")

    def add_table(self, header: str, values: dict, *, after: str) -> None:
        """A new table ``[header]`` after the last table whose header starts with ``after`` (at the end of
        the file when there is none), set apart by blank lines."""
        ends = [e for h, _s, e in self.blocks() if h.startswith(after) and not self._is_array(_s)]
        self._insert(self._back(ends[-1]) if ends else len(self.lines), [f"[{header}]", *_keys(values)])

    def append(self, name: str, values: dict) -> None:
        """One more ``[[name]]`` entry after the last one (at the end of the file when there is none)."""
        ends = [e for h, s, e in self.blocks() if h == name and self._is_array(s)]
        self._insert(self._back(ends[-1]) if ends else len(self.lines), [f"[[{name}]]", *_keys(values)])

    def _back(self, end: int) -> int:
        """Where a table ending at ``end`` really ends: before the blank lines after it and the comments
        that head the next table."""
        while end > 0 and (not self.lines[end - 1].strip() or self.lines[end - 1].lstrip().startswith("#")):
            end -= 1
        return end

    def _insert(self, at: int, new: list[str]) -> None:
        before = [""] if at > 0 and self.lines[at - 1].strip() else []
        after = [""] if at < len(self.lines) and self.lines[at].strip() else []
        self.lines[at:at] = [*before, *new, *after]


def _keys(values: dict) -> list[str]:
    return [f"{k} = {_value(v)}" for k, v in values.items() if v is not None]


def _value(v) -> str:
    import tomlkit
    return tomlkit.item(v).as_string()
