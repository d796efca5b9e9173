"""One hub with many stations on one nats-server (the district case; bench/province.py is the 2026
province → commune → clusters case on a 3-node cluster).

    .venv/bin/python bench/fleet.py [STATIONS] [PROCESSES]     (default 1000 stations in 4 processes)

Each simulated station is a light asyncio client using broadcaster's own Link, manifest and
signature code: it connects with its own least-privilege account, watches its programme, verifies
it, fetches and checks its audio, sends play-log rows and pulls its commands. Prints:
seconds from `publish` until every station has a verified programme and audio (p50/p99/max),
play-log rows ingested per second at the district, urgent-command latency (p50/p99/max),
and the memory of the server and of the district process. Passwords are hashed at bcrypt
cost 6 here (the product uses 11), so the server's connect storm measures NATS, not bcrypt.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROWS_PER_STATION = 50
COMMANDS = 200
PROGRAMME_POLL = 30.0   # as the product's station: the programme is also asked for this often
FINISH_WITHIN = 300.0   # seconds after publish; stations not done by then are named, with their last step


def pct(xs, p):
    return float(np.percentile(xs, p)) if xs else float("nan")


def rss_of(pid: int) -> float:
    """A process's peak resident memory in MB (nan once it has gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def ingest(creds, journal, cfg) -> tuple[int, float]:
    """Rows taken from the log stream into ``journal`` by the hub's own collector, each row's path checked
    against the account files in ``cfg``'s state/fleet/accounts/ (the top's): (rows, seconds)."""
    from broadcaster.fleet.client import Link
    from broadcaster.fleet.collect import Beneath, collect

    async def go():
        link = Link(creds)
        await link.connect(name="bench collect", forever=True)
        t = time.time()
        got = await collect(link, journal, beneath=Beneath(cfg), until_idle=2.0)
        spent = time.time() - t - 2.0   # less the idle time that tells it is done
        await link.close()
        return got, spent
    return asyncio.run(go())


def worker(stations: list[str], server: str, public: str, out: mp.Queue, go: mp.Event, workdir: str):
    from broadcaster.fleet.client import Link
    from broadcaster.fleet.credentials import Credentials
    from broadcaster.fleet.manifest import read_manifest
    from broadcaster.fleet.orders import read_command
    from broadcaster.fsutil import sha256_file

    async def station(s: str, ready: asyncio.Queue):
        for attempt in range(10):   # a connect storm: as the station's link does, again after a back-off
            link = Link(Credentials(s, f"pw-{s}", server, s, {"hub": public}, "hub"))
            try:
                await link.connect(name=s)
                break
            except Exception as e:
                out.put(("retry", s, "connect: " + repr(e)[:100]))
                await asyncio.sleep(min(30, 2 ** attempt) * random.uniform(0.5, 1.5))
        got = asyncio.Event()

        async def changed(_data):
            got.set()
        await link.on_manifest(changed)
        cmd = await link.command_consumer()
        await ready.put(s)
        out.put(("step", s, "watching for its programme"))
        raw = None
        while raw is None:   # the watch, or (as the product's station does) a look every PROGRAMME_POLL
            try:
                await asyncio.wait_for(got.wait(), PROGRAMME_POLL)
                how = "the watch"
            except asyncio.TimeoutError:
                how = "polling (the watch said nothing)"
            try:
                raw = await link.my_manifest()
            except Exception as e:
                out.put(("step", s, f"asking for its programme: {e!r}"[:160]))
        out.put(("step", s, f"programme seen through {how}"))
        first = read_manifest(raw, public, s)
        await asyncio.sleep(random.uniform(0, first.get("spread", 0)))   # as StationLink does
        for attempt in range(12):   # as the station's link does: on a failure, again after a jittered back-off
            try:
                doc = read_manifest(await link.my_manifest(), public, s)
                out.put(("step", s, f"fetching its audio (try {attempt + 1})"))
                for info in doc["bulletins"].values():
                    path = Path(workdir) / f"{s}-{info['sha256'][:8]}"
                    await link.fetch_object(info["sha256"], path)
                    assert sha256_file(path) == info["sha256"]
                    path.unlink()
                break
            except Exception as e:
                out.put(("retry", s, repr(e)[:120]))
                await asyncio.sleep(min(30, 2 ** attempt) * random.uniform(0.5, 1.5))
        else:
            out.put(("failed", s, time.time()))
            return
        out.put(("programme", s, time.time()))
        out.put(("step", s, "sending its rows"))
        for i in range(ROWS_PER_STATION):
            row = {"id": i + 1, "version": 2, "scheduled": datetime.now(timezone.utc).isoformat(), "zone": s,
                   "bulletin": "b", "audio": None, "audio_sha256": None, "priority": "normal", "slot": 1,
                   "request": None, "started": None, "ended": None, "status": "played", "reason": None,
                   "command": None}
            await link.publish_row(json.dumps(row).encode(), f"{s}:{i + 1}:2")
        out.put(("rows", s, time.time()))
        try:
            msgs = await cmd.fetch(1, timeout=60)
            for m in msgs:
                doc = read_command(m.data, {"hub": public}, s)
                out.put(("command", s, time.time(), datetime.fromisoformat(doc["issued_at"]).timestamp()))
                await m.ack()
        except Exception:
            pass
        await link.close()

    async def main():
        ready: asyncio.Queue = asyncio.Queue()
        tasks = [asyncio.create_task(station(s, ready)) for s in stations]
        for _ in stations:
            await ready.get()
        out.put(("ready", len(stations), time.time()))
        await asyncio.gather(*tasks, return_exceptions=True)
    asyncio.run(main())


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    procs = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    import bcrypt
    from broadcaster.config import load_config
    from broadcaster.fleet.accounts import server_config
    from broadcaster.fleet.client import Link
    from broadcaster.fleet.credentials import Credentials
    from broadcaster.fleet.names import hub_user
    from broadcaster.fleet.orders import make_command
    from broadcaster.fleet.publish import plan, publish
    from broadcaster.fleet.signing import new_private_key, public_key, sign
    from broadcaster.records.playlog import Journal

    tmp = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    port = 14000 + os.getpid() % 1000
    stations = [f"s{i:04d}" for i in range(n)]
    rate = 22050
    sf.write(str(tmp / "bulletin.wav"), (np.random.default_rng(0).standard_normal(rate * 60) * 2000).astype(np.int16), rate)
    zones = "".join(f'[zones.{s}]\nstation = "{s}"\n' for s in stations)
    (tmp / "schedule.toml").write_text(
        f'timezone = "UTC"\n[fleet]\nserver = "nats://127.0.0.1:{port}"\n[bulletins.b]\nfile = "bulletin.wav"\n'
        f'{zones}[[slots]]\nbulletin = "b"\nzones = "*"\nat = ["05:30", "17:00"]\n')
    cfg = load_config(tmp / "schedule.toml")
    t = time.time()
    salt = bcrypt.gensalt(6)
    accounts = {"hub": {"account": "hub", "parent": None, "hub_user": hub_user("hub"),
                        "hub": bcrypt.hashpw(b"district-pw", salt).decode(),
                        "stations": {s: bcrypt.hashpw(f"pw-{s}".encode(), salt).decode() for s in stations}}}
    (tmp / "nats.conf").write_text(server_config(accounts, f"127.0.0.1:{port}", tmp / "js", server_name="hub"))
    server = subprocess.Popen(["nats-server", "-c", str(tmp / "nats.conf")], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    time.sleep(1)
    key = new_private_key()
    public = public_key(key)
    district = Credentials(hub_user("hub"), "district-pw", f"nats://127.0.0.1:{port}", None, {"hub": public}, "hub", key)
    print(f"{n} stations on one nats-server (the district case), {procs} processes; programme audio {cfg.bulletins['b'].file.stat().st_size / 1e6:.1f} MB")

    async def layout():
        link = Link(district)
        await link.connect(name="bench district")
        await link.ensure_layout(stations)
        await link.close()
    asyncio.run(layout())
    print(f"set-up (accounts, server, {n} durable consumers): {time.time() - t:.1f} s")

    out: mp.Queue = mp.Queue()
    go = mp.Event()
    ctx = mp.get_context("fork")
    work = [ctx.Process(target=worker, args=(stations[i::procs], f"nats://127.0.0.1:{port}", public, out, go, str(tmp)))
            for i in range(procs)]
    for w in work:
        w.start()
    t_conn = time.time()
    ready = 0
    early = []
    steps: dict[str, str] = {}
    while ready < n:
        msg = out.get(timeout=300)
        if msg[0] == "ready":
            ready += msg[1]
        elif msg[0] == "step":
            steps[msg[1]] = msg[2]
        else:
            early.append(msg)
    if early:
        print(f"{len(early)} connection(s) retried: {early[0][2]}")
    print(f"all {n} stations connected and watching in {time.time() - t_conn:.1f} s")

    plans, files = plan(cfg, key, datetime.now(timezone.utc))

    async def send():
        link = Link(district)
        await link.connect(name="bench publish")
        await publish(link, cfg, plans, files)
        await link.close()
    t_pub = time.time()
    asyncio.run(send())
    t_sent = time.time()
    done: dict[str, float] = {}
    rows_done: dict[str, float] = {}
    failed, retries, reasons = set(), 0, {}
    polled = 0
    deadline = t_pub + FINISH_WITHIN
    while len(rows_done) + len(failed) < n:
        try:
            msg = out.get(timeout=max(0.1, deadline - time.time()))
        except Exception:   # queue.Empty: some stations never finished; say which, and why, instead of waiting
            late = sorted(set(stations) - set(rows_done) - failed)
            by_step: dict[str, list[str]] = {}
            for st in late:
                by_step.setdefault(steps.get(st, "never connected"), []).append(st)
            print(f"{len(late)} station(s) did not finish within {FINISH_WITHIN:.0f} s of the publish; "
                  "their last step:")
            for step, who in sorted(by_step.items(), key=lambda kv: -len(kv[1])):
                print(f"  {len(who):5d}  {step}  (e.g. {', '.join(who[:5])})")
            break
        if msg[0] == "step":
            steps[msg[1]] = msg[2]
            polled += msg[2].startswith("programme seen through polling")
        elif msg[0] == "programme":
            done[msg[1]] = msg[2] - t_pub
        elif msg[0] == "rows":
            rows_done[msg[1]] = msg[2]
        elif msg[0] == "retry":
            retries += 1
            reasons[msg[2]] = reasons.get(msg[2], 0) + 1
        elif msg[0] == "failed":
            failed.add(msg[1])
    if retries:
        print(f"{retries} fetch(es) retried after a failure; {len(failed)} station(s) gave up; reasons: "
              + "; ".join(f"{k} ×{v}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])[:3]))
    if polled:
        print(f"{polled} station(s) saw the programme only by polling: their watch missed the update")
    lat = sorted(done.values()) or [float("nan")]
    print(f"publish: {t_sent - t_pub:.2f} s to upload and write {n} signed programmes; "
          f"verified programme + audio at every station: p50 {pct(lat, 50):.2f} s, p99 {pct(lat, 99):.2f} s, "
          f"max {max(lat):.2f} s after publish began")

    journal = Journal(tmp / "state")

    got, spent = ingest(district, journal, cfg)
    stored = sum(journal.station_counts().values())
    print(f"play-log rows: {got} taken, {stored} stored (expected {n * ROWS_PER_STATION}) in {spent:.2f} s "
          f"= {got / spent:,.0f} rows/s at the district")

    async def commands():
        link = Link(district)
        await link.connect(name="bench commands")
        now = datetime.now(timezone.utc)
        for s in stations[:min(COMMANDS, n)]:
            doc, data = make_command(s, bulletin="b", title="b", audio=plans[0].manifest["bulletins"]["b"], zones=[],
                                     priority="urgent", now=now, deadline=now + timedelta(minutes=5), signing_key=key)
            doc = sign({**{k: v for k, v in doc.items() if k != "signature"},
                        "issued_at": datetime.now(timezone.utc).isoformat()}, key)
            await link.send_command(s, json.dumps(doc).encode(), doc["id"])
        await link.close()
    asyncio.run(commands())
    lat = []
    deadline = time.time() + 60
    while len(lat) < min(COMMANDS, n) and time.time() < deadline:
        try:
            msg = out.get(timeout=5)
        except Exception:
            break
        if msg[0] == "command":
            lat.append(msg[2] - msg[3])
    print(f"urgent commands to {min(COMMANDS, n)} stations: {len(lat)} received; latency p50 {pct(lat, 50) * 1000:.0f} ms, "
          f"p99 {pct(lat, 99) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms")
    print(f"memory: nats-server peak {rss_of(server.pid):.0f} MB; district process peak "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    for w in work:
        w.join(30)
        if w.is_alive():
            w.kill()
    server.terminate()
    server.wait(10)
    journal.close()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
