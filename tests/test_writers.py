"""Every writer of schedule.toml holds one lock across processes (issue 36, item 4): 20 writers at once, through
the API, the console's page and the command line, all land; the same title four times at once lands once and
the others are told why; the file loads and nothing is left behind. A real console over HTTP, real CLIs."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import httpx

from tests.console import ConsoleServer
from tests.test_api import token


def test_twenty_writers_at_once_lose_nothing_and_leave_nothing_behind(tmp_path):
    from tests.test_places import PLACES
    from tests.test_web_hardening import logged_in, make_project
    root = make_project(tmp_path / "project", PLACES)
    editor = token(root, "tinh-bt", "editor")
    for i in range(2):
        (root / f"c{i}.csv").write_text(f"id,name,village\ncum_x{i},Cụm loa mới {i},Thôn {i}\n", encoding="utf-8")
    server = ConsoleServer(root, tmp_path / "web.log")
    people = [logged_in(server, "binh") for _ in range(4)]
    tokens = [p.csrf("/compose") for p in people]
    env = {**os.environ, "LANG": "C.UTF-8"}
    results: dict[str, tuple] = {}
    start = threading.Barrier(24)

    def api(i: int, title: str) -> None:
        start.wait()
        r = httpx.post(server.url + "/api/v1/bulletins", timeout=60, headers={"Authorization": f"Bearer {editor}"},
                       json={"title": title, "text": f"Thông báo số {i}.", "times": ["05:30"], "zones": ["cum_1"]})
        results[f"api{i}"] = (r.status_code, r.text)

    def page(i: int) -> None:
        start.wait()
        r = people[i].post("/compose", data={"csrf": tokens[i], "title": f"Trang {i}", "text": "Xin chào bà con.",
                                             "times": "06:00", "place": ["cum_2"], "priority": "normal"})
        results[f"page{i}"] = (r.status_code, r.text[-300:])

    def command(i: int) -> None:
        start.wait()
        r = subprocess.run([sys.executable, "-m", "broadcaster", "zones", "import", f"c{i}.csv"], cwd=root, env=env,
                           capture_output=True, text=True, timeout=120)
        results[f"cli{i}"] = (r.returncode, r.stderr)

    jobs = ([threading.Thread(target=api, args=(i, f"Tin {i}")) for i in range(14)]
            + [threading.Thread(target=api, args=(14 + i, "Cùng một tin")) for i in range(4)]
            + [threading.Thread(target=page, args=(i,)) for i in range(4)]
            + [threading.Thread(target=command, args=(i,)) for i in range(2)])
    try:
        for j in jobs:
            j.start()
        for j in jobs:
            j.join(120)
    finally:
        server.stop()
    assert [k for k, (code, _t) in results.items() if code == 500] == [], results
    assert all(results[f"api{i}"][0] == 201 for i in range(14)), results
    assert all(results[f"page{i}"][0] == 303 for i in range(4)), results
    assert all(results[f"cli{i}"][0] == 0 for i in range(2)), results
    same = sorted(results[f"api{i}"][0] for i in range(14, 18))
    assert same == [201, 400, 400, 400], results   # the same title: once, the others told it exists
    from broadcaster.config import load_config
    cfg = load_config(root / "schedule.toml")
    assert {f"tin-{i}" for i in range(14)} | {f"trang-{i}" for i in range(4)} | {"cung-mot-tin"} <= set(cfg.bulletins)
    assert {"cum_x0", "cum_x1"} <= set(cfg.zones)
    scripts = {p.name for p in (root / "scripts").glob("*.txt")}
    assert scripts == {"thong_bao.txt", "cung_mot_tin.txt", *(f"tin_{i}.txt" for i in range(14)),
                       *(f"trang_{i}.txt" for i in range(4))}, scripts   # no script without its bulletin
    left = [p.name for p in root.iterdir() if p.name.startswith(".schedule.toml.") and not p.name.endswith(".lock")]
    assert left == [], left
