"""Vietnamese number words, as a careful announcer reads them (Northern formal)."""

from __future__ import annotations

DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
SCALES = ("", "nghìn", "triệu", "tỷ")


def _three(n: int, full: bool) -> list[str]:
    """A group of three digits; ``full`` reads leading zeros (không trăm, linh)."""
    h, t, u = n // 100, n // 10 % 10, n % 10
    words: list[str] = []
    if h or full:
        words += [DIGITS[h], "trăm"]
    if t == 0:
        if u and (h or full):
            words.append("linh")
    elif t == 1:
        words.append("mười")
    else:
        words += [DIGITS[t], "mươi"]
    if u:
        if u == 1 and t >= 2:
            words.append("mốt")
        elif u == 5 and t >= 1:
            words.append("lăm")
        else:
            words.append(DIGITS[u])
    return words


def number_words(n: int) -> str:
    """105 → một trăm linh năm; 1061 → một nghìn không trăm sáu mươi mốt."""
    if n < 0:
        return "âm " + number_words(-n)
    if n == 0:
        return "không"
    if n >= 10 ** 12:
        # read in blocks of a billion (tỷ): 1 500 000 000 000 → một nghìn năm trăm tỷ
        high, low = divmod(n, 10 ** 9)
        rest = number_words(low) if low else ""
        if low and low < 10 ** 8:
            rest = _full_lead(low, 3)
        return " ".join(w for w in (number_words(high), "tỷ", rest) if w)
    groups = []
    while n:
        n, g = divmod(n, 1000)
        groups.append(g)
    words: list[str] = []
    for i in range(len(groups) - 1, -1, -1):
        g = groups[i]
        if g == 0:
            continue
        words += _three(g, full=i < len(groups) - 1)
        if SCALES[i]:
            words.append(SCALES[i])
    return " ".join(words)


def _full_lead(n: int, ngroups: int) -> str:
    # a lower part after "tỷ" read with its leading zero groups skipped but "không trăm" kept
    words: list[str] = []
    for i in range(ngroups - 1, -1, -1):
        g = n // 1000 ** i % 1000
        if g:
            words += _three(g, full=True)
            if SCALES[i]:
                words.append(SCALES[i])
    return " ".join(words)


def digits_words(s: str) -> str:
    """Read digit by digit: "115" → một một năm."""
    return " ".join(DIGITS[int(c)] for c in s if c.isdigit())


def decimal_words(integer: str, fraction: str) -> str:
    """45,5 → bốn mươi lăm phẩy năm; 2,05 → hai phẩy không năm."""
    head = number_words(int(integer or "0"))
    zeros = len(fraction) - len(fraction.lstrip("0"))
    rest = fraction.lstrip("0")
    tail = " ".join(["không"] * zeros + ([number_words(int(rest))] if rest else []))
    return f"{head} phẩy {tail}"


# A written number: 1.500.000 (dots group thousands), 45,5 (comma is the decimal mark), 2020
NUM = r"\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+(?:,\d+)?"


def read_number(written: str) -> str:
    """Words for a written number (see ``NUM``); long codes with leading zeros digit by digit."""
    integer, _, fraction = written.partition(",")
    integer = integer.replace(".", "")
    if len(integer) > 15 or (len(integer) >= 3 and integer.startswith("0")):
        head = digits_words(integer)
        return head + (" phẩy " + digits_words(fraction) if fraction else "")
    if fraction:
        return decimal_words(integer, fraction)
    return number_words(int(integer))


MONTHS = {4: "tư"}


def month_words(m: int) -> str:
    """tháng 4 → tháng tư; others as numbers (tháng một … tháng mười hai)."""
    return MONTHS.get(m, number_words(m))


def ordinal_words(n: int) -> str:
    """thứ 1 → thứ nhất, thứ 4 → thứ tư, thứ 12 → thứ mười hai."""
    return {1: "nhất", 4: "tư"}.get(n, number_words(n))
