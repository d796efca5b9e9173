"""The interface in two languages: one catalogue, complete, used by every command."""

from __future__ import annotations

import ast
import string
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from broadcaster import i18n

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
import messages  # noqa: E402  (tools/messages.py: the extractor the catalogue is kept with)


def fields(template: str) -> set[str]:
    names = {f for _t, f, _s, _c in string.Formatter().parse(template) if f is not None}
    import re
    return names | set(re.findall(r"%\((\w+)\)s", template))


def test_every_message_is_in_both_catalogues_and_no_other():
    wanted = {**messages.clicks(), **messages.ours()}
    have = messages.catalogue()
    missing = sorted(m for m in wanted if not have.get(m))
    unused = sorted(m for m in have if m not in wanted)
    assert not missing, f"messages without a Vietnamese translation in vi.po: {missing[:10]}"
    assert not unused, f"vi.po has messages the code no longer uses: {unused[:10]}"
    assert len(wanted) > 350  # the extractor found the package's messages, not nothing


def test_translations_keep_every_placeholder():
    for msgid, msgstr in messages.catalogue().items():
        assert fields(msgid) == fields(msgstr), f"{msgid!r} → {msgstr!r}"


def test_the_extractor_finds_a_new_message(tmp_path, monkeypatch):
    """The completeness test can fail: a message added to the code is reported missing."""
    pkg = tmp_path / "broadcaster"
    pkg.mkdir()
    (pkg / "new.py").write_text('from broadcaster.i18n import _\nx = _("a message nobody translated")\n')
    monkeypatch.setattr(messages, "PACKAGE", pkg)
    monkeypatch.setattr(messages, "ROOT", tmp_path)
    assert "a message nobody translated" in messages.ours()
    assert "a message nobody translated" not in messages.catalogue()


def test_no_module_hides_the_translation_function():
    """`_` imported from i18n must not be reused as a throw-away name in the same module."""
    for path in (REPO / "broadcaster").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imports = any(isinstance(n, ast.ImportFrom) and n.module == "broadcaster.i18n"
                      and any(a.name == "_" for a in n.names) for n in ast.walk(tree))
        stores = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == "_"
                  and isinstance(n.ctx, ast.Store)]
        assert not (imports and stores), f"{path.name}:{stores[0] if stores else ''} assigns to _"


@pytest.mark.parametrize("environ, expected", [
    ({}, "en"), ({"LANG": "vi_VN.UTF-8"}, "vi"), ({"LANG": "en_US.UTF-8"}, "en"),
    ({"LC_ALL": "vi_VN", "LANG": "en_US"}, "vi"), ({"BROADCASTER_LANG": "en", "LANG": "vi_VN"}, "en"),
    ({"LC_MESSAGES": "vi"}, "vi"),
])
def test_language_from_the_environment(environ, expected, monkeypatch):
    monkeypatch.setattr(i18n.locale, "getlocale", lambda: (None, None))
    assert i18n.language(environ) == expected


def test_windows_locale_name_counts(monkeypatch):
    monkeypatch.setattr(i18n.locale, "getlocale", lambda: ("Vietnamese_Vietnam", "1258"))
    assert i18n.language({}) == "vi"


def test_dates_and_times_as_people_write_them():
    t = datetime(2020, 8, 5, 17, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    assert i18n.when(t, "vi") == "17:00 ngày 05/8/2020"
    assert i18n.when(t, "en") == "2020-08-05 17:00"
    assert i18n.when(t.replace(month=12, day=31, minute=5, second=9), "vi", seconds=True) == "17:05:09 ngày 31/12/2020"
    assert i18n.day(t.date(), "vi") == "05/8/2020"


# --- the common paths, in both languages --------------------------------------

def test_help_in_both_languages(project):
    en = project.run("--help")
    assert en.code == 0 and "Usage:" in en.out and "Options:" in en.out and "Show this message and exit." in en.out
    assert "Render every bulletin" in en.out
    vi = project.run("--lang", "vi", "--help")
    assert vi.code == 0 and "Cách dùng:" in vi.out and "Tùy chọn:" in vi.out and "Lệnh:" in vi.out
    assert "Hiện hướng dẫn này rồi thoát." in vi.out and "Tạo âm thanh cho mọi bản tin" in vi.out
    assert "Usage" not in vi.out and "Show this message" not in vi.out
    sub = project.run("--lang", "vi", "report", "--help")
    assert "tệp báo cáo: .csv" in sub.out and "[bắt buộc]" in sub.out
    again = project.run("--help")  # the language is not stuck from the run before
    assert "Usage:" in again.out and "Render every bulletin" in again.out


def test_locale_alone_chooses_vietnamese(project, monkeypatch):
    monkeypatch.setenv("LANG", "vi_VN.UTF-8")
    r = project.run("build", "--help")
    assert "Tạo âm thanh cho mọi bản tin" in r.out
    r = project.run("--lang", "en", "build", "--help")
    assert "Render every bulletin" in r.out


def test_errors_in_both_languages(project):
    r = project.run("-c", "khong_co.toml", "check")
    assert r.code == 2 and r.err.startswith('error: configuration file "khong_co.toml"')
    r = project.run("-c", "khong_co.toml", "next")
    assert r.code == 2 and 'error: configuration file "khong_co.toml" (given with -c/--config) does not exist' in r.err
    r = project.run("--lang", "vi", "-c", "khong_co.toml", "next")
    assert r.code == 2 and 'lỗi: tệp cấu hình "khong_co.toml" (được chỉ bằng -c/--config) không tồn tại' in r.err
    project.write("schedule.toml", project.read("schedule.toml").replace("gap = 0.5", "gap = 99"))
    r = project.run("--lang", "vi", "build")
    assert r.code == 2 and "schedule.toml:12: audio: gap phải nằm trong khoảng 0 đến 30, không phải 99" in r.err
    r = project.run("--lang", "vi", "next", "--days", "0")
    assert r.code == 2 and "Lỗi: Giá trị không hợp lệ cho '--days'" in r.err
    r = project.run("--lang", "vi", "bulid")
    assert r.code == 2 and "Không có lệnh 'bulid'." in r.err and r.err.startswith("Cách dùng:")


def test_build_and_next_in_vietnamese(project):
    project.write("schedule.toml", project.read("schedule.toml") + (
        '[zones.xa]\nname = "Xã"\n[[slots]]\nbulletin = "thong-bao"\nzones = ["xa"]\nat = ["17:00"]\n'))
    r = project.run("--lang", "vi", "build")
    assert r.code == 0 and "đã tạo" in r.out and "1 bản tin đã tạo, 0 đã cập nhật sẵn, 0 lỗi" in r.out
    r = project.run("--lang", "vi", "next", "--from", "2020-08-05T06:00")
    lines = r.out.splitlines()
    assert lines[0].split()[:2] == ["giờ", "phát"]
    assert lines[1].startswith("17:00 ngày 05/8/2020  xa") and "thường" in lines[1]
    r = project.run("--lang", "vi", "log")
    assert r.out.strip() == "Nhật ký phát đang trống."
    r = project.run("next", "--from", "05/8/2020")  # dates as Vietnamese write them are taken too
    assert r.out.splitlines()[1].startswith("2020-08-05 17:00  xa")
    r = project.run("log", "--since", "31/2/2020")
    assert r.code == 2 and '"31/2/2020" is not a date like 2020-08-05 or 05/8/2020' in r.err
