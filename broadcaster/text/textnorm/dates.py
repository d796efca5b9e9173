"""Dates and times: 04/8/2020, 01-15/8, tháng 8/2020, 14h30, 9g30, 7h30 - 11h00."""

from __future__ import annotations

import re

from broadcaster.text.textnorm.core import Match, rule
from broadcaster.text.textnorm.numbers import month_words, number_words

# words after which a d/m pair is a date, not a fraction
DATE_CUES = {"ngày", "mồng", "mùng", "từ", "đến", "tới", "hôm", "sáng", "chiều", "tối", "trưa", "đêm",
             "trước", "hạn", "hết", "kể", "nay"}
# words that continue a list of dates only when a date was just said (1/5 và 2/9)
LIST_CUES = {"và", "hoặc", "đến", "tới"}
_DATE_BEFORE = re.compile(r"(?:\d{1,2}/\d{1,2}(?:/\d{2,4})?|tháng\s+\w+(?:\s+năm\s+\w+)?)[\s,]+"
                          r"(?:và|hoặc|đến|tới)\s*$", re.IGNORECASE)
_NO_NGAY = {"ngày", "mồng", "mùng"}


def _valid(d: int, m: int) -> bool:
    return 1 <= d <= 31 and 1 <= m <= 12


def _day(d: int, m: Match, first: bool = True) -> str:
    """'ngày D' unless the text already says ngày/mồng just before."""
    said = first and m.before() and m.before()[0] in _NO_NGAY
    return number_words(d) if said else f"ngày {number_words(d)}"


def _year(y: str) -> str:
    return number_words(int(y) if len(y) == 4 else 2000 + int(y))


@rule("date range", r"(?<![\d/.,])(\d{1,2})\s?[-–]\s?(\d{1,2})\s?/\s?(\d{1,2})(?:\s?/\s?(\d{4}))?(?![\d/])")
def date_range(m: Match) -> str | None:
    d1, d2, mo = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not (_valid(d1, mo) and _valid(d2, mo) and d1 < d2):
        return None
    words = f"{_day(d1, m)} đến {number_words(d2)} tháng {month_words(mo)}"
    return words + (f" năm {_year(m.group(4))}" if m.group(4) else "")


@rule("date", r"(?<![\d/.,-])(\d{1,2})([/.-])(\d{1,2})\2(\d{4})(?![\d/.]\d)")
def full_date(m: Match) -> str | None:
    d, mo = int(m.group(1)), int(m.group(3))
    if not _valid(d, mo):
        return None
    return f"{_day(d, m)} tháng {month_words(mo)} năm {_year(m.group(4))}"


@rule("day-month range", r"(?<![\d/.,])(\d{1,2})/(\d{1,2})\s*[-–]\s*(\d{1,2})/(\d{1,2})(?![\d/])")
def day_month_range(m: Match) -> str | None:
    d1, m1, d2, m2 = (int(m.group(i)) for i in range(1, 5))
    if not (_valid(d1, m1) and _valid(d2, m2)):
        return None
    return f"{_day(d1, m)} tháng {month_words(m1)} đến ngày {number_words(d2)} tháng {month_words(m2)}"


@rule("month and year", r"(?<![\d/.,])(\d{1,2})\s?/\s?(\d{4})(?![\d/])")
def month_year(m: Match) -> str | None:
    mo = int(m.group(1))
    if not 1 <= mo <= 12:
        return None
    prefix = "" if m.before() and m.before()[0] == "tháng" else "tháng "
    return f"{prefix}{month_words(mo)} năm {number_words(int(m.group(2)))}"


@rule("day and month", r"(?<![\d/.,])(\d{1,2})/(\d{1,2})(?![\d/]|,\d)")
def day_month(m: Match) -> str | None:
    d, mo = int(m.group(1)), int(m.group(2))
    if not _valid(d, mo):
        return None
    before = m.before(6)
    cue = before and before[-1] in DATE_CUES
    listed = before and before[-1] in LIST_CUES and _DATE_BEFORE.search(m.text_before)
    if not (cue or listed):
        return None  # no date cue: left for the fraction rule (3/10 xã)
    return f"{_day(d, m)} tháng {month_words(mo)}"


@rule("month", r"(?i:(?<![\w])(tháng))\s+(\d{1,2})(?![\d/,.]\d|\d)")
def month(m: Match) -> str | None:
    mo = int(m.group(2))
    return f"{m.group(1)} {month_words(mo)}" if 1 <= mo <= 12 else None


_TIME = r"(\d{1,2})\s?(?:h|giờ|(?=[g:]\d{2})[g:])\s?(\d{2})?(?:\s?(phút|p))?(?![\w:])"


def _time(h: str, mi: str | None, unit: str | None = None) -> str | None:
    """14h30 → mười bốn giờ ba mươi; "phút" is said when the text has it (8 giờ 30 phút)."""
    hour, minute = int(h), int(mi or 0)
    if hour > 24 or minute > 59:
        return None
    return f"{number_words(hour)} giờ" + (f" {number_words(minute)}" + (" phút" if unit else "") if minute else "")


@rule("time", rf"(?<![\d/.,:]){_TIME}(?:\s?[-–]\s?{_TIME})?")
def time_of_day(m: Match) -> str | None:
    first = _time(m.group(1), m.group(2), m.group(3))
    if first is None:
        return None
    if m.group(4) is None:
        return first
    second = _time(m.group(4), m.group(5), m.group(6))
    return f"{first} đến {second}" if second else None
