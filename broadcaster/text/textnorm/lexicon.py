"""The lexicon: how abbreviations, names, units and symbols are read. Data, not code.

The built-in lexicon (``broadcaster/data/lexicon.toml``) is loaded once; a
project lexicon with the same sections adds entries and wins where both have one.
Keys in capitals match only in capitals (UBND), other keys in any case (Bluezone).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from broadcaster.errors import ConfigError
from broadcaster.text.textnorm.unicode import repair
from broadcaster.i18n import _

SECTIONS = ("acronyms", "words", "issuers", "units", "letters", "symbols", "domains", "places")


@dataclass(frozen=True)
class Entry:
    key: str
    spoken: str
    source: str  # "built-in" or the project lexicon's file name


@dataclass
class Lexicon:
    tables: dict[str, dict[str, Entry]] = field(default_factory=lambda: {s: {} for s in SECTIONS})

    def add(self, section: str, key: str, spoken: str, source: str) -> None:
        self.tables[section][repair(key)] = Entry(repair(key), repair(spoken), source)

    def get(self, section: str, key: str) -> Entry | None:
        table = self.tables[section]
        hit = table.get(key)
        if hit is None and not _all_caps(key):
            hit = self._folded(section).get(key.lower())
        return hit

    def _folded(self, section: str) -> dict[str, Entry]:
        return self.made(f"folded {section}", lambda lex: {k.lower(): e for k, e in lex.tables[section].items()
                                                          if not _all_caps(k)})

    def made(self, key: str, make: Callable[["Lexicon"], Any]) -> Any:
        """``make(self)``, once per lexicon: patterns and tables built from its entries."""
        cache = self.__dict__.setdefault("_made", {})
        if key not in cache:
            cache[key] = make(self)
        return cache[key]

    def phrase_pattern(self) -> re.Pattern | None:
        """One regex for every multi-character acronym and word entry, longest first (built once
        per lexicon by the rule engine, as every pattern made from the lexicon is)."""
        keys = sorted((k for s in ("acronyms", "words") for k in self.tables[s]), key=len, reverse=True)
        if not keys:
            return None
        return re.compile(rf"(?<![\w@./-])(?:{'|'.join(_key_regex(k) for k in keys)})(?![\w@]|[./-]\w)")

    def phrase(self, matched: str) -> Entry | None:
        return self.get("acronyms", matched) or self.get("words", matched)

    def compound(self, token: str, most: int = 3) -> list[Entry] | None:
        """An acronym written as known ones run together (UBMTTQVN = UB + MTTQVN): the fewest
        parts of two or more letters each, at most ``most`` of them; None when there is no such reading."""
        parts = self.made("acronym parts", lambda lex: {k: e for k, e in lex.tables["acronyms"].items()
                                                         if len(k) >= 2 and k.isalpha() and _all_caps(k)})
        best: list[list[Entry] | None] = [[]] + [None] * len(token)
        for end in range(2, len(token) + 1):
            for start in range(end - 2, -1, -1):
                head, entry = best[start], parts.get(token[start:end])
                if head is not None and entry is not None and (best[end] is None or len(head) + 1 < len(best[end])):
                    best[end] = head + [entry]
        found = best[len(token)]
        return found if found and 2 <= len(found) <= most else None


def _all_caps(key: str) -> bool:
    letters = [c for c in key if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters) or key in ("TTg", "nCoV", "SARS-CoV-2")


def _key_regex(key: str) -> str:
    body = re.escape(key).replace(r"\ ", r"\s+")
    return body if _all_caps(key) else f"(?i:{body})"


def _read_toml(path: Path, label: str) -> dict:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as e:
        raise ConfigError(_("cannot read the lexicon: {reason}", reason=e.strerror), where=label) from None
    except UnicodeDecodeError:
        raise ConfigError(_("the lexicon is not UTF-8 text"), where=label, hint=_("save it as UTF-8 in your editor")) from None
    except tomllib.TOMLDecodeError as e:
        msg, _sep, pos = str(e).partition(" (at line ")
        line = pos.split(",")[0] if pos else ""
        raise ConfigError(_("TOML syntax error: {detail}", detail=msg), where=f"{label}:{line}" if line else label,
                          hint=_('each entry is "written" = "spoken" under a [section]')) from None
    return data


def _merge(lex: Lexicon, data: dict, source: str, label: str, lines=None) -> None:
    problems = []
    for section, entries in data.items():
        if section not in SECTIONS:
            problems.append(f"{label}: " + _("unknown section [{section}] (use {sections})", section=section,
                                                  sections=", ".join(SECTIONS)))
            continue
        if not isinstance(entries, dict):
            problems.append(f"{label}: " + _('[{section}] must be a table of "written" = "spoken" entries',
                                                  section=section))
            continue
        for key, spoken in entries.items():
            if not isinstance(spoken, str) or not key.strip():
                line = lines.line(section, key) if lines else None
                where = f"{label}:{line}" if line else label
                problems.append(f"{where}: {section}: " + _('"{key}" must be given a spoken form in quotes', key=key))
                continue
            lex.add(section, key, spoken, source)
    if problems:
        raise ConfigError(problems[0], problems=problems)


@lru_cache(maxsize=1)
def builtin() -> Lexicon:
    lex = Lexicon()
    text = resources.files("broadcaster").joinpath("data/lexicon.toml").read_text(encoding="utf-8")
    _merge(lex, tomllib.loads(text), "built-in", "lexicon.toml")
    return lex


@lru_cache(maxsize=16)
def _project(path: Path, mtime_ns: int) -> Lexicon:
    from broadcaster.tomllines import LineIndex
    label = path.name
    data = _read_toml(path, label)
    lex = Lexicon()
    for section, table in builtin().tables.items():
        lex.tables[section] = dict(table)
    _merge(lex, data, label, label, LineIndex(path.read_text(encoding="utf-8-sig")))
    return lex


def load_lexicon(path: Path | None = None) -> Lexicon:
    """The built-in lexicon, with a project lexicon's entries on top."""
    if path is None:
        return builtin()
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as e:
        raise ConfigError(_("cannot read the lexicon: {reason}", reason=e.strerror), where=str(path)) from None
    return _project(path, mtime)
