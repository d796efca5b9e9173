"""Teaching the reading from the console: one entry of the project's lexicon ("XYZ" is said "…").

The project's lexicon is the file ``[tts] lexicon`` names (a bulletin's own first, as the console's reading
takes it); a project without one gets ``lexicon.toml`` beside schedule.toml, and schedule.toml its
``lexicon = "lexicon.toml"`` line. Written under the project's one lock; the new lexicon is read back as
every command reads it before it replaces the old one, so a bad entry leaves nothing behind.
"""

from __future__ import annotations

import re
from pathlib import Path

from broadcaster.errors import ConfigError
from broadcaster.i18n import _

SECTIONS = ("acronyms", "words", "domains")   # what an officer teaches: abbreviations, words, web names
MAX_WRITTEN, MAX_SPOKEN = 40, 200
_SPOKEN = re.compile(r"[^\W\d_]+(?:[ ,'-]+[^\W\d_]+)*")


def project_lexicon(cfg) -> Path | None:
    """The lexicon the console reads scripts with and teaches into: a bulletin's own first, else [tts]'s."""
    return next((b.tts.lexicon for b in cfg.bulletins.values() if b.tts.lexicon), cfg.tts.lexicon)


def check_entry(section: str, written: str, spoken: str, lang: str | None = None) -> dict[str, str]:
    """What is wrong with an entry, by field (empty: nothing)."""
    bad = {}
    if section not in SECTIONS:
        bad["section"] = _("choose what it is: an abbreviation, a word or part of a web address", lang)
    if not written or len(written) > MAX_WRITTEN or not written.isprintable() or written != written.strip():
        bad["written"] = _("write the word as it is written (1 to {n} characters)", lang, n=MAX_WRITTEN)
    elif section == "acronyms" and written != written.upper():
        bad["written"] = _("an abbreviation is written in capitals (it is matched only so)", lang)
    elif section == "domains" and not re.fullmatch(r"[a-z0-9-]+", written):
        bad["written"] = _("a part of a web address: small letters, digits and '-' only (phongdien)", lang)
    if len(spoken) > MAX_SPOKEN or not _SPOKEN.fullmatch(spoken):
        bad["spoken"] = _("write how it is said in words (letters and spaces, at most {n})", lang, n=MAX_SPOKEN)
    return bad


def teach(cfg, load, section: str, written: str, spoken: str) -> Path:
    """Write ``written`` = ``spoken`` into the project's lexicon (made if there is none); its path. ``load``
    reads a schedule.toml as every command does (a new ``[tts] lexicon`` line is checked with it)."""
    from broadcaster.fsutil import project_lock
    with project_lock(cfg.path):
        return _teach(cfg, load, section, written, spoken)


def _teach(cfg, load, section: str, written: str, spoken: str) -> Path:
    import tomlkit
    from broadcaster.config.model import display_path
    from broadcaster.config.tomledit import TomlLines
    from broadcaster.fsutil import atomic_path
    from broadcaster.text.textnorm import load_lexicon
    path = project_lexicon(cfg)
    made = path is None
    path = path or cfg.path.parent / "lexicon.toml"
    doc = tomlkit.parse(path.read_text(encoding="utf-8-sig")) if path.is_file() else tomlkit.document()
    if section not in doc:
        doc[section] = tomlkit.table()
    doc[section][written] = spoken
    with atomic_path(path) as tmp:
        tmp.write_text(tomlkit.dumps(doc), encoding="utf-8")
        try:
            load_lexicon(tmp)
        except ConfigError as e:
            raise ConfigError(e.message.replace(display_path(tmp), display_path(path))) from None
    if made and cfg.tts.lexicon is None:   # schedule.toml learns where it is, line by line
        text = cfg.path.read_text(encoding="utf-8-sig")
        lines = TomlLines(text)
        lines.set("tts", "lexicon", path.name)
        try:
            with atomic_path(cfg.path) as tmp:
                tmp.write_text(lines.text(), encoding="utf-8")
                load(tmp)
        except ConfigError:
            path.unlink(missing_ok=True)
            raise
    return path
