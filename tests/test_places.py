"""Clusters at scale (issue 29): zones with a place, [groups] (nested), slots and `play` aimed at groups,
and `zones import` of a vendor's cluster list, refused with file:line when it is wrong."""

from __future__ import annotations

import json

import pytest

from tests.conftest import BASE_CONFIG

PLACES = BASE_CONFIG + """
# the commune's clusters (a comment that must survive an import)
[zones.cum_1]
name = "Cụm loa thôn 1"
village = "Thôn 1"
aliases = ["Xã Quảng An cũ"]
lat = 16.4637
lon = 107.5909
kind = "wired"

[zones.cum_2]
name = "Cụm loa thôn 2"

[zones.cum_3]
name = "Cụm loa bến đò"

[groups]
song = ["cum_1", "cum_2"]   # along the river
ca_xa = ["group:song", "cum_3"]

[[slots]]
bulletin = "thong-bao"
zones = ["group:ca_xa"]
at = ["05:30"]
"""


def test_zones_have_a_place_and_groups_nest_into_zone_ids(project):
    from broadcaster.config import load_config
    project.write("schedule.toml", PLACES)
    cfg = load_config(project.root / "schedule.toml")
    z = cfg.zones["cum_1"]
    assert (z.village, z.aliases, z.position, z.kind) == ("Thôn 1", ("Xã Quảng An cũ",), (16.4637, 107.5909), "wired")
    assert cfg.zones["cum_2"].kind == "ip"
    assert cfg.groups == {"song": ("cum_1", "cum_2"), "ca_xa": ("cum_1", "cum_2", "cum_3")}
    assert cfg.slots[0].zones == ("cum_1", "cum_2", "cum_3")
    r = project.run("next", "--json", "--days", "1")
    assert {a["zone"] for a in json.loads(r.out)} == {"cum_1", "cum_2", "cum_3"}


def test_mistakes_in_places_and_groups_are_named_with_their_line(project):
    bad = (PLACES.replace('kind = "wired"', 'kind = "radio"').replace("lon = 107.5909", "lon = 407.5")
           .replace('song = ["cum_1", "cum_2"]', 'song = ["cum_1", "cum_9", "group:ca_xa"]')
           .replace('zones = ["group:ca_xa"]', 'zones = ["group:nui"]'))
    project.write("schedule.toml", bad)
    r = project.run("check")
    assert r.code == 2
    for words in ("kind must be one of ip, wired, fm", "lat and lon must be degrees", 'zone "cum_9" is not defined',
                  'group "nui" is not defined'):
        assert words in r.err, (words, r.err)
    assert "schedule.toml:" in r.err and "Traceback" not in r.err
    project.write("schedule.toml", PLACES.replace('song = ["cum_1", "cum_2"]', 'song = ["cum_1", "group:ca_xa"]'))
    r = project.run("check")
    assert r.code == 2 and "groups contain each other" in r.err


CSV = """id,name,village,lat,lon,kind,station
cum_4,Cụm loa chợ,Thôn 4,16.47,107.6,ip,
cum_5,Cụm loa trường học,Thôn 5,16.48,107.61,fm,
cum_2,Cụm loa thôn 2 (mới),Thôn 2,,,wired,
"""


def test_zones_import_adds_clusters_keeps_comments_and_puts_them_in_a_group(project):
    project.write("schedule.toml", PLACES)
    project.write("clusters.csv", CSV)
    r = project.run("zones", "import", "clusters.csv", "--group", "moi")
    assert r.code == 0, r.err
    assert "2 cluster(s) added, 1 updated" in r.out
    text = project.read("schedule.toml")
    assert "# the commune's clusters (a comment that must survive an import)" in text and "# along the river" in text
    from broadcaster.config import load_config
    cfg = load_config(project.root / "schedule.toml")
    assert cfg.zones["cum_5"].kind == "fm" and cfg.zones["cum_5"].position == (16.48, 107.61)
    assert cfg.zones["cum_2"].name == "Cụm loa thôn 2 (mới)" and cfg.zones["cum_2"].village == "Thôn 2"
    assert cfg.groups["moi"] == ("cum_4", "cum_5", "cum_2")


def test_zones_import_refuses_a_bad_csv_with_file_and_line_and_writes_nothing(project):
    project.write("schedule.toml", PLACES)
    before = project.read("schedule.toml")
    project.write("bad.csv", "id,name,village,lat,lon,kind,station\ncum_4,Cụm loa chợ,,16.4,north,ip,\n"
                             "Cum 5!,,,,,laser,\ncum_4,Lặp lại,,,,ip,\n")
    r = project.run("zones", "import", "bad.csv")
    assert r.code == 2
    assert "bad.csv:2: lat and lon must be degrees" in r.err
    assert 'bad.csv:3: id "Cum 5!" may use only' in r.err and "bad.csv:3: the cluster has no name" in r.err
    assert "bad.csv:3: kind must be one of ip, wired, fm" in r.err and 'bad.csv:4: id "cum_4" is also on line 2' in r.err
    assert project.read("schedule.toml") == before
    project.write("noheader.csv", "cum_4,Cụm loa chợ\n")
    r = project.run("zones", "import", "noheader.csv")
    assert r.code == 2 and "noheader.csv:1: the first line must name the columns" in r.err
    # saved in another encoding (UTF-16 from an old Excel): said so, with what to do
    project.write("latin1.csv", "id,name\ncum_9,Cụm loa thôn\n".encode("utf-16"))
    r = project.run("zones", "import", "latin1.csv")
    assert r.code == 2 and "is not UTF-8" in r.err and "CSV UTF-8" in r.err
    assert project.read("schedule.toml") == before


@pytest.mark.audio
def test_play_on_a_group_reaches_every_zone_of_it(station):
    from tests.pulse import tone_onsets
    from tests.station import FREQS
    station.configure([("a", ["za"], 3600, "normal")],
                      extra=lambda when: ["[groups]", 'ca_xa = ["za", "zb"]'])
    station.build()
    station.record("zone_a", "zone_b")
    station.start()
    r = station.project.run("play", "b", "--group", "ca_xa")
    assert r.code == 0, r.out + r.err
    assert "2 zone(s): za, zb" in r.out and r.out.count("played") == 2
    r = station.project.run("play", "b", "--group", "ca_so")
    assert r.code == 2 and 'no group "ca_so"' in r.err and "ca_xa" in r.err
    assert station.stop() == 0
    for sink in ("zone_a", "zone_b"):
        assert tone_onsets(station.recorders.pop(sink).stop(), FREQS["b"]), sink
    rows = station.log()
    assert sorted((x["zone"], x["bulletin"], x["status"]) for x in rows) == [("za", "b", "played"),
                                                                             ("zb", "b", "played")]


def test_an_account_limited_to_a_village_plays_only_there(tmp_path):
    """A village head (technician limited to group:thon_1) may play on their village's clusters and nowhere
    else: another zone, another group or a station is refused with 403, audited, and nothing is queued."""
    from tests.console import PASSWORD, ConsoleServer, add_user
    from tests.test_web_hardening import make_project, pending_requests
    config = PLACES.replace("[groups]", '[groups]\nthon_1 = ["cum_1"]')
    root = make_project(tmp_path / "project", config)
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "broadcaster", "user", "add", "truong_thon", "--role", "technician",
                        "--places", "group:thon_1"], cwd=root, input=f"{PASSWORD}\n{PASSWORD}\n", capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-m", "broadcaster", "user", "add", "xem", "--role", "viewer", "--places",
                        "group:nowhere"], cwd=root, input=f"{PASSWORD}\n{PASSWORD}\n", capture_output=True, text=True)
    assert r.returncode == 2 and "group:nowhere: no such zone or group" in r.stderr
    server = ConsoleServer(root, tmp_path / "web.log")
    try:
        c = server.client()
        assert c.login("truong_thon").status_code == 303
        page = c.get("/play").text
        assert 'value="cum_1"' in page and 'value="cum_2"' not in page and 'value="thon_1"' in page
        token = c.csrf("/play")
        for form in ({"zone": "cum_2"}, {"group": "song"}, {"zone": ["cum_1", "cum_3"]}):
            r = c.post("/play", data={"csrf": token, "bulletin": "thong-bao", "priority": "normal", **form})
            assert r.status_code == 403 and "may play only on group:thon_1" in r.text, (form, r.status_code)
        r = c.post("/play", data={"csrf": token, "bulletin": "thong-bao", "priority": "normal", "group": "thon_1"})
        assert r.status_code == 409 and "no daemon serves cum_1" in r.text   # allowed: only no daemon runs here
        assert pending_requests(root) == []
        admin = server.client()
        assert admin.login("an").status_code == 303
        r = admin.post("/users", data={"csrf": admin.csrf("/users"), "action": "places", "name": "truong_thon",
                                       "places": "cum_2"})
        assert r.status_code == 303
        assert c.get("/play").status_code == 303   # a change of places ends the account's sessions
    finally:
        server.stop()
    from broadcaster.records.accounts import Accounts
    a = Accounts(root / "state")
    try:
        assert a.get("truong_thon").places == ("cum_2",)
        assert sum(1 for x in a.trail() if x[3] == "refused" and x[1] == "truong_thon") == 3
    finally:
        a.close()


def test_the_clusters_page_lists_filters_and_draws_them_by_position(tmp_path):
    import re
    from tests.console import ConsoleServer
    from tests.test_web_hardening import logged_in, make_project
    config = PLACES.replace('[zones.cum_2]\nname = "Cụm loa thôn 2"',
                            '[zones.cum_2]\nname = "Cụm loa thôn 2"\nvillage = "Thôn 2"\nlat = 16.47\nlon = 107.62')
    root = make_project(tmp_path / "project", config)
    server = ConsoleServer(root, tmp_path / "web.log")
    try:
        c = logged_in(server, "em")
        page = c.get("/clusters").text
        assert all(f"<tr data-zone=\"{z}\"" in page for z in ("cum_1", "cum_2", "cum_3"))
        dots = dict(re.findall(r'<circle cx="([\d.]+)" cy="[\d.]+" r="2.2" class="dot \w+" data-zone="(\w+)"', page))
        assert set(dots.values()) == {"cum_1", "cum_2"}            # only the clusters with a position
        x = {z: float(v) for v, z in dots.items()}
        assert x["cum_1"] < x["cum_2"]                              # 107.59 is west of 107.62
        assert "no daemon" in page                                  # no daemon runs here: every cluster says so
        one = c.get("/clusters?village=Thôn 2").text
        assert '<tr data-zone="cum_2"' in one and '<tr data-zone="cum_1"' not in one
        song = c.get("/clusters?group=song").text
        assert '<tr data-zone="cum_1"' in song and '<tr data-zone="cum_3"' not in song and "2 / 3" in song
    finally:
        server.stop()


def test_zones_import_says_which_commune_an_old_address_belongs_to_since_2025(project):
    """The old→new map of vietnam-address-converter, offline: a vendor's list still has pre-2025 addresses."""
    project.write("schedule.toml", PLACES)
    project.write("clusters.csv", "id,name,village,address\n"
                  "cum_9,Cụm loa bến đò,Thôn Đông,\"Thôn Đông, Xã Quảng An, Huyện Quảng Điền, Tỉnh Thừa Thiên Huế\"\n"
                  "cum_8,Cụm loa chợ,Thôn Tây,\"Không phải một địa chỉ\"\n")
    r = project.run("zones", "import", "clusters.csv")
    assert r.code == 0, r.err
    lines = [x for x in r.out.splitlines() if "since 1/7/2025" in x]
    assert len(lines) == 1 and "cum_9" in lines[0] and "Xã Quảng Điền, Thành phố Huế" in lines[0], r.out


def test_zones_import_keeps_every_line_where_it_was_and_writes_its_tables_as_a_person_does(project):
    """Issue 38, 13: a table written by hand after the slots stays there, every line of the file stays in
    order, and the new clusters' tables are set apart by a blank line (one was glued to the next [[slots]])."""
    text = PLACES.replace("[groups]", '[[slots]]\nbulletin = "thong-bao"\nzones = ["cum_1"]\nat = ["05:30"]\n\n'
                                      '[zones.cum_9]   # written by hand after the slots\nname = "Cụm 9"\n\n[groups]')
    project.write("schedule.toml", text)
    project.write("b.csv", "id,name,village\ncum_7,Cụm bảy,Thôn 7\ncum_8,Cụm tám,Thôn 8\n")
    r = project.run("zones", "import", "b.csv")
    assert r.code == 0, r.err
    after = project.read("schedule.toml")
    kept = iter(after.splitlines())
    assert all(line in kept for line in text.splitlines()), after   # every line, in order
    lines = after.splitlines()
    for zone in ("cum_7", "cum_8"):
        i = lines.index(f"[zones.{zone}]")
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("["))
        assert lines[end - 1] == "", after   # a blank line before whatever table follows
    assert after.index("[zones.cum_9]") > after.index("[[slots]]")   # the hand-written table did not move


def test_compose_and_calendar_changes_keep_every_line_where_it_was(project):
    """The same for a new announcement and the calendar's changes: a TOML library writing the whole file moved
    a [[slots]] entry written after other tables up to the first; now each writer adds its lines and no other."""
    from datetime import date, datetime
    from broadcaster.config import load_config
    from broadcaster.config.calendar import write_calendar
    from broadcaster.config.compose import Announcement, save_announcement
    text = PLACES.replace("[groups]", '[[slots]]\nbulletin = "thong-bao"\nzones = ["cum_1"]\nat = ["05:30"]\n\n'
                                      '[zones.cum_9]   # written by hand after the slots\nname = "Cụm 9"\n\n[groups]')
    project.write("schedule.toml", text)
    path = project.root / "schedule.toml"
    load = (lambda p: load_config(p))
    aid = save_announcement(load(path), Announcement(title="Họp dân", text="Mời bà con đi họp.", times=["07:00"],
                                                     zones=["cum_2"]), load)
    write_calendar(load(path), load, holiday=date(2026, 9, 2))
    write_calendar(load(path), load, change={"bulletin": aid, "at": datetime(2026, 12, 8, 7), "cancel": True})
    after = path.read_text(encoding="utf-8")
    kept = iter(after.splitlines())
    assert all(line in kept for line in text.splitlines()), after   # every line, in order
    cfg = load(path)
    assert aid in cfg.bulletins and date(2026, 9, 2) in cfg.skip and len(cfg.changes) == 1
    assert after.index("[zones.cum_9]") > after.index('bulletin = "thong-bao"\nzones = ["cum_1"]')


def test_a_group_has_a_name_people_read_shown_on_every_page_that_offers_it(tmp_path):
    """Issue 38, 8: the console showed group ids ("ben_song (2)"); a group written as a table has a display
    name, shown wherever a person picks or reads it, its id still what forms and slots use."""
    from broadcaster.config import load_config
    from tests.console import ConsoleServer
    from tests.test_web_hardening import logged_in, make_project
    config = PLACES.replace('song = ["cum_1", "cum_2"]   # along the river',
                            'song = { name = "Thôn Bến Sông", zones = ["cum_1", "cum_2"] }   # along the river')
    root = make_project(tmp_path / "project", config)
    cfg = load_config(root / "schedule.toml")
    assert cfg.groups["song"] == ("cum_1", "cum_2") and cfg.groups["ca_xa"] == ("cum_1", "cum_2", "cum_3")
    assert cfg.group_name("song") == "Thôn Bến Sông" and cfg.group_name("ca_xa") == "ca_xa"
    server = ConsoleServer(root, tmp_path / "web.log")
    try:
        c = logged_in(server, "an")
        for page in ("/play", "/compose", "/emergency", "/clusters"):
            text = c.get(page).text
            assert "Thôn Bến Sông" in text and ">song<" not in text and "> song (" not in text, page
        assert 'value="song"' in c.get("/play").text   # the form still sends the id
    finally:
        server.stop()
    from tests.fleet import cli
    (root / "schedule.toml").write_text(PLACES.replace('song = ["cum_1", "cum_2"]', 'song = { title = "x", zones = ["cum_1"] }'),
                                        encoding="utf-8")
    r = cli(root, "check")
    assert r.code == 2 and "schedule.toml:" in r.err and 'group song as a table has name = "…"' in r.err, r.err
