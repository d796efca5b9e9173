"""Old 8-bit encodings: TCVN3 (.VnTime) and VNI-Windows scripts become the same Unicode text."""

from __future__ import annotations

import unicodedata

import pytest

from broadcaster.text.legacy import _tables, decode_legacy
from broadcaster.text.scripts import read_script
from tests.conftest import REPO

# Hand-encoded from the published code tables, independently of broadcaster's data file.
HAND_ENCODED = [
    ("tcvn3", b"Th\xabng b\xb8o c\xf1a UBND huy\xd6n Qu\xb6ng \xa7i\xd2n", "Thông báo của UBND huyện Quảng Điền"),
    ("tcvn3", b"ng\xad\xeai d\xa9n c\xb5i \xae\xc6t \xf8ng d\xf4ng", "người dân cài đặt ứng dụng"),
    ("vni", b"Tho\xe2ng ba\xf9o cu\xfba UBND huye\xe4n Qua\xfbng \xd1ie\xe0n", "Thông báo của UBND huyện Quảng Điền"),
    ("vni", b"ng\xf6\xf4\xf8i da\xe2n ca\xf8i \xf1a\xebt \xf6\xf9ng du\xefng", "người dân cài đặt ứng dụng"),
    ("vni", b"\xd1E\xc0 NGH\xd2 TO\xc0AN TH\xc8\xc5", None),  # capitals: checked below
]


@pytest.mark.parametrize("encoding,data,text", [h for h in HAND_ENCODED if h[2]])
def test_hand_encoded_bytes_decode_and_are_detected(encoding, data, text):
    assert decode_legacy(data) == (text, encoding)


def encode_tcvn3(text: str) -> bytes:
    inverse = {v: k for k, v in _tables()["tcvn3"].items()}
    return b"".join(bytes([inverse[c]]) if c in inverse else c.encode("ascii") for c in text)


def encode_vni(text: str) -> bytes:
    t = _tables()
    letters = {v: k for k, v in t["vni_letters"].items()}
    def key(marks: str) -> str:  # combining marks in canonical order, as NFD gives them
        return unicodedata.normalize("NFD", "a" + marks)[1:]
    marks_lower = {key(v): k for k, v in t["vni_marks"].items() if k >= 0xE0}
    marks_upper = {key(v): k for k, v in t["vni_marks"].items() if k < 0xE0}
    out = b""
    for c in text:
        if c in letters:
            out += bytes([letters[c]])
        elif c.isascii():
            out += c.encode("ascii")
        else:
            d = unicodedata.normalize("NFD", c)
            base, marks = d[0], d[1:]
            if "\u031b" in marks:  # horn: ơ ư are whole letters in VNI, the tone follows
                base = unicodedata.normalize("NFC", base + "\u031b")
                marks = marks.replace("\u031b", "")
                out += bytes([letters[base]])
            else:
                out += base.encode("ascii")
            if marks:
                table = marks_upper if base.isupper() else marks_lower
                out += bytes([table[marks]])
    return out


def test_vni_capitals():
    assert decode_legacy(encode_vni("ĐỀ NGHỊ TOÀN THỂ"))[0] == "ĐỀ NGHỊ TOÀN THỂ"


@pytest.mark.parametrize("encoding,encode", [("tcvn3", encode_tcvn3), ("vni", encode_vni)])
def test_sample_script_in_old_encodings_reads_like_its_utf8_original(tmp_path, encoding, encode):
    original = read_script(REPO / "scripts" / "bluezone_cai_dat.txt")
    text = (REPO / "scripts" / "bluezone_cai_dat.txt").read_text(encoding="utf-8")
    if encoding == "tcvn3":  # TCVN3 has no capitals with tone marks (they came from a capitals font)
        text = "".join(c if c.isascii() or c in "ĂÂÊÔƠƯĐ" or not c.isupper() else c.lower() for c in text)
        original = read_script(_write(tmp_path / "orig.txt", text.encode("utf-8")))
    legacy = read_script(_write(tmp_path / f"{encoding}.txt", encode(text)))
    assert legacy.text == original.text
    assert legacy.encoding == encoding
    assert any("converted from the old" in n for n in legacy.notices)


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_plain_windows_1258_is_still_read_as_windows_1258(tmp_path):
    from tests.test_scripts import TEXT, to_cp1258
    script = read_script(_write(tmp_path / "s.txt", to_cp1258(TEXT)))
    assert script.encoding == "cp1258" and "Quảng An" in script.text
