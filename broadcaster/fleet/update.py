"""A station updating itself: a release from its hub installed beside the running version, tried, and
kept or rolled back, without an airing lost.

1. The signed release (``fleet.release``) is verified, then its file fetched and its size and
   SHA-256 checked, before anything else. It is installed into a new virtual environment of its own
   (``state/releases/env-VERSION``), which reads the running environment's packages; the new version
   must say its version and ``check`` the current project there. Any failure: refused, and said.
2. The switch waits for a quiet moment: nothing playing, nothing asked for, no airing due within the
   release's ``quiet`` seconds (a minute by default). The daemon then stops and runs the new version
   in its place (the same process: ``exec``).
3. The new version is on trial: it is healthy once its link to the hub is up, its zones' workers
   and sound outputs are, and the next airing due in the trial has played. A version that stops
   before that (twice), or is not healthy within the release's ``trial`` time, is rolled back: the
   previous environment runs again, and the heartbeat says why.

What runs is decided before the daemon starts (``choose``), by whatever version the supervisor
starts (systemd's ExecStart): the record is ``state/releases/update.json``, written under the
project's lock.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from broadcaster import __version__
from broadcaster.config import Config
from broadcaster.daemon.parts import Periodic
from broadcaster.errors import BroadcasterError, RefusedError
from broadcaster.fleet.release import newer, read_release
from broadcaster.fsutil import atomic_path, atomic_write_bytes, private_dir, project_lock, sha256_file
from broadcaster.i18n import _

log = logging.getLogger("broadcaster.fleet")

MAX_STARTS = 2       # starts of a version on trial that may end before it is healthy
SETTLE = 60.0        # seconds a version on trial with no airing due in its trial runs before it is healthy (at
                     # most a quarter of the trial)
STEP_TIMEOUT = 300   # seconds installing or checking a version may take


def releases_dir(cfg: Config) -> Path:
    return cfg.paths.state / "releases"


def read_state(cfg: Config) -> dict:
    try:
        st = json.loads((releases_dir(cfg) / "update.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return st if isinstance(st, dict) else {}


def write_state(cfg: Config, st: dict) -> dict:
    with project_lock(cfg.path):
        atomic_write_bytes(private_dir(releases_dir(cfg)) / "update.json",
                           json.dumps(st, ensure_ascii=False, indent=1).encode())
    return st


def this_env() -> dict:
    """How to run the version running now again."""
    return {"prefix": str(Path(sys.prefix).resolve()), "python": sys.executable, "version": __version__}


def runs_here(env: dict | None) -> bool:
    return env is None or str(Path(env.get("prefix", "")).resolve()) == str(Path(sys.prefix).resolve())


def report(st: dict) -> dict:
    """What the heartbeat says of this station's updates."""
    return {k: st[k] for k in ("state", "version", "reason", "since") if k in st}


# --- what runs: before the daemon starts --------------------------------------------------------

def choose(cfg: Config, argv: list[str]) -> None:
    """Run the version the record says (``exec``, never returns) unless it is this one; roll back a
    version on trial that stopped too often or outlived its trial unhealthy."""
    st = read_state(cfg)
    if st.get("state") == "trying" and not runs_here(st.get("run")):
        if st.get("starts", 0) >= MAX_STARTS:
            st = rollback(cfg, st, _("version {version} stopped {count} time(s) before it came up healthy",
                                     version=st["version"], count=st.get("starts", 0)))
        elif time.time() > st.get("switched", 0) + st.get("trial", 0):
            st = rollback(cfg, st, _("version {version} was not healthy within its trial of {seconds} s",
                                     version=st["version"], seconds=st.get("trial")))
        else:
            st["starts"] = st.get("starts", 0) + 1
            write_state(cfg, st)
    run = st.get("run")
    if run and not runs_here(run) and Path(run.get("python", "")).is_file():
        log.info(_("running version {version} from {folder}", version=run.get("version"), folder=run["prefix"]))
        execute(run, argv)


def execute(env: dict, argv: list[str]) -> None:
    """Replace this process by broadcaster of ``env`` with the same arguments (the working folder, the
    environment and the process id stay: to systemd it is the same service)."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    logging.shutdown()
    python = env["python"]
    os.execv(python, [python, "-P", "-m", "broadcaster", *argv])   # -P: never the working folder's package


def rollback(cfg: Config, st: dict, reason: str) -> dict:
    log.error(_("update to version {version} rolled back: {reason}", version=st.get("version"), reason=reason))
    return write_state(cfg, {"state": "rolled_back", "version": st.get("version"), "reason": reason,
                             "since": time.time(), "run": st.get("previous"), "release": st.get("release")})


# --- getting a release ready ---------------------------------------------------------------------

def wanted(cfg: Config, raw: bytes, keys: dict[str, str]) -> dict | None:
    """The release in ``raw`` if this station should take it: signed by its hub or one above, newer
    than what runs, and not one it already took, tried or refused. RefusedError: not signed so."""
    doc = read_release(raw, keys)
    st = read_state(cfg)
    seen = doc["id"] == (st.get("release") or {}).get("id") or doc["version"] == st.get("version")
    if not newer(doc["version"], __version__) or (seen and st.get("state") != "installing"):
        return None   # (one whose installing a power cut interrupted is installed again)
    return doc


def withdrawn(cfg: Config) -> None:
    """The hub took its release back: one installed but not switched to yet is not."""
    st = read_state(cfg)
    if st.get("state") == "ready":
        log.warning(_("release {version} taken back by the hub before it ran: this version stays",
                      version=st.get("version")))
        write_state(cfg, {**st, "state": "withdrawn", "reason": _("taken back by the hub"), "since": time.time()})


def prepare(cfg: Config, doc: dict, fetch) -> None:
    """Fetch, check and install the release beside the running version, then mark it ready to switch
    to; a failure is recorded (refused, with the reason) and raised."""
    folder = private_dir(releases_dir(cfg))
    version = doc["version"]
    base = {"version": version, "release": {k: v for k, v in doc.items() if k != "signer"},
            "run": read_state(cfg).get("run")}
    try:
        write_state(cfg, {**base, "state": "installing", "since": time.time()})
        file = private_dir(folder / "files") / doc["file"]
        if not (file.is_file() and sha256_file(file) == doc["sha256"]):
            with atomic_path(file, suffix=".part") as tmp:
                fetch(doc["sha256"], tmp)
                if tmp.stat().st_size != doc["size"] or sha256_file(tmp) != doc["sha256"]:
                    raise RefusedError(_("the release file arrived with another size or SHA-256: refused"))
        env = install_env(folder / f"env-{version}", file)
        check_env(cfg, env, version)
    except (BroadcasterError, OSError) as e:
        write_state(cfg, {**base, "state": "refused", "reason": str(e), "since": time.time()})
        raise RefusedError(_("release {version} refused: {reason}", version=version, reason=e)) from None
    write_state(cfg, {**base, "state": "ready", "env": env, "since": time.time()})
    log.info(_("release {version} installed beside this version and checked; it runs at the next quiet moment",
               version=version))


def _run(args: list[str], what: str, cwd: Path | None = None) -> str:
    """One step of installing or checking a release, at the lowest CPU priority: the airings of this PC
    come first (an install on a busy PC once made them start 0.7 s late)."""
    nice = shutil.which("nice")   # (not preexec_fn: unsafe in a process with threads)
    try:
        p = subprocess.run([nice, "-n", "19", *args] if nice else args, capture_output=True, text=True,
                           timeout=STEP_TIMEOUT, cwd=cwd, creationflags=getattr(subprocess, "IDLE_PRIORITY_CLASS", 0),
                           env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONNOUSERSITE": "1"})
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RefusedError(_("{what} failed: {reason}", what=what, reason=e)) from None
    if p.returncode != 0:
        tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
        raise RefusedError(_("{what} failed: {reason}", what=what, reason=" / ".join(tail) or p.returncode))
    return p.stdout


def install_env(env: Path, file: Path) -> dict:
    """A new virtual environment that reads the running one's packages, with the release installed."""
    import site
    if env.exists():
        shutil.rmtree(env)
    _run([sys.executable, "-m", "venv", "--without-pip", str(env)], _("making its environment"))
    python = env / "bin" / "python"
    inner = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                 _("making its environment")).strip()
    releases = str(env.parent.resolve())
    paths = [p for p in (*site.getsitepackages(), *sys.path) if p.endswith(("site-packages", "dist-packages"))
             and not str(Path(p).resolve()).startswith(releases) and Path(p).is_dir()]
    Path(inner, "_broadcaster_base.pth").write_text("".join(f"{p}\n" for p in dict.fromkeys(paths)), encoding="utf-8")
    _run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--ignore-installed",
          "--no-build-isolation", str(file)], _("installing it"))
    return {"prefix": str(env.resolve()), "python": str(python), "version": None}


def check_env(cfg: Config, env: dict, version: str) -> None:
    """The new version must say its version, and find no problem in this project (the `check` command)."""
    python = env["python"]
    out = _run([python, "-P", "-m", "broadcaster", "--version"], _("asking its version"))
    if version not in out:
        raise RefusedError(_("it says it is {said}, not {version}", said=out.strip()[:80], version=version))
    env["version"] = version
    _run([python, "-P", "-m", "broadcaster", "--config", str(cfg.path), "check"], _("checking this project with it"),
         cwd=cfg.root)


# --- in the daemon: switching at a quiet moment, and the trial ------------------------------------


class Updater(Periodic):
    """Switches to a version made ready at a quiet moment, and judges a version on trial."""

    name = "update"
    interval = 1.0

    def __init__(self, daemon):
        super().__init__(daemon)
        self.started = time.time()
        self.st: dict = {}
        self.why = ""

    def start(self) -> None:
        self.st = read_state(self.d.cfg)
        if self.st.get("state") == "trying" and runs_here(self.st.get("run")):
            log.info(_("version {version} on trial (start {count}): healthy once its link is up and its next "
                       "airing has played", version=__version__, count=self.st.get("starts", 1)))
        super().start()

    def tick(self) -> None:
        st = self.st = read_state(self.d.cfg)
        now = time.time()
        if st.get("state") == "ready":
            if self.quiet(st["release"]["quiet"]):
                self.switch(st)
        elif st.get("state") == "trying" and runs_here(st.get("run")):
            if self.healthy(st, now):
                write_state(self.d.cfg, {**st, "state": "healthy", "since": now, "reason": None})
                log.info(_("version {version} is healthy: kept", version=__version__))
                self.pass_down(st)
            elif now > st["switched"] + st["trial"] and self.quiet(st["release"]["quiet"]):
                st = rollback(self.d.cfg, st, _("version {version} was not healthy within its trial of {seconds} s: "
                                                "{why}", version=__version__, seconds=st["trial"], why=self.why))
                self.restart(st["run"])

    def quiet(self, seconds: float) -> bool:
        """Nothing playing or asked for, and no airing due within ``seconds`` on this station's zones."""
        from datetime import datetime
        from broadcaster.config.schedule import airings
        from broadcaster.daemon.zones import Zones
        from broadcaster.render.sidecar import sequence_lengths
        d = self.d
        now = d.clock.wall()
        if d.journal.playing() or any(w.current is not None or w.upcoming is not None or
                                      any(e[2].scheduled.timestamp() < now + seconds for e in list(w.heap))
                                      for w in d.get(Zones).workers.values()):
            return False   # (one planned further ahead is planned again by the version that follows)
        if d.journal.store.one("SELECT 1 FROM requests WHERE status IN ('pending', 'taken') LIMIT 1") is not None:
            return False
        due = airings(d.cfg, datetime.fromtimestamp(now - 1, d.tz), datetime.fromtimestamp(now + seconds, d.tz),
                      zones=set(d.served), lengths=sequence_lengths(d.cfg))
        return not due

    def switch(self, st: dict) -> None:
        log.warning(_("switching to version {version} now (nothing due within {seconds} s); the daemon restarts",
                      version=st["version"], seconds=st["release"]["quiet"]))
        st = write_state(self.d.cfg, {**st, "state": "trying", "previous": st.get("run") or this_env(),
                                      "run": st["env"], "switched": time.time(), "starts": 1,
                                      "trial": st["release"]["trial"], "since": time.time()})
        self.restart(st["run"])

    def restart(self, env: dict | None) -> None:
        """Stop the daemon and run ``env``'s version in its place (``commands.station.daemon`` execs it)."""
        self.d.restart_with = env or this_env()
        self.d.stop_event.set()

    def healthy(self, st: dict, now: float) -> bool:
        """Link up, zones well, and the next airing due since the switch played (or none due in the trial
        and a minute passed)."""
        from datetime import datetime
        from broadcaster.config.schedule import airings
        from broadcaster.daemon.watchdog import Watchdog
        d = self.d
        if not any(getattr(p, "online", False) for p in d.parts if p.name == "fleet"):   # the StationLink
            self.why = _("its link to the hub is not up")
            return False
        problem = d.get(Watchdog).problem()
        if problem:
            self.why = problem
            return False
        rows = d.journal.rows(since=st["switched"])
        if any(r.status == "played" for r in rows):
            return True
        due = airings(d.cfg, datetime.fromtimestamp(now, d.tz),
                      datetime.fromtimestamp(max(now, st["switched"] + st["trial"]), d.tz), zones=set(d.served))
        self.why = (_("no airing has played since it started") if due or rows else
                    _("it has run {seconds} s of {settle}", seconds=f"{now - self.started:.0f}", settle=f"{SETTLE:.0f}"))
        return not due and not rows and now - self.started >= min(SETTLE, st["trial"] / 4)

    def pass_down(self, st: dict) -> None:
        """At a hub: the release that is now healthy here goes on to this hub's own stations."""
        cfg = self.d.cfg
        if not cfg.is_hub or not st.get("release"):
            return
        from broadcaster.fleet.release import begin, new_rollout, read_rollout
        old = read_rollout(cfg)
        if old is not None and not newer(st["version"], old["release"]["version"]):
            return
        file = releases_dir(cfg) / "files" / st["release"]["file"]
        begin(cfg, new_rollout(cfg, st["release"], file, cfg.stations(), stop_share=0.25, promote_after=None))
        log.info(_("release {version} passed down to this hub's stations", version=st["version"]))
