"""Reading editors' scripts: encodings, notes, paragraphs, sentences, and what is not a script."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broadcaster.errors import ScriptError
from broadcaster.text.scripts import decode_text, read_script, split_sentences

TONES = "\u0300\u0301\u0303\u0309\u0323"


def to_cp1258(text: str) -> bytes:
    """Encode as Word does in Windows-1258: precomposed base letters, combining tone marks."""
    out = b""
    for ch in text:
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            d = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize("NFC", "".join(c for c in d if c not in TONES))
            out += (base + "".join(c for c in d if c in TONES)).encode("cp1258")
    return out


TEXT = "Kính thưa bà con.\n\nThôn 3, xã Quảng An tổ chức tiêm phòng. Đề nghị bà con thực hiện!\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1258"])
def test_every_editor_encoding_reads_to_the_same_nfc_text(tmp_path, encoding):
    path = tmp_path / "s.txt"
    path.write_bytes(to_cp1258(TEXT) if encoding == "cp1258" else TEXT.encode(encoding))
    script = read_script(path)
    assert script.text == "Kính thưa bà con.\n\nThôn 3, xã Quảng An tổ chức tiêm phòng.\nĐề nghị bà con thực hiện!"
    assert unicodedata.is_normalized("NFC", script.text)


def test_nfd_input_becomes_nfc(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text(unicodedata.normalize("NFD", TEXT), encoding="utf-8")
    assert read_script(path).sentences[0].text == "Kính thưa bà con."


def test_notes_paragraphs_lines_and_windows_line_endings(tmp_path):
    path = tmp_path / "s.txt"
    path.write_bytes("# note\r\nMột câu\r\nviết trên hai dòng.\r\n\r\n\r\n# another\r\nĐoạn hai.\r\n".encode())
    script = read_script(path)
    assert [[(s.text, s.line) for s in p] for p in script.paragraphs] == [
        [("Một câu viết trên hai dòng.", 2)], [("Đoạn hai.", 7)]]


def test_bullets_are_separate_sentences(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("Các bước:\n- Bước một: mở ứng dụng\n- Bước hai: cài đặt\n", encoding="utf-8")
    assert [s.text for s in read_script(path).sentences] == [
        "Các bước:", "- Bước một: mở ứng dụng", "- Bước hai: cài đặt"]


def test_abbreviations_do_not_end_a_sentence():
    assert [s.text for s in split_sentences("Học sinh TP. Huế nghỉ học. Riêng TT. Sịa thì không!")] == [
        "Học sinh TP. Huế nghỉ học.", "Riêng TT. Sịa thì không!"]


@pytest.mark.parametrize("content,message", [
    (b"", "has nothing to read"),
    (b"# only a note\n\n# and another\n", "has nothing to read"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01", "is not a text file"),
    (bytes(range(0, 32)) * 20, "is not a text file"),
])
def test_not_a_script(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(ScriptError) as info:
        read_script(path, display="scripts/bad.txt")
    assert str(info.value).startswith(f"scripts/bad.txt:1: {message}")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_give_text_or_a_script_error(data):
    try:
        text, _enc, _notices = decode_text(data, where="x")
    except ScriptError:
        return
    assert unicodedata.is_normalized("NFC", text)
