"""schedule.toml: loading, overrides, and every mistake reported with file, line and key."""

from __future__ import annotations

import pytest

from broadcaster.config import load_config
from broadcaster.errors import ConfigError
from tests.conftest import BASE_CONFIG, REPO


def problems(project, text: str) -> list[str]:
    path = project.write("schedule.toml", text)
    project.chdir()
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


def test_sample_config_of_the_repository_loads():
    cfg = load_config(REPO / "schedule.toml")
    assert set(cfg.bulletins) == {"bluezone-cai-dat", "bluezone-huong-dan", "bluezone-nhac-lai"}
    assert cfg.tts.engines == ("edge", "gtts", "piper", "espeak")  # auto
    b = cfg.bulletins["bluezone-huong-dan"]
    assert b.audio.repeat == 1 and cfg.audio.repeat == 2       # per-bulletin override
    assert cfg.bulletins["bluezone-nhac-lai"].tts.voice == "vi-vn-x-central"
    assert b.audio.jingle_in == (REPO / "jingles" / "mo_dau.wav").resolve()
    assert cfg.paths.state == REPO / "state"


def test_missing_script_names_file_line_and_bulletin(project):
    text = BASE_CONFIG.replace("scripts/thong_bao.txt", "scripts/x.txt")
    line = text.splitlines().index('script = "scripts/x.txt"') + 1
    assert problems(project, text) == [
        f'schedule.toml:{line}: bulletins.thong-bao: script "scripts/x.txt" does not exist']


def test_unknown_key_suggests_the_right_one(project):
    text = BASE_CONFIG.replace("repeat = 1", "repaet = 1")
    line = text.splitlines().index("repaet = 1") + 1
    assert problems(project, text) == [
        f'schedule.toml:{line}: audio: unknown key "repaet" (did you mean "repeat"?)']


def test_wrong_type(project):
    text = BASE_CONFIG.replace("gap = 0.5", 'gap = "long"')
    line = text.splitlines().index('gap = "long"') + 1
    assert problems(project, text) == [f'schedule.toml:{line}: audio: gap must be a number, not "long"']


def test_unknown_engine(project):
    text = BASE_CONFIG.replace('engine = "espeak"', 'engine = "espek"')
    [msg] = problems(project, text)
    assert msg.startswith('schedule.toml:4: tts: engine "espek" is not a known engine (did you mean "espeak"?)')


def test_every_problem_is_reported_at_once(project):
    text = (BASE_CONFIG.replace("repeat = 1", "repeat = 0").replace("sample_rate = 22050", "sample_rate = 1")
            .replace('voice = "vi"', 'voice = "vi"\nspeed = 2'))
    got = problems(project, text)
    assert len(got) == 3
    assert any("sample_rate must be one of" in p for p in got)
    assert any("repeat must be between 1 and 20, not 0" in p for p in got)
    assert any('unknown key "speed"' in p for p in got)


def test_path_may_not_leave_the_project(project):
    (project.root.parent / "outside.txt").write_text("Xin chào.", encoding="utf-8")
    text = BASE_CONFIG.replace("scripts/thong_bao.txt", "../outside.txt")
    [msg] = problems(project, text)
    assert 'script "../outside.txt" is outside the project folder' in msg
    assert "--allow-outside" in msg
    cfg = load_config(project.root / "schedule.toml", allow_outside=True)
    assert cfg.bulletins["thong-bao"].script.name == "outside.txt"


def test_symlink_out_of_the_project_is_outside(project):
    (project.root.parent / "secret.txt").write_text("Xin chào.", encoding="utf-8")
    (project.root / "scripts" / "link.txt").symlink_to(project.root.parent / "secret.txt")
    [msg] = problems(project, BASE_CONFIG.replace("thong_bao.txt", "link.txt"))
    assert "is outside the project folder" in msg


def test_toml_syntax_error_gives_line_and_column(project):
    text = BASE_CONFIG.replace('voice = "vi"', 'voice = "vi')
    line = text.splitlines().index('voice = "vi') + 1
    [msg] = problems(project, text)
    assert msg.startswith(f"schedule.toml:{line}: TOML syntax error:")
    assert "(column " in msg


def test_per_bulletin_override_of_tts_and_audio(project):
    text = BASE_CONFIG + 'voice = "vi-vn-x-south"\nformat = "mp3"\nrate = 1.2\n'
    cfg = load_config(project.write("schedule.toml", text))
    b = cfg.bulletins["thong-bao"]
    assert (b.tts.voice, b.tts.rate, b.audio.format) == ("vi-vn-x-south", 1.2, "mp3")
    assert (cfg.tts.voice, cfg.audio.format) == ("vi", "wav")


def test_cli_reports_config_errors_in_one_line_each_with_exit_2(project):
    project.write("schedule.toml", BASE_CONFIG.replace("repeat = 1", "repeat = true"))
    r = project.run("build")
    assert r.code == 2
    assert r.err.strip() == "error: schedule.toml:13: audio: repeat must be a whole number, not true"
    assert "Traceback" not in r.err + r.out


def test_config_found_through_option_and_environment(project, monkeypatch, tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(other)
    r = project.run("build")  # chdir to project: ./schedule.toml
    assert r.code == 0
    monkeypatch.chdir(other)
    from broadcaster.cli import run
    assert run(["-c", str(project.root / "schedule.toml"), "build"]) == 0
    monkeypatch.setenv("BROADCASTER_CONFIG", str(project.root / "schedule.toml"))
    assert run(["build"]) == 0
    monkeypatch.delenv("BROADCASTER_CONFIG")
    assert run(["build"]) == 2  # no schedule.toml in this folder


def test_monitor_and_alert_settings_and_their_mistakes(project):
    text = BASE_CONFIG + ('\n[monitor]\nsilence = -45\ndead_air = "8s"\nunexpected = true\nmargin = 3\n'
                          '[alerts]\nwebhook = "https://alerts.example.vn/hook"\n')
    path = project.write("schedule.toml", text)
    project.chdir()
    cfg = load_config(path)
    assert (cfg.monitor.silence, cfg.monitor.dead_air, cfg.monitor.unexpected, cfg.monitor.margin) == (-45, 8, True, 3)
    assert cfg.monitor.unexpected_after == 5 and cfg.alerts.webhook == "https://alerts.example.vn/hook"
    bad = BASE_CONFIG + ('\n[monitor]\nsilence = 3\ndead_air = "forever"\nunexpected = "yes"\ndead_ari = 1\n'
                         '[alerts]\nwebhook = "ftp://x"\n')
    lines = bad.splitlines()
    got = problems(project, bad)
    for key, words in (("silence = 3", "silence must be"), ('dead_air = "forever"', 'a duration from 2 s to 600 s'),
                       ('unexpected = "yes"', "true or false"), ("dead_ari = 1", 'did you mean "dead_air"'),
                       ('webhook = "ftp://x"', "http:// or https://")):
        line = lines.index(key) + 1
        assert any(p.startswith(f"schedule.toml:{line}:") and words in p for p in got), (key, got)


def test_a_commune_that_only_relays_is_a_valid_project(project):
    project.write("schedule.toml", """\
timezone = "Asia/Ho_Chi_Minh"
[sources.vov]
title = "VOV1"
url = "http://127.0.0.1:8000/vov1"
[zones.xa]
name = "Xã A"
[[slots]]
source = "vov"
zones = ["xa"]
at = ["06:00", "18:00"]
duration = "30m"
""")
    r = project.run("check")
    assert r.code == 0, r.out + r.err
    assert "no bulletins" not in r.out + r.err
    r = project.run("next", "--json", "--days", "1")
    assert r.code == 0 and '"bulletin": "vov"' in r.out


def test_a_project_with_nothing_scheduled_is_warned_not_refused(project):
    project.write("schedule.toml", 'timezone = "Asia/Ho_Chi_Minh"\n[zones.xa]\nname = "Xã A"\n')
    r = project.run("check")
    assert r.code == 0, r.out + r.err
    assert "no [[slots]] are defined: nothing will be aired" in r.out + r.err


def test_a_sequence_slot_and_its_mistakes(project):
    from broadcaster.config import load_config
    project.write("scripts/b.txt", "Thông báo thứ hai.\n")
    base = BASE_CONFIG + '[bulletins.b]\nscript = "scripts/b.txt"\n[zones.xa]\nname = "Xã A"\n'
    project.write("schedule.toml", base + '[[slots]]\nbulletins = ["thong-bao", "b"]\ngap = 2\nzones = ["xa"]\n'
                                          'at = ["05:30"]\n')
    cfg = load_config(project.root / "schedule.toml")
    assert cfg.slots[0].sequence == ("thong-bao", "b") and cfg.slots[0].gap == 2.0
    project.write("schedule.toml", base + '[[slots]]\nbulletins = ["thong-bao", "bb"]\nbulletin = "b"\n'
                                          'zones = ["xa"]\nat = ["05:30"]\n[[slots]]\nbulletin = "b"\ngap = 1\n'
                                          'zones = ["xa"]\nat = ["06:30"]\n')
    r = project.run("check")
    assert r.code == 2   # check: problems found
    assert 'bulletins and also bulletin' in r.err and "gap is for a sequence" in r.err
    assert "schedule.toml:" in r.err
