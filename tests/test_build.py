"""`broadcaster build` and `say` end to end, through espeak-ng, ffmpeg and the real files."""

from __future__ import annotations

import shutil

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from scipy.signal import resample

from tests.conftest import BASE_CONFIG, REPO


def measure(path):
    """Loudness and true peak measured independently of broadcaster's own code."""
    data, rate = sf.read(str(path), dtype="float64")
    lufs = pyloudnorm.Meter(rate).integrated_loudness(data)
    up = resample(data, len(data) * 4, axis=0)  # FFT resampling, unlike the product's polyphase
    return lufs, 20 * np.log10(np.abs(up).max()), len(data) / rate


def duration(path):
    info = sf.info(str(path))
    return info.frames / info.samplerate


@pytest.fixture
def samples(project):
    """The repository's own sample project, copied."""
    for name in ("schedule.toml",):
        shutil.copy(REPO / name, project.root / name)
    for name in ("bluezone_cai_dat.txt", "bluezone_huong_dan.txt", "bluezone_nhac_lai.txt"):
        shutil.copy(REPO / "scripts" / name, project.root / "scripts" / name)
    return project


def test_sample_bulletins_render_offline_at_target_loudness_and_exact_length(samples):
    cfg_text = (samples.root / "schedule.toml").read_text(encoding="utf-8")
    # a copy of each bulletin read once without jingles gives the length of one reading
    cfg_text += "".join(f"""
[bulletins.{b}-once]
script = "scripts/{s}"
repeat = 1
jingle_in = ""
jingle_out = ""
{extra}""" for b, s, extra in [("cai-dat", "bluezone_cai_dat.txt", ""),
                               ("nhac-lai", "bluezone_nhac_lai.txt", 'voice = "vi-vn-x-central"')])
    samples.write("schedule.toml", cfg_text)
    r = samples.run("build")
    assert r.code == 0, r.err
    assert "Google Translate cannot be reached" in r.err           # no internet here
    assert r.out.count("espeak (espeak-ng, offline voice)") == 5
    jin, jout = duration(REPO / "jingles" / "mo_dau.wav"), duration(REPO / "jingles" / "ket_thuc.wav")
    for bulletin, once, repeat in [("bluezone-cai-dat", "cai-dat-once", 2), ("bluezone-nhac-lai", "nhac-lai-once", 2)]:
        lufs, tp, length = measure(samples.root / "audio_out" / f"{bulletin}.mp3")
        assert abs(lufs - -16.0) <= 0.5
        assert tp <= -1.0
        reading = duration(samples.root / "audio_out" / f"{once}.mp3")
        gaps = 1.0 * (2 + repeat - 1)
        assert length == pytest.approx(jin + jout + repeat * reading + gaps, abs=0.05)
        side = samples.sidecar(bulletin)
        assert side["duration_s"] == pytest.approx(length, abs=0.01)
        assert side["engine"] == "espeak" and side["format"] == "mp3"
        assert abs(side["loudness_lufs"] - lufs) < 0.1
    side = samples.sidecar("bluezone-huong-dan")
    assert set(side) >= {"bulletin", "title", "script", "script_sha256", "text_sha256", "engine", "voice",
                         "duration_s", "loudness_lufs", "true_peak_dbtp", "rendered_at", "version"}
    assert side["title"] == "Hướng dẫn cài đặt ứng dụng Bluezone"
    assert side["rendered_at"].endswith("+07:00")  # the config's time zone


def test_nothing_changed_synthesises_nothing_and_one_edit_synthesises_one(project):
    r = project.run("build")
    assert r.code == 0 and "3 sentences synthesised, 0 from cache" in r.out
    before = (project.root / "audio_out" / "thong-bao.wav").stat().st_mtime_ns
    r = project.run("build")
    assert "up to date" in r.out and "0 sentences synthesised, 0 from cache" in r.out
    assert (project.root / "audio_out" / "thong-bao.wav").stat().st_mtime_ns == before
    script = project.root / "scripts" / "thong_bao.txt"
    script.write_text(script.read_text(encoding="utf-8").replace("đúng giờ", "trước 7 giờ sáng"), encoding="utf-8")
    r = project.run("build")
    assert "1 built" in r.out and "1 sentences synthesised, 2 from cache" in r.out
    # an editor's note changes nothing that is read
    script.write_text("# một ghi chú mới\n" + script.read_text(encoding="utf-8"), encoding="utf-8")
    assert "1 up to date" in project.run("build").out


def test_force_and_settings_changes_rebuild_from_cache(project):
    project.run("build")
    r = project.run("build", "--force")
    assert "1 built" in r.out and "0 sentences synthesised, 3 from cache" in r.out
    project.write("schedule.toml", BASE_CONFIG.replace("gap = 0.5", "gap = 0.8"))
    assert "1 built" in project.run("build").out


def test_voice_change_synthesises_again(project):
    project.run("build")
    project.write("schedule.toml", BASE_CONFIG.replace('voice = "vi"', 'voice = "vi-vn-x-south"'))
    assert "3 sentences synthesised" in project.run("build").out


def test_damaged_output_is_rebuilt(project):
    project.run("build")
    (project.root / "audio_out" / "thong-bao.wav").write_bytes(b"RIFF broken")
    r = project.run("build")
    assert "1 built" in r.out
    assert measure(project.root / "audio_out" / "thong-bao.wav")[2] > 3


def test_wav_output_carries_title_and_date_tags(project):
    project.run("build")
    with sf.SoundFile(str(project.root / "audio_out" / "thong-bao.wav")) as f:
        assert f.title == "Thông báo thử"
        assert len(f.date) == 10


def test_one_failing_bulletin_does_not_stop_the_others(project):
    project.write("schedule.toml", BASE_CONFIG + '\n[bulletins.rong]\nscript = "scripts/rong.txt"\n')
    project.write("scripts/rong.txt", "# chỉ có ghi chú\n")
    r = project.run("build")
    assert r.code == 2
    assert (project.root / "audio_out" / "thong-bao.wav").exists()
    assert not (project.root / "audio_out" / "rong.wav").exists()
    assert r.err.strip() == ("error: rong: scripts/rong.txt:1: has nothing to read (it is empty or only "
                             "has # notes) (write the announcement text in it)")


BAD_INPUT = {
    "missing script": (BASE_CONFIG.replace("thong_bao.txt", "khong_co.txt"), None,
                       'schedule.toml:17: bulletins.thong-bao: script "scripts/khong_co.txt" does not exist'),
    "empty script": (None, b"", "scripts/thong_bao.txt:1: has nothing to read"),
    "binary script": (None, bytes(range(256)) * 4, "scripts/thong_bao.txt:1: is not a text file"),
    "unknown key": (BASE_CONFIG.replace("gap =", "gpa ="), None,
                    'schedule.toml:12: audio: unknown key "gpa" (did you mean "gap"?)'),
    "wrong type": (BASE_CONFIG.replace("sample_rate = 22050", 'sample_rate = "22050"'), None,
                   'schedule.toml:9: audio: sample_rate must be one of'),
    "unknown engine": (BASE_CONFIG.replace('"espeak"', '"festival"'), None,
                       'schedule.toml:4: tts: engine "festival" is not a known engine'),
    "jingle not audio": (BASE_CONFIG.replace("repeat = 1", 'repeat = 1\njingle_in = "jingles/hong.wav"'), None,
                         'schedule.toml:14: jingle "jingles/hong.wav" is not audio that can be decoded'),
    "path escaping": (BASE_CONFIG.replace("scripts/thong_bao.txt", "../../etc/passwd"), None,
                      'schedule.toml:17: bulletins.thong-bao: script "../../etc/passwd" is outside the project folder'),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_is_one_line_exit_2_and_no_partial_output(project, case):
    config, script, message = BAD_INPUT[case]
    project.write("jingles/hong.wav", b"RIFF\x00\x00\x00\x00WAVEthis is not audio")
    assert project.run("build").code == 0  # a good build first: it must survive the bad one
    good = (project.root / "audio_out" / "thong-bao.wav").read_bytes()
    if config:
        project.write("schedule.toml", config)
    if script is not None:
        project.write("scripts/thong_bao.txt", script)
    r = project.run("build")
    assert r.code == 2
    errors = r.err.strip().splitlines()
    assert len(errors) == 1 and message in errors[0] and errors[0].startswith("error: ")
    assert "Traceback" not in r.err + r.out
    assert project.files() == {"thong-bao.wav", "thong-bao.json"}  # no temporary or partial file
    assert (project.root / "audio_out" / "thong-bao.wav").read_bytes() == good


def test_unknown_engine_on_the_command_line(project):
    r = project.run("build", "--engine", "festival")
    assert r.code == 2 and '"festival" is not an engine' in r.err and "Traceback" not in r.err


def test_unknown_bulletin_name(project):
    r = project.run("build", "thong-bao", "thong-boa")
    assert r.code == 2 and 'did you mean "thong-bao"' in r.err


def test_say_renders_an_urgent_notice(project):
    r = project.run("say", "Khẩn cấp: bão số 5 đổ bộ lúc 14 giờ.", "-o", "khan.mp3", "--repeat", "3")
    assert r.code == 0, r.err
    assert "espeak" in r.out
    lufs, tp, _ = measure(project.root / "khan.mp3")
    assert abs(lufs + 16) <= 0.5 and tp <= -1.0


def test_say_from_a_file_without_any_config(tmp_path, monkeypatch, capsys):
    from broadcaster.cli import run
    (tmp_path / "tin.txt").write_text("Thông báo khẩn.\n\nMất điện từ 8 giờ.", encoding="utf-16")
    monkeypatch.chdir(tmp_path)
    assert run(["say", "--file", "tin.txt", "-o", "tin.wav", "--no-jingles"]) == 0
    assert duration(tmp_path / "tin.wav") > 2


def test_say_output_outside_the_project_is_refused(project):
    r = project.run("say", "Xin chào.", "-o", "../ngoai.wav")
    assert r.code == 2 and "outside the project folder" in r.err
    assert not (project.root.parent / "ngoai.wav").exists()


def test_say_uses_the_voice_settings_of_a_schedule_with_mistakes(tmp_path, monkeypatch, capsys):
    """A schedule.toml holding only [tts] (no bulletins yet) still sets the rate; `say` says so."""
    from broadcaster.cli import run
    monkeypatch.chdir(tmp_path)
    text = "Kính thưa bà con, xã sẽ phun thuốc diệt muỗi vào sáng mai."
    assert run(["say", text, "-o", "plain.wav", "--no-jingles", "--engine", "espeak"]) == 0
    assert "warning" not in capsys.readouterr().err  # no file: the defaults, silently
    (tmp_path / "schedule.toml").write_text('[tts]\nrate = 0.65\npitch = "cao"\n', encoding="utf-8")
    assert run(["say", text, "-o", "slow.wav", "--no-jingles", "--engine", "espeak"]) == 0
    err = capsys.readouterr().err
    assert "schedule.toml does not load" in err and "still uses its [tts] and [audio] settings" in err
    assert 'schedule.toml:3: tts: pitch must be a number, not "cao"' in err  # the one it ignores, by line
    assert duration(tmp_path / "slow.wav") > 1.3 * duration(tmp_path / "plain.wav")
    (tmp_path / "schedule.toml").write_text('[tts\nrate = 0.65\n', encoding="utf-8")
    assert run(["say", text, "-o", "broken.wav", "--no-jingles", "--engine", "espeak"]) == 0
    err = capsys.readouterr().err
    assert "schedule.toml cannot be read" in err and "default voice" in err
    assert abs(duration(tmp_path / "broken.wav") - duration(tmp_path / "plain.wav")) < 0.3
