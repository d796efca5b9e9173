"""Reading an editor's announcement script.

Editors write in whatever they have: Notepad (UTF-8, or UTF-16 when saved as
"Unicode"), Word exports in Windows-1258, old documents in TCVN3 or VNI.
Whatever the bytes, the text becomes NFC Unicode first. Lines starting with
``#`` are editor's notes; a blank line ends a paragraph (a longer pause).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from broadcaster.errors import ScriptError
from broadcaster.fsutil import sha256_text
from broadcaster.text.legacy import LABELS, decode_legacy
from broadcaster.i18n import _

MAX_BYTES = 2_000_000  # an announcement is a few pages; this is a book
MAX_SENTENCE = 2_000  # characters: a long legal sentence is a few hundred

# Words ending in "." that do not end a sentence (TP. Huế, TT. Sịa, ThS. Lê …)
ABBREVIATIONS = frozenset("""TP Tp tp TT Tt TX Tx Q P Ph ThS TS PGS GS BS KS CN Th.S St Mr Mrs Ms Dr""".split())
_BULLET = re.compile(r"^\s*(?:[-–•+*]|\d{1,2}[.)]|[a-zđ][.)])\s+")
_SENTENCE_END = re.compile(r"[.!?…]+[\"”’)\]]*(?=\s)")


@dataclass(frozen=True)
class Sentence:
    text: str
    line: int


@dataclass(frozen=True)
class Script:
    path: Path
    encoding: str
    paragraphs: tuple[tuple[Sentence, ...], ...]
    notices: tuple[str, ...] = ()

    @property
    def sentences(self) -> list[Sentence]:
        return [s for p in self.paragraphs for s in p]

    @property
    def text(self) -> str:
        """The readable text, one sentence a line, a blank line between paragraphs."""
        return "\n\n".join("\n".join(s.text for s in p) for p in self.paragraphs)

    @property
    def text_sha256(self) -> str:
        return sha256_text(self.text)


def read_script(path: Path, *, display: str | None = None) -> Script:
    """Read, decode and split a script file; ScriptError names the file and what to do."""
    where = f"{display or path}:1"  # file-level problems point at its first line
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ScriptError(_("is too large for an announcement ({size} kB)", size=path.stat().st_size // 1000),
                              where=where, hint=_("split it into several bulletins"))
        data = path.read_bytes()
    except FileNotFoundError:
        raise ScriptError(_("does not exist"), where=where,
                          hint=_("check the script path in schedule.toml")) from None
    except IsADirectoryError:
        raise ScriptError(_("is a folder, not a text file"), where=where) from None
    except OSError as e:
        raise ScriptError(_("cannot be read: {reason}", reason=e.strerror), where=where) from None
    text, encoding, notices = decode_text(data, where=where)
    paragraphs = split_paragraphs(text)
    if not paragraphs:
        raise ScriptError(_("has nothing to read (it is empty or only has # notes)"),
                          where=where, hint=_("write the announcement text in it"))
    for p in paragraphs:
        for sentence in p:
            if len(sentence.text) > MAX_SENTENCE:
                raise ScriptError(_("has a sentence of {count} characters; a voice reads at most {most} at once",
                                    count=len(sentence.text), most=MAX_SENTENCE),
                                  where=f"{display or path}:{sentence.line}",
                                  hint=_("split it into shorter sentences with full stops"))
    return Script(path, encoding, paragraphs, notices)


def decode_text(data: bytes, *, where: str) -> tuple[str, str, tuple[str, ...]]:
    """Bytes → NFC text, the encoding it was in, and notices for the editor."""
    notices: list[str] = []
    encoding = _sniff(data)
    if encoding is None:
        raise ScriptError(_("is not a text file (it looks like binary data)"), where=where,
                          hint=_("save the announcement as plain text (.txt) in Notepad"))
    if encoding == "legacy":
        text, encoding = decode_legacy(data)
        notices.append(_("converted from the old {encoding} encoding to Unicode; "
                         "save it as UTF-8 (Unicode) to avoid this", encoding=LABELS[encoding]))
    else:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as e:  # a UTF-16 file cut short, or damaged on a disk
            raise ScriptError(_("is damaged: not readable as {encoding} near byte {byte}", encoding=encoding.upper(),
                                byte=e.start), where=where,
                              hint=_("open it in Notepad and save it again as UTF-8")) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    controls = sum(1 for c in text if unicodedata.category(c) == "Cc" and c not in "\n\t\f")
    if controls > max(2, len(text) // 100):
        raise ScriptError(_("is not a text file (it has many control characters)"), where=where,
                          hint=_("save the announcement as plain text (.txt) in Notepad"))
    return unicodedata.normalize("NFC", text), encoding, tuple(notices)


def _sniff(data: bytes) -> str | None:
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if b"\x00" in data:
        # UTF-16 without a BOM: every other byte is zero for mostly-ASCII text
        even, odd = data[0::2], data[1::2]
        if len(data) % 2 == 0 and odd.count(0) > len(odd) * 0.3 and even.count(0) < len(even) * 0.05:
            return _try(data, "utf-16-le")
        if len(data) % 2 == 0 and even.count(0) > len(even) * 0.3 and odd.count(0) < len(odd) * 0.05:
            return _try(data, "utf-16-be")
        return None
    if _try(data, "utf-8"):
        return "utf-8"
    return "legacy"  # Windows-1258, TCVN3 or VNI: decided by which reads as Vietnamese


def _try(data: bytes, encoding: str) -> str | None:
    try:
        data.decode(encoding)
        return encoding
    except UnicodeDecodeError:
        return None


def split_paragraphs(text: str) -> tuple[tuple[Sentence, ...], ...]:
    """Text → paragraphs of sentences, each with the line it starts on."""
    paragraphs: list[tuple[Sentence, ...]] = []
    block: list[tuple[int, str]] = []

    def flush() -> None:
        sentences = tuple(s for n, line in _units(block) for s in split_sentences(line, n))
        if sentences:
            paragraphs.append(sentences)
        block.clear()

    for n, raw in enumerate(text.split("\n"), start=1):
        line = " ".join(raw.split())
        if line.startswith("#"):
            continue
        if not line:
            flush()
            continue
        block.append((n, line))
    flush()
    return tuple(paragraphs)


def _units(block: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Join wrapped lines; a bullet or a line after a finished sentence starts a new unit."""
    units: list[tuple[int, str]] = []
    for n, line in block:
        if units and not _BULLET.match(line) and not units[-1][1].endswith((".", "!", "?", "…", ":", ";")):
            units[-1] = (units[-1][0], units[-1][1] + " " + line)
        else:
            units.append((n, line))
    return units


def split_sentences(text: str, line: int = 1) -> list[Sentence]:
    """Split at . ! ? … followed by a space, except after abbreviations such as "TP."."""
    out: list[Sentence] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        before = text[start:m.start()].rsplit(" ", 1)[-1]
        if m.group(0) == "." and (before in ABBREVIATIONS or before.isdigit() and len(before) <= 2
                                  and not text[start:m.start()].strip(" ").count(" ")):
            continue
        piece = text[start:m.end()].strip()
        if piece:
            out.append(Sentence(piece, line))
        start = m.end()
    tail = text[start:].strip()
    if tail:
        out.append(Sentence(tail, line))
    return [s for s in out if any(c.isalnum() for c in s.text)]
