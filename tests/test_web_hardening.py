"""The console tried as an attacker would (issue 27), over HTTP against a real `broadcaster web`:
every route × method × role from the app's own route table, HEAD, bodies of any size, sessions
that must end, approvals that must match what was shown, and what the console leaves on disk."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest

from broadcaster.records.accounts import RIGHTS
from broadcaster.web.app import STATIC, page_table
from broadcaster.web.common import PUBLIC
from tests.conftest import BASE_CONFIG, REPO, SCRIPT
from tests.console import PASSWORD, ConsoleServer, Person, add_user

ROLES = {"an": "admin", "binh": "editor", "chi": "approver", "dung": "technician", "em": "viewer"}
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
CONFIG = BASE_CONFIG + '[zones.xa]\nname = "Xã A"\n[approval]\nrequired = true\n'


def make_project(root: Path, config: str = CONFIG) -> Path:
    (root / "scripts").mkdir(parents=True)
    (root / "jingles").mkdir()
    for name in ("mo_dau.wav", "ket_thuc.wav"):
        (root / "jingles" / name).write_bytes((REPO / "jingles" / name).read_bytes())
    (root / "schedule.toml").write_text(config, encoding="utf-8")
    (root / "scripts" / "thong_bao.txt").write_text(SCRIPT, encoding="utf-8")
    for name, role in ROLES.items():
        add_user(root, name, role)
    return root


@pytest.fixture
def site(tmp_path):
    root = make_project(tmp_path / "project")
    server = ConsoleServer(root, tmp_path / "web.log")
    server.root = root
    yield server
    server.stop()


def logged_in(server, name: str) -> Person:
    c = server.client()
    assert c.login(name).status_code == 303
    return c


def pending_requests(root: Path) -> list:
    from broadcaster.records.playlog import Journal
    j = Journal(root / "state")
    try:
        return j.store.read("SELECT target, zone, priority FROM requests")
    finally:
        j.close()


def state_of_disk(root: Path) -> dict:
    """Everything a request could change: every file (the databases as their rows), less the audit
    trail, failed log-ins and a session's last-seen time, which a refused request may write."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and ".sqlite3" not in p.name:
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    for db_file in sorted((root / "state").glob("*.sqlite3")):
        with sqlite3.connect(db_file) as db:
            for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'"):
                if table in ("audit", "failures"):
                    continue
                cols = [r[1] for r in db.execute(f"PRAGMA table_info({table})") if r[1] != "seen"]
                out[f"{db_file.name}:{table}"] = sorted(map(repr, db.execute(f"SELECT {', '.join(cols)} FROM {table}")))
    return out


def concrete(path: str) -> str:
    return (re.sub(r"\{path:path\}", "thong_bao.txt", path).replace("{bulletin}", "thong-bao")
            .replace("{eid:int}", "1"))


# --- the whole table ------------------------------------------------------------------------


def test_every_route_method_and_role_is_allowed_exactly_as_the_rights_table_says(site):
    """Generated from the app's own route table: a route added later is covered without anyone
    remembering to add it. What is refused changes nothing on disk."""
    root = site.root
    clients: dict[str | None, Person] = {None: site.client()}
    for name in ROLES:
        clients[name] = logged_in(site, name)
    tokens = {who: c.csrf("/" if who else "/login") for who, c in clients.items()}
    pages = [*page_table(), STATIC]
    assert {"/play", "/users", "/approval", "/scripts/{path:path}", "/logout"} <= {p.path for p in pages}
    checked = 0
    for page in pages:
        path = concrete(page.path) if page is not STATIC else "/static/app.css"
        for who in [None, *ROLES]:
            for method in METHODS:
                declared = page.rights.get("GET" if method == "HEAD" else method)
                right = declared
                role = ROLES.get(who)
                allowed = declared is not None and (right == PUBLIC or (role is not None and role in RIGHTS[right]))
                before = None if allowed else state_of_disk(root)
                c = clients[who]
                data = {"csrf": tokens[who]} if method not in ("GET", "HEAD", "OPTIONS") else None
                r = c.request(method, path, data=data)
                refused = (r.status_code in (403, 405, 413)   # or sent to log in (a GET with no session)
                           or (r.status_code == 303 and r.headers["location"].startswith("/login?next=")))
                assert refused != allowed, (method, path, who, r.status_code, r.text[:200])
                if not allowed:
                    assert state_of_disk(root) == before, (method, path, who)
                checked += 1
                if path == "/logout" and allowed and who:   # that ended the session: start another
                    clients[who] = logged_in(site, who)
                    tokens[who] = clients[who].csrf("/")
    assert checked == len(pages) * len(METHODS) * (len(ROLES) + 1)


# --- 1. HEAD ------------------------------------------------------------------------------


def test_head_is_a_get_without_effects_and_other_methods_need_the_token(site):
    c = logged_in(site, "dung")   # a technician: may play
    form = {"bulletin": "thong-bao", "zone": "xa", "priority": "normal"}
    r = c.request("HEAD", "/play", data=form)
    assert r.status_code == 200 and r.content == b""
    for method in ("PUT", "DELETE", "PATCH"):
        assert c.request(method, "/play", data=form).status_code in (403, 405)
    assert pending_requests(site.root) == []


# --- 2 and 3. Sessions end on the server ---------------------------------------------------


def test_logout_makes_the_saved_cookie_worthless(site):
    c = logged_in(site, "em")
    saved = dict(c.cookies)
    assert c.post("/logout", data={"csrf": c.csrf("/")}).status_code == 303
    thief = Person(site.url)
    thief.cookies.update(saved)
    r = thief.get("/")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_an_account_removed_and_added_again_does_not_revive_its_old_sessions(site):
    old = Person(site.url)
    add_user(site.root, "tam", "viewer")
    assert old.login("tam").status_code == 303 and old.get("/").status_code == 200
    admin = logged_in(site, "an")
    assert admin.post("/users", data={"csrf": admin.csrf("/users"), "action": "remove", "name": "tam"}).status_code == 303
    assert admin.post("/users", data={"csrf": admin.csrf("/users"), "action": "add", "name": "tam", "role": "editor",
                                      "password": PASSWORD}).status_code == 303
    r = old.get("/bulletins")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert old.get("/scripts/thong_bao.txt").status_code == 303


def test_a_session_ends_after_the_idle_time_on_the_server(site):
    c = logged_in(site, "em")
    assert c.get("/").status_code == 200
    with sqlite3.connect(site.root / "state" / "accounts.sqlite3") as db:   # as if 31 minutes had passed
        assert db.execute("UPDATE sessions SET seen = seen - 31 * 60").rowcount == 1
    r = c.get("/")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


# --- 4 and 5. Approval ---------------------------------------------------------------------


def test_an_approver_approves_only_the_version_they_saw_and_a_refusal_pins_nothing(site):
    editor, approver, admin = logged_in(site, "binh"), logged_in(site, "chi"), logged_in(site, "an")
    r = editor.post("/scripts/thong_bao.txt", data={"csrf": editor.csrf("/bulletins"), "text": "Phiên bản một.\n",
                                                    "action": "submit"})
    assert r.status_code == 303, r.text
    page = approver.get("/approval").text
    shown = dict(re.findall(r'name="(csrf|script_sha256)" value="([^"]*)"', page))
    assert shown["script_sha256"] == hashlib.sha256("Phiên bản một.\n".encode()).hexdigest()
    r = editor.post("/scripts/thong_bao.txt", data={"csrf": editor.csrf("/bulletins"), "text": "Phiên bản hai.\n",
                                                    "action": "submit"})
    assert r.status_code == 303
    r = approver.post("/approval", data={**shown, "bulletin": "thong-bao", "decision": "approve"})
    assert r.status_code == 409 and "changed since you opened it" in r.text
    approved = site.root / "state" / "approved"
    assert not approved.exists() or not any(approved.rglob("*.*"))
    # an admin's own edit: refused, and nothing is kept aside either
    r = admin.post("/scripts/thong_bao.txt", data={"csrf": admin.csrf("/bulletins"), "text": "Của quản trị.\n",
                                                   "action": "submit"})
    assert r.status_code == 303
    shown = dict(re.findall(r'name="(csrf|script_sha256)" value="([^"]*)"', admin.get("/approval").text))
    r = admin.post("/approval", data={**shown, "bulletin": "thong-bao", "decision": "approve"})
    assert r.status_code == 409 and "nobody approves their own edit" in r.text
    assert not approved.exists() or not any(approved.rglob("*.*"))
    # the version shown, by another approver: approved and kept aside
    shown = dict(re.findall(r'name="(csrf|script_sha256)" value="([^"]*)"', approver.get("/approval").text))
    r = approver.post("/approval", data={**shown, "bulletin": "thong-bao", "decision": "approve"})
    assert r.status_code == 303
    assert len(list(approved.rglob("*.wav"))) == 1


# --- 6. Bodies -----------------------------------------------------------------------------


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def chunked_post(port: int, path: str, total: int, headers: str = "") -> str:
    """POST ``total`` bytes in chunks with no Content-Length, as an attacker would; what came back."""
    got = []
    s = socket.create_connection(("127.0.0.1", port))

    def read():
        try:
            while data := s.recv(65536):
                got.append(data)
        except OSError:
            pass
    reader = threading.Thread(target=read)
    reader.start()
    try:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                  f"Content-Type: application/x-www-form-urlencoded\r\n{headers}\r\n".encode())
        chunk = b"a" * 65536
        sent = 0
        while sent < total:
            s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
        s.sendall(b"0\r\n\r\n")
    except OSError:
        pass   # the server answered and closed: what we wanted
    s.shutdown(socket.SHUT_WR) if not s._closed else None
    reader.join(30)
    s.close()
    return b"".join(got).decode("latin-1")


def test_a_huge_chunked_body_is_refused_while_it_streams(site):
    pid = site.proc.pid
    before = rss_kb(pid)
    answer = chunked_post(site.port, "/login", 200_000_000)
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert rss_kb(pid) - before < 30_000   # KB: nothing like the 200 MB sent
    # declared too large: refused before a byte is read; with no session, refused before any body
    c = logged_in(site, "dung")
    cookie = "; ".join(f"{k}={v}" for k, v in c.cookies.items())
    with socket.create_connection(("127.0.0.1", site.port)) as s:
        s.sendall(f"POST /play HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nContent-Length: 999999999\r\n"
                  "Content-Type: multipart/form-data; boundary=b\r\n\r\n--b".encode())
        s.settimeout(10)
        assert s.recv(100).startswith(b"HTTP/1.1 413")
    r = httpx.post(site.url + "/play", content=b"x" * 1000, headers={"Content-Type": "multipart/form-data; b=1",
                                                                     "Accept-Language": "en"})
    assert r.status_code == 403 and "not logged in" in r.text
    assert pending_requests(site.root) == []


# --- 7. Bad parameters ---------------------------------------------------------------------


def test_bad_parameters_get_a_clear_400_not_a_crash(site):
    c = logged_in(site, "em")
    r = c.get("/schedule?days=abc")
    assert r.status_code == 400 and "days must be a whole number from 1 to 14" in r.text
    assert c.get("/schedule?days=99").status_code == 400
    token = c.csrf("/")
    for body in (b"[1]", b"not json", b'{"text": 5}'):
        r = c.post("/reading", content=body, headers={"X-CSRF-Token": token, "Content-Type": "application/json"})
        assert r.status_code == 400 and "JSON" in r.text, body
    r = c.get("/report?from=yesterday")
    assert r.status_code == 400 and "YYYY-MM-DD" in r.text
    vi = Person(site.url)
    vi.headers["Accept-Language"] = "vi"
    vi.login("em")
    assert vi.get("/schedule?days=abc").text != r.text and vi.get("/schedule?days=abc").status_code == 400
    assert "Traceback" not in site.log.read_text()


# --- 9. Formulas in CSV ---------------------------------------------------------------------


def test_csv_cells_that_look_like_formulas_are_escaped(tmp_path):
    from datetime import datetime
    from zoneinfo import ZoneInfo
    from broadcaster.records.playlog import Journal
    root = make_project(tmp_path / "project", CONFIG.replace('name = "Xã A"', 'name = "=HYPERLINK(\\"x\\")"'))
    j = Journal(root / "state")
    t = datetime(2026, 12, 1, 5, 30, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    j.record(scheduled=t, zone="xa", bulletin="thong-bao", priority="normal", slot=None, status="failed",
             reason="=cmd|' /C calc'!A0")
    j.record(scheduled=t.replace(hour=6), zone="xa", bulletin="thong-bao", priority="normal", slot=None,
             status="failed", reason="@SUM(1+1)")
    j.close()
    server = ConsoleServer(root, tmp_path / "web.log")
    try:
        text = logged_in(server, "em").get("/log.csv").text
    finally:
        server.stop()
    assert "'=cmd|' /C calc'!A0" in text and "'@SUM(1+1)" in text
    assert ",=" not in text and ",@" not in text
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "broadcaster", "report", "--from", "2026-12-01", "--to", "2026-12-01",
                        "-o", "r.csv"], cwd=root, capture_output=True, text=True, env={**os.environ, "LANG": "C.UTF-8"})
    assert r.returncode == 0, r.stderr
    out = (root / "r.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in out and ',"=HYPERLINK' not in out and ",=HYPERLINK" not in out


# --- 10. Uploads ------------------------------------------------------------------------------


def test_old_uploads_nobody_needs_are_removed_at_start(tmp_path):
    from datetime import datetime
    from zoneinfo import ZoneInfo
    from broadcaster.records.playlog import Journal
    root = make_project(tmp_path / "project", CONFIG + '[web]\nkeep_uploads = "30d"\n')
    uploads = root / "state" / "uploads"
    uploads.mkdir(parents=True)
    old, queued, recent = (uploads / f"{n * 64}.wav" for n in "abc")
    for p in (old, queued, recent):
        p.write_bytes(b"RIFF")
    forty_days = time.time() - 40 * 86400
    for p in (old, queued):
        os.utime(p, (forty_days, forty_days))
    j = Journal(root / "state")
    j.add_request(str(queued), "xa", "normal", datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")))
    j.close()
    server = ConsoleServer(root, tmp_path / "web.log")
    try:
        deadline = time.time() + 10
        while old.exists() and time.time() < deadline:
            time.sleep(0.1)
    finally:
        server.stop()
    assert not old.exists() and queued.exists() and recent.exists()


def test_keep_uploads_is_checked_like_any_setting(tmp_path):
    from broadcaster.config import load_config
    from broadcaster.errors import ConfigError
    root = tmp_path / "p"
    (root / "scripts").mkdir(parents=True)
    (root / "scripts" / "thong_bao.txt").write_text(SCRIPT, encoding="utf-8")
    (root / "schedule.toml").write_text(CONFIG + '[web]\nkeep_uploads = "soon"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_config(root / "schedule.toml")
    assert "schedule.toml:" in e.value.message and "keep_uploads" in e.value.message and '"30d"' in e.value.message


# --- 8. Throttling, as a function of time -----------------------------------------------------


def test_waits_grow_per_account_and_address_and_spraying_pauses_the_address(tmp_path):
    from broadcaster.records.accounts import FIRST_WAIT, FREE_TRIES, WINDOW, AccessError, Accounts
    accounts = Accounts(tmp_path)
    accounts.add("chi", "approver", PASSWORD)
    accounts.add("an", "admin", PASSWORD)
    now = 1_000_000.0
    waits = []
    for _ in range(FREE_TRIES + 3):
        with pytest.raises(AccessError):
            accounts.authenticate("chi", "wrong-password", "10.0.0.5", now=now)
        waits.append(accounts.login_wait("chi", "10.0.0.5", now))
        now += waits[-1]   # tries again as soon as allowed
    assert waits[:FREE_TRIES - 1] == [0, 0] and waits[FREE_TRIES - 1:] == [FIRST_WAIT * 2 ** i for i in range(4)]
    assert accounts.login_wait("chi", "10.0.0.9", now) == 0          # another address: not waiting
    assert accounts.authenticate("an", PASSWORD, "10.0.0.5", now=now).name == "an"   # another account: fine
    assert accounts.authenticate("chi", PASSWORD, "10.0.0.5", now=now).name == "chi"  # after the wait: fine
    assert accounts.login_wait("chi", "10.0.0.5", now) == 0          # and the count starts again
    for name in ("a1", "a2", "a3", "a4", "a5"):
        with pytest.raises(AccessError):
            accounts.authenticate(name, "x" * 10, "10.0.0.7", now=now)
    assert accounts.login_wait("an", "10.0.0.7", now) == pytest.approx(WINDOW)
    assert accounts.login_wait("an", "10.0.0.7", now + WINDOW + 1) == 0
    accounts.close()


# --- 11. TLS -------------------------------------------------------------------------------------


def make_certificate(folder: Path) -> tuple[Path, Path]:
    import datetime as dt
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_the_console_over_tls_has_a_secure_cookie(tmp_path):
    root = make_project(tmp_path / "project")
    cert, key = make_certificate(tmp_path)
    server = ConsoleServer(root, tmp_path / "web.log", args=("--cert", str(cert), "--key", str(key)),
                           scheme="https", verify=str(cert))
    try:
        with pytest.raises(httpx.HTTPError):   # plain HTTP to the TLS port gets nothing
            httpx.get(f"http://127.0.0.1:{server.port}/health", timeout=5)
        c = server.client()
        r = c.login("em")
        assert r.status_code == 303
        cookie = r.headers["set-cookie"].lower()
        assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
        assert c.get("/").status_code == 200
        with pytest.raises(httpx.ConnectError):   # a client that does not trust the certificate stops
            httpx.get(server.url + "/health", timeout=5)
    finally:
        server.stop()
