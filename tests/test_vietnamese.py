"""Vietnamese everywhere (issue 38, 6): every page of the console an officer opens, and the report it
makes, read in Vietnamese, through a real `broadcaster web`. What would give English away is taken from
the catalogue itself: any English message that has a translation must not show on a Vietnamese page
(the report was made in the process's language, English, whatever the page's)."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import polib
import pytest

from broadcaster.i18n import CATALOGUE_DIR
from broadcaster.web.app import page_table
from tests.conftest import BASE_CONFIG
from tests.test_web_hardening import CONFIG, concrete, logged_in, make_project
from tests.console import ConsoleServer


def telltales() -> list[str]:
    """English messages of two words or more (no fields, no markup) whose Vietnamese differs."""
    out = []
    for e in polib.pofile(str(CATALOGUE_DIR / "vi.po")):
        text = e.msgid.strip()
        if (e.msgstr and e.msgstr != e.msgid and re.fullmatch(r"[A-Za-z][a-z]+(?: [a-z]+)+", text)
                and len(text) >= 8):
            out.append(text)
    return out


def visible(page: str) -> str:
    """The text a person reads: no scripts, styles or tags, entities decoded."""
    page = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", page)
    return html.unescape(re.sub(r"(?s)<[^>]+>", " ", page))


SLOT = ('[[slots]]\nbulletin = "thong-bao"\nzones = ["xa"]\nat = ["03:07", "17:00"]\ndays = "tue"\n'
        'priority = "priority"\n')


@pytest.fixture
def site(tmp_path):
    root = make_project(tmp_path / "project", CONFIG + SLOT)
    server = ConsoleServer(root, tmp_path / "web.log")
    yield server
    server.stop()


def test_every_page_and_the_report_read_in_vietnamese(site):
    words = telltales()
    assert {"on time", "missed"} & set(words) or "Broadcast report" in words, words[:20]
    editor = logged_in(site, "binh")   # a version waits for approval: its slots are summed up on /approval
    r = editor.post("/scripts/thong_bao.txt", data={"csrf": editor.csrf("/bulletins"), "text": "Kính thưa bà con.\n",
                                                    "action": "submit"})
    assert r.status_code == 303, r.text
    admin = logged_in(site, "an")
    admin.headers["Accept-Language"] = "vi-VN,vi;q=0.9"   # as a commune officer's phone asks
    today = date.today()
    paths = sorted({concrete(p.path) for p in page_table() if "GET" in p.rights and not p.path.startswith("/api/")
                    and p.path not in ("/logout",)})
    paths.append(f"/report?from={(today - timedelta(days=6)).isoformat()}&to={today.isoformat()}")
    found = {}
    for path in paths:
        r = admin.get(path)
        if r.status_code != 200 or "html" not in r.headers.get("content-type", ""):
            continue
        text = visible(r.text)
        english = [w for w in [*words, "zone(s)", "tue", "high priority"]
                   if re.search(rf"(?<![A-Za-z]){re.escape(w)}(?![A-Za-z])", text)]
        if english:
            found[path] = english
    assert not found, found
    page = visible(admin.get("/approval").text)   # (issue 38, 6: "03:07, 17:00 · tue · 1 zone(s) · priority")
    assert "03:07, 17:00 · T3 · 1 vùng · ưu tiên" in page, page[-1500:]


def test_normalize_explains_in_vietnamese(tmp_path):
    """`--lang vi normalize --explain` tags each rewrite with its rule's Vietnamese name (issue 38, 6:
    "[service number]"), every rule's name being in the catalogue (tools/messages.py collects them)."""
    import subprocess
    import sys
    line = "Liên hệ Công an xã hoặc 113, đường dây nóng 0912.345.678 trước 7h30 ngày 5/8.\n"
    r = subprocess.run([sys.executable, "-m", "broadcaster", "--lang", "vi", "normalize", "--explain"], input=line,
                       capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r.stderr
    tags = re.findall(r"\[([^\]]+)\]\s*$", r.stdout, re.M)
    assert "số khẩn cấp" in tags and "ngày và tháng" in tags, r.stdout
    english = {e.msgid for e in polib.pofile(str(CATALOGUE_DIR / "vi.po")) if e.msgstr and e.msgstr != e.msgid}
    assert not [t for t in tags if t in english], r.stdout


PLACES = (BASE_CONFIG + '[zones.ben_song]\nname = "Cụm loa Bến Sông"\n[zones.thon_mot]\nname = "Cụm loa Thôn Một"\n'
          '[groups]\nven_song = { name = "Các cụm ven sông", zones = ["ben_song", "thon_mot"] }\n[approval]\n'
          'required = true\n[[slots]]\nbulletin = "thong-bao"\nzones = ["group:ven_song"]\nat = ["03:07"]\n')


def test_every_page_names_places_as_people_read_them(tmp_path):
    """Issue 38, 8: where a group or a cluster has a name, a person reads the name, never the id
    ("ben_song", "ven_song"), on every page (ids stay in forms and addresses, which no one reads)."""
    root = make_project(tmp_path / "project", PLACES)
    site = ConsoleServer(root, tmp_path / "web.log")
    try:
        admin = logged_in(site, "an")
        r = admin.post("/play", data={"csrf": admin.csrf("/play"), "bulletin": "thong-bao", "zone": "ben_song",
                                      "priority": "normal"})   # (no daemon: a request that waits, with its zone)
        paths = sorted({concrete(p.path) for p in page_table() if "GET" in p.rights
                        and not p.path.startswith("/api/") and p.path not in ("/logout",)})
        found = {}
        for path in paths:
            r = admin.get(path)
            if r.status_code != 200 or "html" not in r.headers.get("content-type", ""):
                continue
            ids = [i for i in ("ben_song", "thon_mot", "ven_song", "thong-bao") if re.search(rf"\b{i}\b", visible(r.text))]
            if ids:
                found[path] = ids
        assert not found, found
    finally:
        site.stop()
