"""Properties of the normaliser over any input (hypothesis)."""

from __future__ import annotations

import re
import string

from hypothesis import example, given, settings
from hypothesis import strategies as st

from broadcaster.text.textnorm import Normalizer

N = Normalizer()
DIGIT = re.compile(r"\d")

# text that looks like announcements: Vietnamese letters, digits and the symbols they use
announcement_alphabet = st.sampled_from(
    list(string.ascii_letters + string.digits + " .,:;/-–+%&@()") +
    list("àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵĐ°²"))
announcement_text = st.text(announcement_alphabet, max_size=80)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=60), announcement_text))
@example("１２３ ٣ ᭓ 5h30 1/2 12/2020")
@example("1" * 40)
@example("0h 24/24 99:99 1.2.3.4.5 1,2,3 -5 +84 0")
def test_any_text_gives_words_without_digits_and_never_raises(text):
    out = N.normalize(text)
    assert not DIGIT.search(out), out


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=60), announcement_text))
def test_one_line_in_one_line_out(text):
    out = N.normalize(text.replace("\n", " "))
    assert "\n" not in out and "\r" not in out and len(out.splitlines()) <= 1


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=60), announcement_text))
@example("Gọi 115 hoặc 0905 123 456 lúc 14h30 ngày 04/8/2020, Covid-19 F0 UBND XYZ www.a.vn")
def test_normalising_twice_changes_nothing(text):
    once = N.normalize(text)
    assert N.normalize(once) == once
