"""Teaching the reading from the console (issue 38: the officer's guide shows how): an editor writes how an
abbreviation is said; the commune's lexicon has it (made, and named in schedule.toml, when there was
none), the reading of a script says it at once without ⚠, and a bad entry changes nothing."""

from __future__ import annotations

import re

from tests.console import ConsoleServer
from tests.test_web_hardening import CONFIG, logged_in, make_project


def test_an_editor_teaches_a_reading_and_every_script_reads_it_so(tmp_path):
    root = make_project(tmp_path / "project", CONFIG)
    site = ConsoleServer(root, tmp_path / "web.log")
    try:
        editor = logged_in(site, "binh")
        csrf = editor.csrf("/lexicon")
        before = editor.post("/reading", json={"text": "Hội XYZ họp."}, headers={"X-CSRF-Token": csrf}).json()
        assert before["lines"][0]["warnings"], before   # ⚠: spelt letter by letter
        schedule = (root / "schedule.toml").read_bytes()
        for bad in ({"section": "acronyms", "written": "xyz", "spoken": "hội xây dựng"},   # not in capitals
                    {"section": "acronyms", "written": "XYZ", "spoken": "<b>1</b>"},
                    {"section": "phrases", "written": "XYZ", "spoken": "hội"}):
            r = editor.post("/lexicon", data={"csrf": csrf, **bad})
            assert r.status_code == 400 and 'class="warn"' in r.text, (bad, r.status_code)
        assert not (root / "lexicon.toml").exists() and (root / "schedule.toml").read_bytes() == schedule
        r = editor.post("/lexicon", data={"csrf": csrf, "section": "acronyms", "written": "XYZ",
                                          "spoken": "hội xây dựng"})
        assert r.status_code == 200 and "hội xây dựng" in re.search(r'id="taught">([^<]*)', r.text).group(1)
        assert 'XYZ = "hội xây dựng"' in (root / "lexicon.toml").read_text(encoding="utf-8")
        assert 'lexicon = "lexicon.toml"' in (root / "schedule.toml").read_text(encoding="utf-8")
        after = editor.post("/reading", json={"text": "Hội XYZ họp."}, headers={"X-CSRF-Token": csrf}).json()
        assert after["lines"][0] == {"line": "Hội XYZ họp.", "spoken": "Hội hội xây dựng họp.", "warnings": []}
        assert "<td>XYZ</td><td>hội xây dựng</td>" in editor.get("/lexicon").text
        viewer = logged_in(site, "em")   # an account that may only look
        assert viewer.post("/lexicon", data={"csrf": viewer.csrf("/"), "section": "acronyms", "written": "ABC",
                                             "spoken": "a bê xê"}).status_code == 403
    finally:
        site.stop()
