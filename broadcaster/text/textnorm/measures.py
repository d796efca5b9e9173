"""Numbers in their many roles: phone numbers, quantities with units, ordinals,
per-unit rates, fractions, ranges, and plain numbers."""

from __future__ import annotations

import re

from broadcaster.text.textnorm.core import Match, lexicon_rule, rule
from broadcaster.text.textnorm.numbers import NUM, digits_words, ordinal_words, read_number

PHONE_CUES = {"gọi", "số", "hotline", "nóng", "thoại", "đài", "đt", "sđt", "liên", "hệ", "qua", "máy", "bàn"}


@rule("hotline", r"(?<![\d.,])(1[89]00)(?:[\s.-]?(\d{2,4}))(?:[\s.-]?(\d{2,4}))?(?![\d])")
def hotline(m: Match) -> str | None:
    groups = [g for g in m.groups() if g]
    if sum(len(g) for g in groups) not in (8, 10):
        return None
    return ", ".join(digits_words(g) for g in groups)


@rule("phone number", r"(?<![\d.,])(?:\+84\s?|0)\d{2,4}(?:[\s.-]?\d{2,4}){1,3}(?![\d])")
def phone(m: Match) -> str | None:
    written = m.group(0)
    national = re.sub(r"^\+84\s?", "0", written)
    digits = re.sub(r"\D", "", national)
    if len(digits) not in (10, 11):
        return None
    groups = re.split(r"[\s.-]", national)
    if len(groups) == 1:  # written without separators: 4-3-3 (or 4-4-3)
        groups = [digits[:4], digits[4:7], digits[7:]] if len(digits) == 10 else [digits[:4], digits[4:8], digits[8:]]
    return ", ".join(digits_words(g) for g in groups if g)


# the emergency lines (111 child protection, 112 rescue, 113 police, 114 fire, 115 ambulance): what a
# notice names them for is calling them, wherever they stand; what may follow one as a count is a noun
SERVICE_LINES = {"111", "112", "113", "114", "115"}
SERVICE_CUES = PHONE_CUES | {"cấp", "cứu", "báo", "hoặc", "tổng", "đài", "trực", "khẩn", "ngay"}
COUNTED = re.compile(r"^\s*[^\W\d_]")   # a word right after the number: it counts something (113 hộ dân)
CALLED_AFTER = {"khi", "để", "ngay", "hoặc", "và", "nếu", "miễn", "trong", "của", "là"}


@rule("service number", r"(?<![\d.,])(11[1-9]|10\d\d)(?![\d.,]\d|\d)")
def service(m: Match) -> str | None:
    """113, 114, 115 … are read digit by digit when they are numbers to call: after a cue (gọi, liên hệ, cấp
    cứu, hoặc …), or as an emergency line standing on its own (at the end, before punctuation or a word such as
    "khi", "ngay"); "113 hộ dân" is a count."""
    if set(m.before(3)) & PHONE_CUES:
        return digits_words(m.group(1))
    if m.group(1) in SERVICE_LINES:
        after = m.after(1)
        counted = COUNTED.match(m.text_after) and after and after[0] not in CALLED_AFTER
        if not counted or set(m.before(2)) & SERVICE_CUES:
            return digits_words(m.group(1))
    return None


@rule("ordinal", r"(?i:(?<![\w])(thứ))\s+(\d{1,3})(?![\d/.,:]\d|\d|h)")
def ordinal(m: Match) -> str:
    return f"{m.group(1)} {ordinal_words(int(m.group(2)))}"


def _unit_alternatives(lexicon, keep=lambda unit: True) -> str:
    units = sorted((u for u in lexicon.tables["units"] if keep(u)), key=len, reverse=True)
    return "|".join(re.escape(u).replace(r"\ ", r"\s") for u in units)


def _unit_pattern(lexicon) -> re.Pattern:
    return re.compile(rf"(?<![\w.,])({NUM})(?:\s?[-–]\s?({NUM}))?\s?({_unit_alternatives(lexicon)})(?![^\W\d_])")


@lexicon_rule("quantity with unit", _unit_pattern)
def quantity(m: Match) -> str | None:
    unit = m.lexicon.get("units", re.sub(r"\s+", " ", m.group(3)))
    if unit is None:
        return None
    amount = read_number(m.group(1))
    if m.group(2):
        amount += " đến " + read_number(m.group(2))
    return f"{amount} {unit.spoken}"


PER_UNITS = ("người|lượt|ngày|đêm|tháng|năm|tuần|giờ|phút|lần|hộ|xe|chiếc|con|tấn|suất|ca|"
             "buổi|ki lô gam|ki lô mét|mét vuông|héc ta|sào|lít|gói|hộp|liều|mũi|trẻ|học sinh|em|thôn|xã|huyện")


def _per_unit_pattern(lexicon) -> re.Pattern:
    # any written unit of the lexicon but a lone capital (A/V is not "per volt")
    written = _unit_alternatives(lexicon, lambda u: not (len(u) == 1 and u.isupper()))
    return re.compile(rf"(?<=[^\W\d_])\s?/\s?(?:({written})|({PER_UNITS}))(?![^\W\d_])")


@lexicon_rule("per unit", _per_unit_pattern)
def per_unit(m: Match) -> str:
    """đ/người → đồng mỗi người; 30.000đ/kg → … mỗi ki lô gam (a unit after the slash is read as a unit)."""
    if m.group(1):
        unit = m.lexicon.get("units", re.sub(r"\s+", " ", m.group(1)))
        return f" mỗi {unit.spoken if unit else m.group(1)} "
    return f" mỗi {m.group(2)} "


@rule("fraction or ratio", r"(?<![\d/.,])(\d+)\s?/\s?(\d+)(?![\d/]|,\d)")
def fraction(m: Match) -> str:
    a, b = m.group(1), m.group(2)
    time_units = {"giờ", "ngày", "tuần", "tháng", "năm"}
    if int(a) < int(b) and not (set(m.after(1)) & time_units):
        return f"{read_number(a)} phần {read_number(b)}"
    return f"{read_number(a)} trên {read_number(b)}"


@rule("range", rf"(?<![\w.,])({NUM})\s?[-–]\s?({NUM})(?![\w.,]\w|\w)")
def number_range(m: Match) -> str:
    return f"{read_number(m.group(1))} đến {read_number(m.group(2))}"


@rule("number", rf"(?<![\d.,])({NUM})(?![\d])")
def number(m: Match) -> str:
    return read_number(m.group(1))


@rule("digits", r"\d+")
def leftover_digits(m: Match) -> str:
    return f" {digits_words(m.group(0))} "
