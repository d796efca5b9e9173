"""Shared fixtures: a throw-away project folder, the CLI in-process, and a fake gTTS endpoint."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from broadcaster.cli import run
from tests.station import station  # noqa: F401  (a fixture: the daemon tests' station)

REPO = Path(__file__).resolve().parent.parent

BASE_CONFIG = """\
timezone = "Asia/Ho_Chi_Minh"

[tts]
engine = "espeak"
voice = "vi"

[audio]
format = "wav"
sample_rate = 22050
loudness = -16.0
true_peak = -1.0
gap = 0.5
repeat = 1

[bulletins.thong-bao]
title = "Thông báo thử"
script = "scripts/thong_bao.txt"
"""

SCRIPT = """\
# ghi chú của biên tập viên
Kính thưa bà con.

Xã Quảng An thông báo lịch tiêm phòng cho gia súc. Đề nghị bà con đưa gia súc đến điểm tiêm đúng giờ.
"""


@pytest.fixture(autouse=True)
def english_locale(monkeypatch):
    """Tests read English unless they choose Vietnamese, whatever the machine's locale."""
    for var in ("BROADCASTER_LANG", "LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    from broadcaster.i18n import set_language
    set_language(None)


@dataclass
class Result:
    code: int
    out: str
    err: str


class Project:
    """A project folder in tmp_path, with helpers to write its files and run commands in it."""

    def __init__(self, root: Path, capsys, monkeypatch):
        self.root = root
        self._capsys = capsys
        self._monkeypatch = monkeypatch
        (root / "scripts").mkdir()
        (root / "jingles").mkdir()
        for name in ("mo_dau.wav", "ket_thuc.wav"):
            shutil.copy(REPO / "jingles" / name, root / "jingles" / name)
        self.write("schedule.toml", BASE_CONFIG)
        self.write("scripts/thong_bao.txt", SCRIPT)

    def write(self, rel: str, text: str | bytes) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    def read(self, rel: str) -> str:
        return (self.root / rel).read_text(encoding="utf-8")

    def chdir(self) -> None:
        self._monkeypatch.chdir(self.root)

    def run(self, *args: str) -> Result:
        self.chdir()
        self._capsys.readouterr()
        code = run(list(args))
        out, err = self._capsys.readouterr()
        return Result(code, out, err)

    def sidecar(self, bulletin: str) -> dict:
        return json.loads((self.root / "audio_out" / f"{bulletin}.json").read_text(encoding="utf-8"))

    def files(self, folder: str = "audio_out") -> set[str]:
        d = self.root / folder
        return {p.name for p in d.iterdir()} if d.exists() else set()


@pytest.fixture
def project(tmp_path, capsys, monkeypatch) -> Project:
    monkeypatch.delenv("BROADCASTER_CONFIG", raising=False)
    root = tmp_path / "project"
    root.mkdir()
    return Project(root, capsys, monkeypatch)


# --- a fake of Google Translate's batchexecute endpoint, through gTTS's real code ---

GTTS_URL = re.compile(r"https://translate\.google\.[a-z.]+/_/TranslateWebserverUi/data/batchexecute")
PROBE_URL = "https://translate.google.com/"


def fake_mp3(seconds: float, rate: int = 24000, freq: float = 220.0) -> bytes:
    """A real MP3 of a vowel-like buzz, as long as the text would take to say."""
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.3 * np.sign(np.sin(2 * np.pi * freq * t)) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    buf = io.BytesIO()
    sf.write(buf, wave.astype(np.float32), rate, format="MP3")
    return buf.getvalue()


def requested_text(body: str) -> str:
    """The text gTTS asked to be spoken, out of its f.req form field."""
    freq = urllib.parse.parse_qs(body)["f.req"][0]
    return json.loads(json.loads(freq)[0][0][1])[0]


def gtts_answer(text: str) -> str:
    audio = base64.b64encode(fake_mp3(0.05 * len(text) + 0.2)).decode("ascii")
    return ")]}'\n\n" + '[["wrb.fr","jQ1olc","[\\"' + audio + '\\"]",null,null,null,"generic"]]\n'


class FakeGoogle:
    """Scripted answers for the batchexecute endpoint; records what was asked."""

    def __init__(self, rsps):
        self.rsps = rsps
        self.texts: list[str] = []
        self.plan: list[int | str] = []  # per request: a status code, "garbage", or 200 by default
        rsps.add(rsps.HEAD, PROBE_URL, status=200)
        rsps.add_callback(rsps.POST, GTTS_URL, callback=self._answer)

    def _answer(self, request):
        text = requested_text(request.body)
        step = self.plan.pop(0) if self.plan else 200
        if step == "garbage":
            return 200, {}, "<html>not what gTTS expects</html>"
        if step != 200:
            return step, {"Retry-After": "0"}, "error"
        self.texts.append(text)
        return 200, {}, gtts_answer(text)


@pytest.fixture(autouse=True)
def network():
    """No test reaches the internet: every request goes to ``responses``, and an
    unregistered address fails to connect, as on a PC whose internet is down."""
    import responses
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def fake_google(network):
    return FakeGoogle(network)


@pytest.fixture(scope="session")
def pulse(tmp_path_factory):
    """A private PulseAudio with two null sinks, zone_a and zone_b, for the whole test session."""
    from tests.pulse import PulseServer
    server = PulseServer(tmp_path_factory.mktemp("pulse"), ["zone_a", "zone_b"])
    saved = dict(os.environ)
    server.apply_env(os.environ)
    yield server
    os.environ.clear()
    os.environ.update(saved)
    server.stop()


@pytest.fixture
def fake_edge(monkeypatch):
    """Microsoft's speech websocket, faked on localhost; edge-tts is pointed at it."""
    from edge_tts import communicate
    from tests.fake_edge import FakeEdge
    fake = FakeEdge()
    monkeypatch.setattr(communicate, "WSS_URL", fake.url)
    yield fake
    fake.close()


@pytest.fixture
def piper_voices(tmp_path_factory) -> Path:
    """A voices/ folder with a tiny Piper model built by the test."""
    from tests.tiny_piper import build
    folder = tmp_path_factory.mktemp("voices")
    build(folder / "vi_VN-tiny-test.onnx")
    return folder


# The tests that wait longest, longest first (measured: `make test` prints the slowest). With
# `--maxschedchunk 1` (the Makefile) each worker takes the next test when it is free, so these start
# first and the short ones fill in around them: the suite ends when its work does, not when a long
# test collected last (the files go in alphabetical order) ends. A hint only: any other test runs after.
LONG_FIRST = ("test_tiers.py::", "test_release.py::", "test_soak.py::", "test_faults.py::test_kill_9",
              "test_fleet_onair.py::", "test_release_tiers.py::", "test_faults.py::test_sound_card", "test_guide.py::",
              "test_last_good.py::", "test_relay.py::", "test_live_fleet.py::", "test_network_docs.py::",
              "test_web_console.py::test_a_day", "test_monitor.py::test_proof", "test_live.py::test_a_relay_cut",
              "test_calendar.py::test_the_daemon")


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        return next((i for i, p in enumerate(LONG_FIRST) if p in item.nodeid), len(LONG_FIRST))
    items.sort(key=rank)
