"""Feedback while work is under way: on a terminal, a line that says what is being done;
into a file or a pipe, only the results (no control characters)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys


def on_a_terminal(root, *args: str) -> tuple[int, str]:
    """Run broadcaster with its stderr on a pseudo-terminal; what the terminal showed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "broadcaster", *args], cwd=root, stdout=subprocess.DEVNULL,
                            stderr=slave, env={**os.environ, "COLUMNS": "120"})
    os.close(slave)
    shown = b""
    while True:
        ready, _w, _x = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    return proc.wait(60), shown.decode("utf-8", "replace")


def test_build_says_which_sentence_it_is_on(project):
    code, shown = on_a_terminal(project.root, "build")
    assert code == 0, shown
    assert "Rendering thong-bao (1 of 1)…" in shown
    assert "Rendering thong-bao (1 of 1): sentence 1 of 3" in shown and "sentence 3 of 3" in shown
    code, shown = on_a_terminal(project.root, "--lang", "vi", "build", "--force")
    assert "Đang tạo âm thanh thong-bao (1/1): câu 3/3" in shown


def test_check_and_report_show_progress_on_a_terminal(project):
    code, shown = on_a_terminal(project.root, "check")
    assert "Checking" in shown and "thong-bao" in shown
    project.write("schedule.toml", project.read("schedule.toml") + '[zones.xa]\nname = "Xã"\n')
    code, shown = on_a_terminal(project.root, "report", "-o", "r.csv")
    assert code == 0 and "Counting" in shown


def test_no_progress_in_a_pipe(project):
    r = subprocess.run([sys.executable, "-m", "broadcaster", "build"], cwd=project.root, capture_output=True,
                       text=True)
    assert r.returncode == 0 and "\r" not in r.stderr and "\x1b" not in r.stderr + r.stdout
    assert "built" in r.stdout
