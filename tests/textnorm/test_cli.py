"""`broadcaster normalize`: what editors run to check what will be read."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from tests.conftest import REPO

SHARED = REPO.parent / "shared" / "normalization"


def run_normalize(project, monkeypatch, stdin: bytes, *args: str):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    return project.run("normalize", *args)


def test_one_spoken_line_per_input_line_from_stdin(project, monkeypatch):
    text = "Gọi 115.\n\n# ghi chú 12\nNgày 04/8/2020, UBND huyện.\n"
    r = run_normalize(project, monkeypatch, text.encode("utf-8"))
    assert r.code == 0
    assert r.out.split("\n")[:-1] == [
        "Gọi một một năm.", "", "# ghi chú 12",
        "Ngày bốn tháng tám năm hai nghìn không trăm hai mươi, Ủy ban nhân dân huyện."]


def test_explain_names_the_rule_and_the_lexicon_entry(project, monkeypatch):
    r = run_normalize(project, monkeypatch, "UBND gọi 115 lúc 14h30.".encode("utf-8"), "--explain")
    assert r.code == 0
    lines = r.out.splitlines()
    assert lines[0] == "Ủy ban nhân dân gọi một một năm lúc mười bốn giờ ba mươi."
    assert "    UBND  →  Ủy ban nhân dân   [lexicon: UBND (built-in)]" in lines
    assert "    115  →  một một năm   [service number]" in lines
    assert "    14h30  →  mười bốn giờ ba mươi   [time]" in lines


def test_file_in_an_old_encoding_and_the_project_lexicon(project):
    project.write("lexicon.toml", '[words]\n"Bluezone" = "Blu dôn"\n')
    project.write("schedule.toml", (project.root / "schedule.toml").read_text(encoding="utf-8")
                  .replace('voice = "vi"', 'voice = "vi"\nlexicon = "lexicon.toml"'))
    project.write("tin.txt", b"C\xb5i Bluezone")  # TCVN3
    r = project.run("normalize", "tin.txt")
    assert r.code == 0 and r.out == "Cài Blu dôn\n"
    assert "TCVN3" in r.err


def test_build_warns_about_words_a_voice_would_guess(project):
    project.write("scripts/thong_bao.txt", "Tải ứng dụng Grab về máy.\n")
    r = project.run("build")
    assert r.code == 0
    assert 'scripts/thong_bao.txt:1: "Grab" may be misread' in r.err


@pytest.mark.skipif(not (SHARED / "score.py").exists(), reason="shared/normalization is not beside the repository")
def test_development_set_score():
    exe = [sys.executable, "-m", "broadcaster", "normalize"]
    p = subprocess.run([sys.executable, str(SHARED / "score.py"), str(SHARED / "dev.tsv"), "--", *exe],
                       capture_output=True, text=True, timeout=300)
    last = p.stdout.strip().splitlines()[-1]
    fields = dict(f.split("=") for f in last.split())
    assert float(fields["accuracy"]) >= 0.95, p.stderr
    assert float(fields["speakable"]) >= 0.99
