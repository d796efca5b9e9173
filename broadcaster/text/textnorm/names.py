"""Names and codes: COVID words, roads, web addresses, document numbers, the lexicon,
Roman numerals, and capitals spelt with Vietnamese letter names."""

from __future__ import annotations

import re

from broadcaster.text.textnorm.core import Match, lexicon_rule, rule
from broadcaster.text.textnorm.numbers import DIGITS, number_words, ordinal_words, read_number
from broadcaster.text.textnorm.unicode import is_syllable

UPPER = "A-ZĐÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴ"


def spell(letters: str, m: Match) -> str:
    """Spell capitals (and digits) with Vietnamese names: BN → bê nờ, QL1A → quy lờ một a."""
    out = []
    for c in letters:
        if c.isdigit():
            out.append(DIGITS[int(c)])
            continue
        e = m.lexicon.get("letters", c.upper())
        out.append(e.spoken if e else c.lower())
    return " ".join(out)


# --- COVID and road codes: fixed shapes with digits inside ---------------------

@rule("COVID name", r"(?i)(?<![\w-])covid[\s‐–-]?(\d+)(?!\w)")
def covid(m: Match) -> str:
    return "cô vít " + number_words(int(m.group(1)))


@rule("COVID contact level", r"(?<![\w-])F(\d)(?![\w])")
def f_level(m: Match) -> str:
    return "ép " + DIGITS[int(m.group(1))]


@rule("COVID patient number", r"(?<![\w-])BN\s?(\d+)(?!\w)")
def patient(m: Match) -> str:
    return "bệnh nhân " + number_words(int(m.group(1)))


@rule("slogan (5K)", r"(?<![\w.,-])(\d+)K(?!\w)")
def slogan(m: Match) -> str:
    return number_words(int(m.group(1))) + " ca"


@rule("road", rf"(?<![\w-])(QL|ĐT|TL|ĐH)\.?\s?(\d+)([{UPPER}]?)(?![\w])")
def road(m: Match) -> str:
    name = m.lexicon.get("acronyms", m.group(1))
    words = [name.spoken if name else spell(m.group(1), m), number_words(int(m.group(2)))]
    if m.group(3):
        words.append(spell(m.group(3), m))
    return " ".join(words)


@rule("kilometre post", r"(?<![\w-])(?:Km|KM|km)\s?(\d+)\s?\+\s?(\d+)(?!\w)")
def km_post(m: Match) -> str:
    return f"ki lô mét {number_words(int(m.group(1)))} cộng {number_words(int(m.group(2)))}"


# --- web addresses --------------------------------------------------------------

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"  # a DNS label: at most 63 characters
_TLD = r"(?:vn|com|gov|org|net|edu|info|io|int)"


@rule("web address", rf"(?i)(?<![\w.@/-])(?:https?://)?(?:{_LABEL}\.)+{_TLD}(?:\.vn)?(?:/[\w./?=&%-]*[\w/])?(?![\w.-]*\w)"
      rf"|(?i:https?://)[^\s]+[\w/]|(?<![\w.+-])[\w.+-]{{1,64}}@(?:{_LABEL}\.)+{_TLD}\b")
def web(m: Match) -> str:
    text = re.sub(r"(?i)^https?://", "", m.group(0)).rstrip("/")
    user, at, host = text.rpartition("@")
    host, slash, path = host.partition("/")
    words = []
    if at:
        words += [_label(p, m) for p in re.split(r"[._-]", user) if p] + ["a còng"]
    labels = host.split(".")
    words += [" chấm ".join(_label(p, m) for p in labels)]
    if slash and path:
        words += ["gạch chéo", " gạch chéo ".join(_label(p, m) for p in re.split(r"[/.?=&_-]+", path) if p)]
    return " ".join(words)


def _label(part: str, m: Match) -> str:
    for section in ("domains", "words", "acronyms"):
        e = m.lexicon.get(section, part)
        if e:
            return e.spoken
    if part.isdigit():
        return number_words(int(part)) if len(part) < 5 else " ".join(DIGITS[int(c)] for c in part)
    if is_syllable(part):
        return part.lower()
    if m.lexicon.get("acronyms", part.upper()):   # ubnd@…: a known abbreviation, spelt as announcers do
        return spell(part.upper(), m)
    if part.isalpha() and (named := _named_in_text(part, m)):
        return named   # phongdien.gov.vn of "xã Phong Điền": read with the name's tones, as announcers do
    if part.isalpha() and (syllables := segment(part.lower())):
        m.doubt = m.doubt or "toneless"   # quangdien → quang dien: the tones are the reader's guess
        return " ".join(syllables)
    m.doubt = m.doubt or "spelled"
    return spell(part.upper(), m)


def _bare(word: str) -> str:
    """A word without any mark, as web addresses write it: Điền → dien."""
    import unicodedata
    d = unicodedata.normalize("NFD", word.lower().replace("đ", "d"))
    return "".join(c for c in d if not unicodedata.combining(c))


def _named_in_text(part: str, m: Match) -> str | None:
    """Up to four words of the same line that, without their marks and run together, are ``part``."""
    words, target = re.findall(r"[^\W\d_]+", m.m.string), part.lower()
    for i in range(len(words)):
        run = ""
        for j in range(i, min(i + 4, len(words))):
            run += _bare(words[j])
            if run == target and any(w != _bare(w) for w in words[i:j + 1]):
                return " ".join(w.lower() for w in words[i:j + 1])
            if not target.startswith(run):
                break
    return None


def segment(word: str) -> list[str] | None:
    """Split a run of toneless letters into the fewest Vietnamese syllables, if it can be."""
    best: list[list[str] | None] = [[]] + [None] * len(word)
    for end in range(1, len(word) + 1):
        for start in range(max(0, end - 7), end):
            head = best[start]
            if head is not None and is_syllable(word[start:end]):
                if best[end] is None or len(head) + 1 < len(best[end]):
                    best[end] = head + [word[start:end]]
    return best[-1]


# --- document numbers: số 135/QĐ-TTg → một trăm ba mươi lăm của Thủ tướng Chính phủ ---

_CODE = rf"[{UPPER}][A-Za-zĐđ{UPPER.lower()}&]*(?:-[{UPPER}][A-Za-zĐđ&]*)*"
_DATE_AHEAD = re.compile(r"^[\s,]*(?:ngày\s+\d{1,2}\s*[/.-]\s*\d{1,2}\s*[/.-]\s*\d{2,4}[\s,]*)?của\b")


@rule("document number", rf"(?<![\w/.,])(\d+)(?:\s?/\s?(\d{{4}}))?\s?/\s?({_CODE})(?![\w/])")
def document(m: Match) -> str:
    words = [read_number(m.group(1))]
    if m.group(2):
        words += ["năm", number_words(int(m.group(2)))]
    issuer = next((e for part in m.group(3).split("-") if (e := m.lexicon.get("issuers", part))), None)
    if issuer and not _DATE_AHEAD.match(m.text_after):
        words += ["của", issuer.spoken]
    return " ".join(words)


# --- the lexicon: acronyms, brands and words that engines get wrong ----------------

@rule("unit before a place name",
      rf"(?<![\w.])([{UPPER}][{UPPER}a-z]*\.?)(?=\s+[{UPPER}][a-zà-ỹ]|(?<=\.)[{UPPER}][a-zà-ỹ])")
def place_unit(m: Match) -> str | None:
    """P. Phong Quảng → phường Phong Quảng, X. Đan Điền → xã, ĐK Côn Đảo → đặc khu: short forms that
    are a unit only before a name (lexicon [places]), written with a space or glued to it after the dot
    as people type them (P.An Cựu, TT.Sịa); anywhere else they are left to the other rules."""
    e = m.lexicon.get("places", m.group(1))
    return e.spoken if e else None


@lexicon_rule("lexicon", lambda lex: lex.phrase_pattern())
def lexicon(m: Match) -> str | None:
    e = m.lexicon.phrase(re.sub(r"\s+", " ", m.group(0)))
    if e is None:
        return None
    m.rule_note = f"lexicon: {e.key} ({e.source})"
    return e.spoken


# --- Roman numerals after the words that take them ---------------------------------

ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}
_ROMAN_CONTEXT = r"quý|khóa|khoá|thứ|chương|phần|mục|kỷ|kỳ|tập|đợt|giai đoạn|đại hội|hội nghị|lớp|vòng|cấp|tiết"


def roman_value(s: str) -> int | None:
    total = 0
    for a, b in zip(s, s[1:] + " "):
        v = ROMAN[a]
        total += -v if b != " " and ROMAN[b] > v else v
    return total if 0 < total < 400 and _to_roman(total) == s else None


def _to_roman(n: int) -> str:
    out = ""
    for v, s in ((100, "C"), (90, "XC"), (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= v:
            out += s
            n -= v
    return out


@rule("Roman numeral", rf"(?i:(?<![\w])({_ROMAN_CONTEXT}))\s+([IVXLC]+)(?:\s?/\s?(\d{{4}}))?(?![\w])")
def roman(m: Match) -> str | None:
    n = roman_value(m.group(2))
    if n is None:
        return None
    context = m.group(1)
    words = [context, ordinal_words(n) if context.lower() == "thứ" else number_words(n)]
    if m.group(3):
        words += ["năm", number_words(int(m.group(3)))]
    return " ".join(words)


# --- capitals: Vietnamese words in capitals are read, other capitals are spelt ------

@rule("letters and digits", rf"(?<![\w])(?=[{UPPER}\d]*\d)(?=[{UPPER}\d]*[{UPPER}])[{UPPER}\d]+(?![\w])")
def alnum(m: Match) -> str:
    # H5N1 → hát năm nờ một, 49B → bốn mươi chín bê
    parts = re.findall(r"\d+|\D+", m.group(0))
    return " ".join(read_number(p) if p.isdigit() and len(p) < 5 else spell(p, m) for p in parts)


@rule("capitals spelt", rf"(?<![\w])[{UPPER}]+(?![\w])")
def capitals(m: Match) -> str | None:
    token = m.group(0)
    known = m.lexicon.get("acronyms", token)
    if known:  # an acronym that only now stands alone (CA1 → CA một)
        m.rule_note = f"lexicon: {known.key} ({known.source})"
        return known.spoken
    if len(token) >= 2 and is_syllable(token) and token.lower() not in ("ph", "th"):
        return None  # KÍNH THƯA: an ordinary word in capitals
    if len(token) == 1 and is_syllable(token):
        return None  # Ở, Ý, Y (tế): a one-letter word, or a vowel whose name is its sound
    parts = m.lexicon.compound(token) if len(token) >= 4 else None
    if parts:  # UBMTTQVN: Ủy ban + Mặt trận Tổ quốc Việt Nam
        m.rule_note = "lexicon: " + " + ".join(f"{e.key} ({e.source})" for e in parts)
        return " ".join(e.spoken for e in parts)
    if len(token) >= 2:
        m.doubt = "spelled"   # an abbreviation no lexicon knows: spelt, which may not be how it is said
    return spell(token, m)


# --- symbols ----------------------------------------------------------------------

@rule("symbol", r"[&+=@~><≥≤×÷°#$€№%]|/")
def symbol(m: Match) -> str:
    if m.group(0) == "/":
        return " "
    if m.group(0) == "%":
        return " phần trăm "
    e = m.lexicon.get("symbols", m.group(0))
    return f" {e.spoken} " if e else " "
