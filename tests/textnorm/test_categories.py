"""The normaliser, category by category, with the ambiguous cases decided by context."""

from __future__ import annotations

import re

import pytest

from broadcaster.text.textnorm import Normalizer, unspeakable
from broadcaster.text.textnorm.numbers import number_words, read_number

N = Normalizer()


def say(text: str) -> str:
    return N.normalize(text)


@pytest.mark.parametrize("n,words", [
    (0, "không"), (5, "năm"), (10, "mười"), (11, "mười một"), (15, "mười lăm"), (21, "hai mươi mốt"),
    (24, "hai mươi bốn"), (25, "hai mươi lăm"), (105, "một trăm linh năm"), (110, "một trăm mười"),
    (1005, "một nghìn không trăm linh năm"), (1061, "một nghìn không trăm sáu mươi mốt"),
    (2020, "hai nghìn không trăm hai mươi"), (15230, "mười lăm nghìn hai trăm ba mươi"),
    (1500000, "một triệu năm trăm nghìn"), (2000000000, "hai tỷ"),
    (1000005, "một triệu không trăm linh năm"),
])
def test_cardinals(n, words):
    assert number_words(n) == words


@pytest.mark.parametrize("written,words", [
    ("1.500.000", "một triệu năm trăm nghìn"), ("45,5", "bốn mươi lăm phẩy năm"),
    ("2,05", "hai phẩy không năm"), ("02", "hai"), ("007", "không không bảy"),
])
def test_written_numbers(written, words):
    assert read_number(written) == words


@pytest.mark.parametrize("text,spoken", [
    ("ngày 04/8/2020", "ngày bốn tháng tám năm hai nghìn không trăm hai mươi"),
    ("hạn 4-8-2020", "hạn ngày bốn tháng tám năm hai nghìn không trăm hai mươi"),
    ("04.08.2020", "ngày bốn tháng tám năm hai nghìn không trăm hai mươi"),
    ("từ ngày 01-15/8", "từ ngày một đến mười lăm tháng tám"),
    ("từ 3/8 – 9/8", "từ ngày ba tháng tám đến ngày chín tháng tám"),
    ("tháng 4", "tháng tư"),
    ("trong tháng 12/2020", "trong tháng mười hai năm hai nghìn không trăm hai mươi"),
    ("ngày 1/5 và 2/9", "ngày một tháng năm và ngày hai tháng chín"),
])
def test_dates(text, spoken):
    assert say(text) == spoken


@pytest.mark.parametrize("text,spoken", [
    ("ngày 1/5", "ngày một tháng năm"),           # after "ngày": a date
    ("3/10 xã", "ba phần mười xã"),               # a count of communes: a fraction
    ("khoảng 1/3 số hộ", "khoảng một phần ba số hộ"),
    ("trực 24/24 giờ", "trực hai mươi bốn trên hai mươi bốn giờ"),
    ("thứ 2", "thứ hai"),                        # a weekday, not "thứ hai tháng"
    ("lần thứ 1", "lần thứ nhất"),
    ("thứ 4", "thứ tư"),
    ("gọi 115", "gọi một một năm"),               # a number to call: digit by digit
    ("có 115 người", "có một trăm mười lăm người"),  # a count
])
def test_ambiguous_tokens_decided_by_context(text, spoken):
    assert say(text) == spoken


@pytest.mark.parametrize("text,spoken", [
    ("lúc 14h30", "lúc mười bốn giờ ba mươi"), ("lúc 14:30", "lúc mười bốn giờ ba mươi"),
    ("lúc 6h00", "lúc sáu giờ"), ("17 giờ 00", "mười bảy giờ"), ("9g30", "chín giờ ba mươi"),
    ("0h", "không giờ"), ("00:00", "không giờ"),
    ("từ 7h30 - 11h00", "từ bảy giờ ba mươi đến mười một giờ"),
    ("5 g đường", "năm gam đường"),  # g after a number without minutes is grams
    ("lúc 8 giờ 30 phút", "lúc tám giờ ba mươi phút"),  # "phút" written is said
    ("từ 7h30p - 11h15 phút", "từ bảy giờ ba mươi phút đến mười một giờ mười lăm phút"),
    ("17 giờ 00 phút", "mười bảy giờ"), ("trong 30 phút", "trong ba mươi phút"),
])
def test_times(text, spoken):
    assert say(text) == spoken


@pytest.mark.parametrize("text,spoken", [
    ("1900 9095", "một chín không không, chín không chín năm"),
    ("0234.3551.116", "không hai ba bốn, ba năm năm một, một một sáu"),
    ("0905 123 456", "không chín không năm, một hai ba, bốn năm sáu"),
    ("0905123456", "không chín không năm, một hai ba, bốn năm sáu"),
    ("+84 905 123 456", "không chín không năm, một hai ba, bốn năm sáu"),
])
def test_phone_numbers(text, spoken):
    assert say(text) == spoken


@pytest.mark.parametrize("text,spoken", [
    ("32,5%", "ba mươi hai phẩy năm phần trăm"), ("37,5°C", "ba mươi bảy phẩy năm độ xê"),
    ("100-150mm", "một trăm đến một trăm năm mươi mi li mét"), ("40 km/h", "bốn mươi ki lô mét trên giờ"),
    ("1.250 ha", "một nghìn hai trăm năm mươi héc ta"), ("2m", "hai mét"), ("50 m2", "năm mươi mét vuông"),
    ("1.500.000 đồng/người", "một triệu năm trăm nghìn đồng mỗi người"),
    ("20.000đ/lượt", "hai mươi nghìn đồng mỗi lượt"), ("02 lần/ngày", "hai lần mỗi ngày"),
    ("2,35 tỷ đồng", "hai phẩy ba mươi lăm tỷ đồng"),
    # a unit after the slash is read as a unit, whatever came before it
    ("12.000 đ/lít", "mười hai nghìn đồng mỗi lít"), ("30.000đ/kg", "ba mươi nghìn đồng mỗi ki lô gam"),
    ("20 nghìn/m2", "hai mươi nghìn mỗi mét vuông"), ("3 tấn/ha", "ba tấn mỗi héc ta"),
    ("2 m3/s", "hai mét khối trên giây"), ("A/V", "A vê"),
])
def test_units_money_percent(text, spoken):
    assert say(text) == spoken


@pytest.mark.parametrize("text,spoken", [
    ("quý III", "quý ba"), ("khóa XIX", "khóa mười chín"), ("khoá XIX", "khóa mười chín"),
    ("lần thứ XVII", "lần thứ mười bảy"), ("Chương II", "Chương hai"), ("thế kỷ XXI", "thế kỷ hai mươi mốt"),
    ("quý IV/2020", "quý bốn năm hai nghìn không trăm hai mươi"), ("lần thứ IV", "lần thứ tư"),
])
def test_roman_numerals_in_context(text, spoken):
    assert say(text) == spoken


@pytest.mark.parametrize("text,spoken", [
    ("Covid-19", "cô vít mười chín"), ("COVID-19", "cô vít mười chín"), ("F0", "ép không"),
    ("F1", "ép một"), ("5K", "năm ca"), ("BN416", "bệnh nhân bốn trăm mười sáu"),
])
def test_covid_words(text, spoken):
    assert say(text) == spoken


@pytest.mark.parametrize("text,spoken", [
    ("UBND", "Ủy ban nhân dân"), ("HĐND", "Hội đồng nhân dân"), ("THPT", "trung học phổ thông"),
    ("BCĐ", "Ban Chỉ đạo"), ("TP. Huế", "thành phố Huế"), ("TT. Sịa", "thị trấn Sịa"),
    ("V/v tăng cường", "về việc tăng cường"), ("Sở TT&TT", "Sở Thông tin và Truyền thông"),
    ("XYZ", "ích i dét"), ("KÍNH THƯA", "KÍNH THƯA"), ("Y tế", "Y tế"), ("Ở đây", "Ở đây"),
    ("Hội LHPN", "Hội Liên hiệp Phụ nữ"), ("Hội CCB", "Hội cựu chiến binh"), ("VKSND", "Viện Kiểm sát nhân dân"),
    ("HIV/AIDS", "hát i vê ết"), ("theo QĐ", "theo quyết định"),
    # long acronyms written as known ones run together are read from their parts, never spelt
    ("UBMTTQVN tỉnh", "Ủy ban Mặt trận Tổ quốc Việt Nam tỉnh"),
    ("BTT UBMTTQVN", "Ban Thường trực Ủy ban Mặt trận Tổ quốc Việt Nam"),
    ("ĐTNCSHCM", "Đoàn Thanh niên Cộng sản Hồ Chí Minh"), ("BCĐPCTT", "Ban Chỉ đạo phòng chống thiên tai"),
    ("ABCD", "a bê xê dê"),  # not made of known acronyms: spelt
])
def test_acronyms_and_capitals(text, spoken):
    assert say(text) == spoken


@pytest.mark.parametrize("text,spoken", [
    ("số 135/QĐ-TTg.", "số một trăm ba mươi lăm của Thủ tướng Chính phủ."),
    ("số 135/QĐ-TTg ngày 20/01/2020 của Thủ tướng",
     "số một trăm ba mươi lăm ngày hai mươi tháng một năm hai nghìn không trăm hai mươi của Thủ tướng"),
    ("số 39/2020/TT-BTTTT", "số ba mươi chín năm hai nghìn không trăm hai mươi của Bộ Thông tin và Truyền thông"),
    ("Nghị định 15/2020/NĐ-CP", "Nghị định mười lăm năm hai nghìn không trăm hai mươi của Chính phủ"),
])
def test_document_numbers(text, spoken):
    assert say(text) == spoken


@pytest.mark.parametrize("text,spoken", [
    ("https://bluezone.vn", "Bờ lu dôn chấm vê nờ"),
    ("www.bluezone.gov.vn", "vê kép vê kép vê kép chấm Bờ lu dôn chấm gờ o vê chấm vê nờ"),
    ("ubnd@quangdien.gov.vn", "u bê nờ dê a còng quang dien chấm gờ o vê chấm vê nờ"),
])
def test_web_addresses(text, spoken):
    assert say(text) == spoken


def test_road_and_kilometre_post():
    assert say("Km 12+500, QL49B") == "ki lô mét mười hai cộng năm trăm, quốc lộ bốn mươi chín bê"


def test_old_and_new_tone_placement_and_nfd_are_the_same_word():
    import unicodedata
    assert say("hoà thuỷ khoẻ") == say("hòa thủy khỏe") == "hòa thủy khỏe"
    assert say(unicodedata.normalize("NFD", "Quảng Điền")) == "Quảng Điền"


def test_project_lexicon_wins_over_the_built_in(tmp_path):
    from broadcaster.text.textnorm import load_lexicon
    path = tmp_path / "lexicon.toml"
    path.write_text('[words]\n"Bluezone" = "Blu dôn"\n"Sịa" = "Sịa"\n[acronyms]\n"UBND" = "Ủy ban"\n',
                    encoding="utf-8")
    n = Normalizer(load_lexicon(path))
    assert n.normalize("UBND cài Bluezone") == "Ủy ban cài Blu dôn"


def test_every_lexicon_entry_is_speakable():
    """Each spoken form is words a voice can say: Vietnamese syllables, no capitals to spell, no digits."""
    from broadcaster.text.textnorm.lexicon import builtin
    bad = [(section, e.key, e.spoken, unspeakable(e.spoken)) for section, table in builtin().tables.items()
           for e in table.values() if unspeakable(e.spoken) or re.search(r"\d", e.spoken)]
    assert bad == []
    assert len(builtin().tables["acronyms"]) > 250  # state bodies, mass organisations, documents, health


def test_every_lexicon_entry_is_already_spoken():
    from broadcaster.text.textnorm.lexicon import builtin
    for section in ("acronyms", "words", "units", "letters"):
        for entry in builtin().tables[section].values():
            assert say(entry.spoken) == entry.spoken, (section, entry.key)


def test_unspeakable_words_are_reported():
    assert unspeakable(say("Tải ứng dụng Grab về máy")) == ["Grab"]
    assert unspeakable(say("Kính thưa bà con")) == []


@pytest.mark.parametrize("text, spoken", [
    ("UBND P. Phong Quảng thông báo.", "Ủy ban nhân dân phường Phong Quảng thông báo."),
    ("X. Đan Điền và ĐK Côn Đảo", "xã Đan Điền và đặc khu Côn Đảo"),
    ("Phường Phong Quảng (H. Quảng Điền cũ)", "Phường Phong Quảng (huyện Quảng Điền cũ)"),
    ("KP 2, TDP 3", "khu phố hai, tổ dân phố ba"),
    # a short form not before a name is left to the other rules: an initial, a room
    ("Ông Nguyễn Văn P. đến họp.", "Ông Nguyễn Văn pê. đến họp."),
])
def test_2025_administrative_units_before_names(text, spoken):
    assert say(text) == spoken


@pytest.mark.parametrize("text,spoken", [
    # issue 38: service numbers are read digit by digit wherever they stand as a number to call
    ("liên hệ Công an xã hoặc 113", "liên hệ Công an xã hoặc một một ba"),
    ("Gọi ngay 115 khi cần cấp cứu", "Gọi ngay một một năm khi cần cấp cứu"),
    ("khi có cháy báo 114.", "khi có cháy báo một một bốn."),
    ("113 là số của công an", "một một ba là số của công an"),
    ("Có 113 hộ dân tham gia", "Có một trăm mười ba hộ dân tham gia"),
    ("Năm nay có 115 hộ nghèo", "Năm nay có một trăm mười lăm hộ nghèo"),
    # abbreviations common in notices, from the lexicon
    ("BS. Nguyễn Văn An trực", "bác sĩ Nguyễn Văn An trực"),
    ("liên hệ SĐT 0912345678", "liên hệ số điện thoại không chín một hai, ba bốn năm, sáu bảy tám"),
    ("mời đ/c Trưởng thôn", "mời đồng chí Trưởng thôn"),
    ("HTXNN Quảng Phú họp", "hợp tác xã nông nghiệp Quảng Phú họp"),
    # the units since 2025 glued to the name, as people type them
    ("P.An Cựu, X.Quảng Phú, TT.Sịa", "phường An Cựu, xã Quảng Phú, thị trấn Sịa"),
    ("Alô alô, kính thưa bà con", "a lô a lô, kính thưa bà con"),
])
def test_notices_read_as_an_announcer_reads_them(text, spoken):
    assert say(text) == spoken
    assert not unspeakable(say(text))   # nothing left for a voice to guess at: no ⚠ from check


@pytest.mark.parametrize("text,doubt", [
    ("Hội XYZ họp lúc 8 giờ.", {"XYZ": "spelled"}),                 # an abbreviation no lexicon knows: spelt
    ("Xem tại phongdien.gov.vn nhé.", {"phongdien.gov.vn": "toneless"}),   # tones the reader must guess
    ("Gửi thư về hopthu.ubnd@gmail.com.", {"hopthu.ubnd@gmail.com": "toneless"}),
    ("UBND xã và HTX thông báo, xem www.bluezone.gov.vn.", {}),      # known ones: no doubt
    ("Alô alô, Công văn số 123/UBND-VX.", {}),
    ("Xem trang phongdien.gov.vn của xã Phong Điền.", {}),   # the name's tones, from the line itself
])
def test_what_is_read_by_a_guess_is_marked_for_a_warning(text, doubt):
    """Issue 38, 4 and 5: the normaliser marks what it read by a guess (spelt letter by letter, or a web
    address read without its tones), so that `check`, `build` and the console warn with what to write."""
    _spoken, log = N.explain(text)
    assert {r.original: r.doubt for r in log if r.doubt} == doubt, log


def test_check_says_what_was_read_by_a_guess_and_what_to_write(tmp_path):
    from tests.test_web_hardening import make_project
    from tests.conftest import BASE_CONFIG
    import subprocess
    import sys
    root = make_project(tmp_path / "p", BASE_CONFIG + "[zones.xa]\n")
    (root / "scripts" / "thong_bao.txt").write_text("Kính thưa bà con.\nHội XYZ họp, xem phongdien.gov.vn.\n",
                                                    encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "broadcaster", "check"], cwd=root, capture_output=True, text=True)
    line = next(x for x in (r.stdout + r.stderr).splitlines() if "thong_bao.txt:2" in x)
    assert '"XYZ" is spelt letter by letter (ích i dét)' in line and '"phongdien.gov.vn" is read without tones' \
        in line and "lexicon" in line, line


def test_a_web_address_takes_the_tones_of_the_name_written_beside_it():
    """Issue 38, 4: as an announcer reads it, with the tones of the commune's name on the same line."""
    assert say("Xem trang phongdien.gov.vn của xã Phong Điền.") == \
        "Xem trang phong điền chấm gờ o vê chấm vê nờ của xã Phong Điền."
    assert say("Gửi thư về quangphu@gmail.com, UBND xã Quảng Phú.").startswith("Gửi thư về quảng phú a còng gờ meo")
