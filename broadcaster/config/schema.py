"""The schema of schedule.toml: each key's check and conversion, and the loader that collects problems."""

from __future__ import annotations

import difflib
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from broadcaster.config.model import AUTO_ENGINES, FORMATS, display_path, is_inside, resolve_path
from broadcaster.engines import engine_names
from broadcaster.i18n import _
from broadcaster.tomllines import LineIndex


class _Invalid(Exception):
    pass


def _str(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise _Invalid(_("must be a non-empty text in quotes, not {value}", value=_show(v)))
    return v


def _number(lo: float, hi: float) -> Callable[[Any], float]:
    def check(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _Invalid(_("must be a number, not {value}", value=_show(v)))
        if not lo <= v <= hi:
            raise _Invalid(_("must be between {low} and {high}, not {value}", low=f"{lo:g}", high=f"{hi:g}", value=f"{v:g}"))
        return float(v)
    return check


def _integer(lo: int, hi: int) -> Callable[[Any], int]:
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise _Invalid(_("must be a whole number, not {value}", value=_show(v)))
        if not lo <= v <= hi:
            raise _Invalid(_("must be between {low} and {high}, not {value}", low=lo, high=hi, value=v))
        return v
    return check


def _choice(*options: Any) -> Callable[[Any], Any]:
    def check(v: Any) -> Any:
        if v not in options:
            raise _Invalid(_("must be one of {options}, not {value}", options=", ".join(map(str, options)), value=_show(v)))
        return v
    return check


def _engines(v: Any) -> tuple[str, ...]:
    names = [v] if isinstance(v, str) else v
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise _Invalid(_("must be an engine name or a list of them, not {value}", value=_show(v)))
    known = engine_names()
    out: list[str] = []
    for name in names:
        expanded = AUTO_ENGINES if name == "auto" else (name,)
        for n in expanded:
            if n not in known:
                raise _Invalid(_('"{name}" is not a known engine{suggestion} (choose from auto, {names})',
                                 name=n, suggestion=_suggest(n, known), names=", ".join(sorted(known))))
            if n not in out:
                out.append(n)
    return tuple(out)


def _show(v: Any) -> str:
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return _("a table")
    if isinstance(v, list):
        return _("a list")
    return repr(v)


def _suggest(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return _(' (did you mean "{word}"?)', word=close[0]) if close else ""


_PATH = "path"  # marker: a file path, checked for existence and confinement

TTS_KEYS: dict[str, Any] = {
    "engine": _engines,
    "voice": _str,
    "rate": _number(0.25, 4.0),
    "pitch": _number(-50.0, 50.0),
    "lexicon": _PATH,
}
AUDIO_KEYS: dict[str, Any] = {
    "format": _choice(*FORMATS),
    "sample_rate": _choice(8000, 16000, 22050, 24000, 32000, 44100, 48000),
    "channels": _integer(1, 2),
    "loudness": _number(-40.0, -5.0),
    "true_peak": _number(-12.0, 0.0),
    "jingle_in": _PATH,
    "jingle_out": _PATH,
    "gap": _number(0.0, 30.0),
    "repeat": _integer(1, 20),
}
_FIELD_NAME = {"engine": "engines"}
BULLETIN_KEYS = ("title", "script", "file", *TTS_KEYS, *AUDIO_KEYS)
AUDIO_SUFFIXES = (".mp3", ".wav", ".flac", ".ogg")


class _Loader:
    """Collects problems while converting the parsed TOML into settings."""

    def __init__(self, path: Path, index: LineIndex, allow_outside: bool, root: Path | None = None):
        self.path = path
        self.root = (root or path.parent).resolve()
        self.index = index
        self.allow_outside = allow_outside
        self.problems: list[str] = []

    def problem(self, key: tuple, section: str, message: str) -> None:
        line = self.index.line(*key)
        loc = f"{display_path(self.path)}:{line}" if line else display_path(self.path)
        self.problems.append(f"{loc}: {section}: {message}")

    def unknown_keys(self, table: dict, allowed, key: tuple, section: str) -> None:
        for k in table:
            if k not in allowed:
                self.problem(key + (k,), section,
                             _('unknown key "{key}"{suggestion}', key=k, suggestion=_suggest(k, allowed)))

    def file_path(self, value: Any, key: tuple, section: str, name: str, *, must_exist: str | None = "file"):
        try:
            text = _str(value)
        except _Invalid as e:
            self.problem(key, section, f"{name} {e}")
            return None
        p = resolve_path(self.root, text)
        if not self.allow_outside and not is_inside(p, self.root):
            self.problem(key, section, _('{name} "{path}" is outside the project folder {root} '
                                         "(move it inside, or pass --allow-outside)",
                                         name=name, path=text, root=display_path(self.root)))
            return None
        if must_exist == "file" and not p.is_file():
            what = (_('{name} "{path}" is a folder, not a file') if p.is_dir()
                    else _('{name} "{path}" does not exist'))
            self.problem(key, section, what.format(name=name, path=text))
            return None
        return p

    def settings(self, table: dict, keys: dict, base, key: tuple, section: str, *, only=None):
        """Apply the known keys of ``table`` onto the dataclass ``base``."""
        changes = {}
        for k, check in keys.items():
            if k not in table or (only is not None and k not in only):
                continue
            v = table[k]
            if check is _PATH:
                if v in ("", False):  # explicitly none (e.g. a bulletin without the jingle)
                    changes[k] = None
                    continue
                p = self.file_path(v, key + (k,), section, k)
                if p is not None:
                    changes[k] = p
                continue
            try:
                changes[_FIELD_NAME.get(k, k)] = check(v)
            except _Invalid as e:
                self.problem(key + (k,), section, f"{k} {e}")
                continue
            if k == "voice" and v.endswith(".onnx"):  # a Piper model: a file in the project
                model = self.file_path(v, key + (k,), section, "voice model")
                if model is not None and not Path(f"{model}.json").is_file():
                    self.problem(key + (k,), section, _('voice model "{model}" has no "{model}.json" beside it '
                                                     "(download both files of the voice)", model=v))
                changes["voice"] = str(model) if model else v
        return replace(base, **changes)

    def checked(self, table: dict, checks, key: tuple, section: str) -> dict:
        """{key: checked value} for each (key, check) of ``checks`` present in ``table``; a value
        that fails its check is reported (and left out)."""
        values = {}
        for k, check in checks:
            if k in table:
                try:
                    values[k] = check(table[k])
                except _Invalid as e:
                    self.problem(key + (k,), section, f"{k} {e}")
        return values

    def named_tables(self, data: dict, name: str, kind: str, allowed):
        """The [name.ID] tables: (id, table, key, section) for each, after checking shape and keys."""
        for tid, t in self.table(data, name).items():
            section, key = f"{name}.{tid}", (name, tid)
            if not isinstance(t, dict):
                self.problem(key, section, _("must be a table ([{table}]), not {value}", table=f"{name}.{tid}",
                                              value=_show(t)))
                continue
            if not _valid_id(tid):
                self.problem(key, section, _("an id may use only letters a-z, digits, '-' and '_'"))
            self.unknown_keys(t, allowed, key, section)
            yield tid, t, key, section

    def array_tables(self, data: dict, name: str, allowed):
        """The [[name]] tables: (position, table, key, section) for each, after checking shape and keys."""
        raw = data.get(name, [])
        if not isinstance(raw, list):
            self.problem((name,), name, _("must be written as [[{name}]] tables", name=name))
            return
        for i, t in enumerate(raw):
            key, section = (name, i), f"{name}[{i + 1}]"
            if not isinstance(t, dict):
                self.problem(key, section, _("must be a table ([[{name}]])", name=name))
                continue
            self.unknown_keys(t, allowed, key, section)
            yield i, t, key, section

    def table(self, data: dict, name: str) -> dict:
        v = data.get(name, {})
        if not isinstance(v, dict):
            self.problem((name,), name, _("must be a table ([{table}]), not {value}", table=name, value=_show(v)))
            return {}
        return v


def _valid_id(bid: str) -> bool:
    return bool(bid) and all(c.isascii() and (c.isalnum() or c in "-_") for c in bid)
