"""Faults injected into the running system: killed daemons, a full disk, a read-only state folder,
a sound card pulled out and plugged back, programs missing from PATH, hostile play requests.

(The network faults of the voices are in test_gtts.py and test_voices.py; a second daemon and
the clock jumps are in test_daemon.py.)
"""

from __future__ import annotations

import ast
import contextlib
import os
import random
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import pytest

from broadcaster.records.playlog import Journal
from tests.pulse import Recorder, remove_sink, restore_sink, tone_onsets
from tests.soak import integrity, keep, match_heard
from tests.conftest import SCRIPT
from tests.station import FREQS

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.audio
def test_kill_9_at_random_moments_keeps_the_log_whole_and_nothing_doubled(station, pulse, tmp_path):
    rng = random.Random(7)
    for b in FREQS:
        station.project.write(f"scripts/{b}.txt", "Một.")
    times = [8 + 2.5 * i for i in range(26)]  # t0 + 8 s … t0 + 70.5 s  # an airing every 2.5 s on each zone for a minute
    station.configure([("a", ["za"], t, "normal") for t in times] + [("b", ["zb"], t + 1.2, "normal") for t in times],
                      t0_in=4)
    station.build()
    station.record("zone_a", "zone_b")
    kills = []
    station.wait_until(5)  # the kills fall among the airings
    for _i in range(10):
        station.start()
        time.sleep(rng.uniform(1.0, 6.0))
        kills.append(round(time.time() - station.t0, 2))
        station.proc.send_signal(signal.SIGKILL)
        station.proc.wait()
    station.start()
    station.wait_until(times[-1] + 1.2 + 4)
    assert station.stop() == 0
    heard = {z: r.stop() for z, r in station.recorders.items()}
    assert integrity(station.root / "state" / "playlog.sqlite3") == "ok"
    rows = station.log()
    keys = [(r["zone"], r["scheduled"]) for r in rows]
    assert len(keys) == len(set(keys)), "an airing has two rows"
    expected = len(times) * 2
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    assert len(rows) == expected and "playing" not in statuses, (statuses, kills)
    heard_total, unlogged = 0, 0
    for zone, bulletin in (("zone_a", "a"), ("zone_b", "b")):
        zone_id = "za" if zone == "zone_a" else "zb"
        started = [r for r in rows if r["zone"] == zone_id and r["started"]]
        onsets = tone_onsets(heard[zone], FREQS[bulletin])
        pairs, _delay = match_heard(onsets, [datetime.fromisoformat(r["started"]).timestamp() for r in started])
        # whatever is logged played (or played late) was heard; nothing was heard twice or unlogged
        for r, p in zip(started, pairs):
            if r["status"] in ("played", "late"):
                assert p is not None, (r, kills)
        matched = {p for p in pairs if p is not None}
        heard_total += len(matched)
        unlogged += len(onsets) - len(matched)
    assert unlogged == 0
    keep("kill9", {"kills_at_s": kills, "airings_expected": expected, "rows": len(rows), "statuses": statuses,
                   "heard": heard_total, "heard_without_a_row": unlogged, "doubled": len(keys) - len(set(keys)),
                   "lost": expected - len(rows)})


def _fsize_limited(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@contextlib.contextmanager
def small_disk(folder: Path, kilobytes: int):
    """``folder`` on a tmpfs of this size: a real full disk (ENOSPC). Needs root (CAP_SYS_ADMIN)."""
    folder.mkdir(parents=True, exist_ok=True)
    saved = {p.name: p.read_bytes() for p in folder.iterdir()}
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kilobytes}k", "tmpfs", str(folder)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small disk here: {r.stderr.decode(errors='replace').strip()}")
    try:
        for name, data in saved.items():
            (folder / name).write_bytes(data)
        yield
    finally:
        kept = {p.name: p.read_bytes() for p in folder.iterdir()}
        subprocess.run(["umount", str(folder)], check=True)
        for name, data in kept.items():
            (folder / name).write_bytes(data)


@pytest.mark.parametrize("fmt", ["wav", "mp3"])
def test_disk_full_while_rendering_keeps_the_old_audio(project, fmt):
    project.write("schedule.toml", project.read("schedule.toml").replace('format = "wav"', f'format = "{fmt}"'))
    assert project.run("build").code == 0
    out = project.root / "audio_out" / f"thong-bao.{fmt}"
    before, side = out.read_bytes(), project.read("audio_out/thong-bao.json")
    project.write("scripts/thong_bao.txt", SCRIPT + "\nXin bà con chú ý lắng nghe và thực hiện nghiêm túc.\n")
    with small_disk(project.root / "audio_out", len(before) // 1024 + 64):
        r = project.run("build")
        assert r.code == 1 and "Traceback" not in r.err
        assert f"cannot write audio_out/thong-bao.{fmt}: No space left on device (free some disk space" in r.err, r.err
        assert out.read_bytes() == before and project.read("audio_out/thong-bao.json") == side
        assert not [p for p in (project.root / "audio_out").iterdir() if ".tmp" in p.name]
    assert project.run("build").code == 0 and out.read_bytes() != before  # room again: it renders


def test_disk_full_while_speaking_says_what_stopped_the_voice(project):
    proc = subprocess.run([sys.executable, "-m", "broadcaster", "build"], cwd=project.root, capture_output=True,
                          text=True, preexec_fn=_fsize_limited(1_000), timeout=300)
    assert proc.returncode in (1, 2) and "Traceback" not in proc.stderr, proc.stderr
    assert "File too large" in proc.stderr or "a file grew past the size allowed" in proc.stderr, proc.stderr
    assert not (project.root / "audio_out" / "thong-bao.wav").exists()
    assert not [p for p in project.root.rglob("*") if ".tmp" in p.name]


def _as_nobody() -> list[str]:
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] if os.geteuid() == 0 else []


@pytest.mark.skipif(os.geteuid() == 0 and not shutil.which("setpriv"), reason="needs setpriv to drop root")
def test_read_only_state_folder_is_a_clear_error_at_start(project):
    base = Path(tempfile.mkdtemp(prefix="ro-"))
    try:
        os.chmod(base, 0o755)
        root = base / "project"
        shutil.copytree(project.root, root)
        state = root / "state"
        state.mkdir()
        for p in [root, *root.rglob("*")]:
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        os.chmod(state, 0o555)
        proc = subprocess.run(_as_nobody() + [sys.executable, "-m", "broadcaster", "daemon"], cwd=root,
                              capture_output=True, text=True, timeout=60, env={**os.environ, "HOME": str(base)})
        assert proc.returncode == 1, proc.stderr
        assert "error: cannot use the state folder" in proc.stderr and "Permission denied" in proc.stderr
        assert "(check that it exists and is writable)" in proc.stderr and "Traceback" not in proc.stderr
        assert os.listdir(state) == []
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.audio
def test_sound_card_pulled_out_and_plugged_back(station, pulse, tmp_path):
    pulse.add_sink("zone_usb")
    for b in FREQS:
        station.project.write(f"scripts/{b}.txt", "Một.")
    # 5 s apart: the zone's stream is closed between airings (kept open, it would be moved by PulseAudio
    # with the card gone, see docs/reliability.md), so each airing opens the card anew
    times = [6 + 5 * i for i in range(10)]
    station.configure([("a", ["za"], t, "normal") for t in times], zones={"za": "zone_usb"}, t0_in=3)
    station.build()
    station.start()
    station.wait_until(times[2] + 1.3)
    remove_sink(pulse, "zone_usb")            # pulled out after three airings
    station.wait_until(times[5] + 1.0)
    restore_sink(pulse, "zone_usb")           # back before the eighth
    rec = Recorder(pulse, "zone_usb", tmp_path / "usb.raw")
    station.wait_until(times[-1] + 3)
    assert station.stop() == 0
    x = rec.stop()
    rows = sorted(station.log(), key=lambda r: r["scheduled"])
    status = [r["status"] for r in rows]
    assert len(rows) == len(times) and status[:3] == ["played"] * 3 and status[6:] == ["played"] * 4, \
        ([(r["scheduled"][11:19], r["status"], r["reason"]) for r in rows], station.daemon_log()[-4000:])
    # those prepared while it was out failed, saying why
    gone = rows[3:6]
    assert all(r["status"] == "failed" and "the sound output cannot be opened" in r["reason"] for r in gone), gone
    heard = tone_onsets(x, FREQS["a"])
    assert len(heard) >= 3  # the airings after it came back reached the card
    assert "check that the sound card is plugged in" in station.daemon_log()


def _path_without(*programs: str) -> str:
    """A PATH with the usual programs but not ``programs`` (links in a private folder)."""
    folder = Path(tempfile.mkdtemp(prefix="path-"))
    for name in ("ffmpeg", "ffprobe", "espeak-ng", "espeak"):
        found = shutil.which(name)
        if found and name not in programs:
            (folder / name).symlink_to(found)
    return str(folder)


@pytest.mark.parametrize("missing, fmt, words", [
    ("espeak-ng", "wav", "the espeak-ng program is not installed or not on PATH (install it: apt-get install espeak-ng"),
    ("ffmpeg", "mp3", "ffmpeg is needed to write MP3 files (install ffmpeg: apt-get install ffmpeg"),
])
def test_a_missing_program_is_named_with_its_package(project, missing, fmt, words):
    project.write("schedule.toml", project.read("schedule.toml").replace('format = "wav"', f'format = "{fmt}"'))
    env = {**os.environ, "PATH": _path_without(missing, "ffprobe" if missing == "ffmpeg" else "espeak")}
    proc = subprocess.run([sys.executable, "-m", "broadcaster", "build"], cwd=project.root, capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode in (1, 2) and words in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list((project.root / "audio_out").glob(f"*.{fmt}")) if (project.root / "audio_out").exists() else True


@pytest.mark.audio
def test_play_requests_only_reach_bulletins_and_audio_inside_the_project(station, pulse, tmp_path):
    station.configure([])
    station.build()
    outside = tmp_path / "outside.wav"
    shutil.copy(station.root / "audio_out" / "a.wav", outside)
    (station.root / "link.wav").symlink_to(outside)
    (station.root / "notes.wav").write_text("not audio", encoding="utf-8")
    station.start()
    journal = Journal(station.root / "state")
    now = datetime.now().astimezone()
    targets = [str(outside), str(station.root / "link.wav"), "/etc/passwd", "../outside.wav", "a; rm -rf /",
               str(station.root / "notes.wav"), "a"]
    ids = [journal.add_request(t, "za", "normal", now) for t in targets]
    deadline = time.time() + 20
    while time.time() < deadline and any(journal.request_state(i)[0] in ("pending", "taken") for i in ids):
        time.sleep(0.2)
    states = {t: journal.request_state(i) for t, i in zip(targets, ids)}
    journal.close()
    assert station.stop() == 0
    for t in targets[:-2]:
        assert states[t][0] == "failed" and "is not a bulletin id or an audio file inside the project" in states[t][1]
    assert states[targets[-2]][0] == "failed" and "cannot open notes.wav" in states[targets[-2]][1]
    assert states["a"][0] == "done"
    # from the command line too, with the link resolved
    r = station.project.run("play", "link.wav", "--zone", "za")
    assert r.code == 2 and "is outside the project folder" in r.err


@pytest.mark.audio
def test_state_and_logs_are_readable_by_the_owners_group_only(station, pulse):
    station.configure([("a", ["za"], 3, "normal")], t0_in=2)
    station.build()
    station.start()
    station.wait_until(5)
    assert station.stop() == 0
    state = station.root / "state"
    files = [state, *state.glob("playlog.sqlite3*"), state / "daemon.log", state / "daemon.lock"]
    for p in files:
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode & 0o007 == 0, f"{p.name} is {oct(mode)}: others can read it"
        assert mode & 0o020 == 0, f"{p.name} is {oct(mode)}: the group can write it"


def test_no_shell_is_ever_started_with_user_text():
    """Every subprocess gets an argument list; nothing goes through a shell."""
    for path in (REPO / "broadcaster").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = ast.unparse(node.func)
            assert name not in ("os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput"), \
                f"{path.name}:{node.lineno} {name}"
            if name.startswith("subprocess.") or name.endswith(".Popen"):
                assert not any(k.arg == "shell" for k in node.keywords), f"{path.name}:{node.lineno} shell="
                first = node.args[0] if node.args else None
                assert not isinstance(first, (ast.Constant, ast.JoinedStr, ast.BinOp)), \
                    f"{path.name}:{node.lineno}: a command as one string"
