"""`broadcaster preview`: a rendered bulletin on the technician's own output, through the real audio path."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.pulse import Recorder, segments
from tests.station import FREQS, Station

pytestmark = pytest.mark.audio


def preview(station: Station, *args: str) -> subprocess.Popen:
    env = {**os.environ, **station.pulse.env}
    return subprocess.Popen([sys.executable, "-m", "broadcaster", "preview", *args], cwd=station.root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_preview_plays_the_bulletin_with_progress_and_text(pulse, project, tmp_path):
    station = Station(project, pulse, tmp_path)
    project.write("scripts/a.txt", "Họp lúc 17:00 ngày 5/8.")
    station.configure([])
    station.build()
    rec = Recorder(pulse, "zone_b", tmp_path / "b.raw")
    time.sleep(0.5)
    proc = preview(station, "a", "--device", "zone_b", "--text")
    out, err = proc.communicate(timeout=60)
    time.sleep(2.5)  # the null sink's delay
    heard = segments(rec.stop())
    assert proc.returncode == 0, err
    assert "Họp lúc 17:00 ngày 5/8." in out and "→ họp lúc mười bảy giờ ngày năm tháng tám" in out.lower()
    assert "Playing audio_out/a.wav" in out and "on zone_b" in out and "Played to the end" in out
    assert "▶ 0:00 /" in err  # the progress line
    expected = station.file_segments("a")
    assert len(heard) == len(expected) and abs(heard[0][2] - FREQS["a"]) < 30
    length = lambda segs: segs[-1][1] - segs[0][0]  # noqa: E731
    assert abs(length(heard) - length(expected)) < 0.1


def test_ctrl_c_stops_the_preview(pulse, project, tmp_path):
    station = Station(project, pulse, tmp_path)
    station.configure([], repeat={"a": 6})
    station.build()
    proc = preview(station, "a", "--device", "zone_b")
    time.sleep(2.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "Stopped at 0:0" in out and "Traceback" not in err


def test_preview_refuses_what_it_cannot_play(pulse, project, tmp_path):
    station = Station(project, pulse, tmp_path)
    station.configure([])
    r = project.run("preview", "a")
    assert r.code == 2 and 'bulletin "a" has not been rendered yet (run broadcaster build)' in r.err
    r = project.run("preview", "e")
    assert r.code == 2 and 'no bulletin "e"' in r.err
    station.build()
    r = project.run("--lang", "vi", "preview", "a", "--device", "USB Audio")
    assert r.code == 1 and 'không có đầu ra âm thanh nào tên "USB Audio"' in r.err
