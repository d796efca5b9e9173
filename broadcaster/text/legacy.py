"""Old Vietnamese 8-bit encodings (TCVN3/ABC, VNI-Windows) → Unicode, and telling them apart.

Old documents still arrive typed in .VnTime (TCVN3) or VNI-Times fonts. Their bytes
are valid Windows-1252/1258, so decoding cannot fail: instead each candidate
reading is scored by how many of its words are real Vietnamese syllables.
Tables: ``data/encodings.toml``.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from functools import lru_cache
from importlib import resources

from broadcaster.text.textnorm.unicode import is_syllable

LABELS = {"tcvn3": "TCVN3 (ABC, .VnTime)", "vni": "VNI-Windows (VNI-Times)", "cp1258": "Windows-1258"}
_VOWEL = "aăâeêioôơuưyAĂÂEÊIOÔƠUƯY"
_WORD = re.compile(r"[^\W\d_]+")


@lru_cache(maxsize=1)
def _tables() -> dict:
    text = resources.files("broadcaster").joinpath("data/encodings.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    tcvn3 = {int(k, 16): v for k, v in data["tcvn3"].items()}
    vni_letters = {int(k, 16): v for k, v in data["vni"]["letters"].items()}
    vni_marks = {int(k, 16): v for k, v in data["vni"]["marks"].items()}
    return {"tcvn3": tcvn3, "vni_letters": vni_letters, "vni_marks": vni_marks}


def decode_tcvn3(data: bytes) -> str:
    table = _tables()["tcvn3"]
    return unicodedata.normalize("NFC", "".join(table.get(b) or bytes([b]).decode("cp1252", "replace")
                                                for b in data))


def decode_vni(data: bytes) -> str:
    t = _tables()
    letters, marks = t["vni_letters"], t["vni_marks"]
    out: list[str] = []
    for b in data:
        if b in marks and out and out[-1][:1] in _VOWEL:
            out[-1] += marks[b]
        elif b in letters:
            out.append(letters[b])
        else:
            out.append(bytes([b]).decode("cp1252", "replace"))
    return unicodedata.normalize("NFC", "".join(out))


def _score(text: str) -> float:
    """Share of non-ASCII words that are well-formed Vietnamese syllables."""
    words = [w for w in _WORD.findall(text) if not w.isascii()]
    if not words:
        return 0.0
    return sum(is_syllable(w) for w in words) / len(words)


def decode_legacy(data: bytes) -> tuple[str, str]:
    """Decode bytes that are not UTF-8: (text, encoding) for the most Vietnamese-looking reading."""
    candidates = {
        "cp1258": unicodedata.normalize("NFC", data.decode("cp1258", errors="replace")),
        "tcvn3": decode_tcvn3(data),
        "vni": decode_vni(data),
    }
    best = max(candidates, key=lambda k: (_score(candidates[k]), k == "cp1258"))
    return candidates[best], best
