"""A private Icecast2 server on 127.0.0.1 fed by ffmpeg with a known tone, and a small HLS server:
the live sources a relay test listens to."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.fleet import free_port, wait_for_port

PASSWORD = "source-secret"


class Icecast:
    def __init__(self, folder: Path):
        exe = shutil.which("icecast2") or shutil.which("icecast")
        if not exe:
            raise RuntimeError("icecast2 is not installed: apt-get install icecast2 (make test does)")
        self.port = free_port()
        folder.mkdir(parents=True, exist_ok=True)
        # its logs where the unprivileged user it becomes can write (pytest's folders are private)
        self.logs = logs = Path(tempfile.mkdtemp(prefix="icecast-"))
        os.chmod(logs, 0o777)
        share = Path("/usr/share/icecast2")
        # icecast refuses to run as root: it then drops to nobody, as the Debian service does
        owner = ("<changeowner><user>nobody</user><group>nogroup</group></changeowner>" if os.getuid() == 0 else "")
        (folder / "icecast.xml").write_text(f"""<icecast>
  <limits><sources>8</sources><burst-size>65536</burst-size><source-timeout>3</source-timeout></limits>
  <authentication><source-password>{PASSWORD}</source-password><admin-user>admin</admin-user>
    <admin-password>{PASSWORD}</admin-password></authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket><port>{self.port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <paths><basedir>{share}</basedir><logdir>{logs}</logdir><webroot>{share}/web</webroot>
    <adminroot>{share}/admin</adminroot></paths>
  <logging><errorlog>error.log</errorlog><loglevel>2</loglevel></logging>
  <security><chroot>0</chroot>{owner}</security>
</icecast>
""")
        self.proc = subprocess.Popen([exe, "-c", str(folder / "icecast.xml")], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.proc, "icecast2", seconds=10)
        self.feeds: dict[str, subprocess.Popen] = {}

    def url(self, mount: str) -> str:
        return f"http://127.0.0.1:{self.port}/{mount}"

    def feed(self, mount: str, freq: float, *, wait: bool = True) -> None:
        """A tone streamed live (MP3, in real time) to ``mount``, as a radio station's encoder does."""
        self.feeds[mount] = subprocess.Popen(
            ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i",
             f"sine=frequency={freq}:sample_rate=44100", "-af", "volume=0.25", "-c:a", "libmp3lame",
             "-b:a", "96k", "-content_type", "audio/mpeg", "-f", "mp3",
             f"icecast://source:{PASSWORD}@127.0.0.1:{self.port}/{mount}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while wait and not self.live(mount):
            assert time.monotonic() < deadline, f"the feed to /{mount} did not start"
            time.sleep(0.1)

    def live(self, mount: str) -> bool:
        import urllib.request
        try:
            with urllib.request.urlopen(self.url(mount), timeout=1) as r:
                return len(r.read(1024)) > 0
        except OSError:
            return False

    def cut(self, mount: str) -> None:
        """The station's encoder stops (the link to it dropped)."""
        p = self.feeds.pop(mount)
        p.kill()
        p.wait()

    def stop(self) -> None:
        for p in list(self.feeds.values()) + [self.proc]:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(self.logs, ignore_errors=True)


class HLS:
    """A live HLS stream (ffmpeg writing 1-second AAC segments) served over HTTP, with a web page
    beside it (a wrong address a technician might copy)."""

    def __init__(self, folder: Path, freq: float):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "page.html").write_text("<!doctype html><html><body>Nghe trực tuyến</body></html>")
        self.writer = subprocess.Popen(
            ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i",
             f"sine=frequency={freq}:sample_rate=44100", "-af", "volume=0.25", "-c:a", "aac", "-b:a", "64k",
             "-f", "hls", "-hls_time", "1", "-hls_list_size", "6", "-hls_flags", "delete_segments",
             str(folder / "live.m3u8")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        deadline = time.monotonic() + 15
        while not (folder / "live.m3u8").exists() or (folder / "live.m3u8").read_text().count(".ts") < 3:
            assert time.monotonic() < deadline, "the HLS writer did not start"
            time.sleep(0.2)

    def stop(self) -> None:
        self.writer.kill()
        self.writer.wait()
        self.server.shutdown()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def icecast(tmp_path):
    server = Icecast(tmp_path / "icecast")
    yield server
    server.stop()
