"""A province at scale: 30 communes × 100 clusters = 3,000 stations on a 3-node JetStream cluster.

    .venv/bin/python bench/province.py [COMMUNES] [CLUSTERS_PER_COMMUNE] [PROCESSES] [RELEASE_MB]   (default 30 100 6 20)

The topology is the product's (docs/network.md): three nats-servers in one cluster, an account per hub
(the province's and one per commune, configs from broadcaster's own `server_config`), clusters as
least-privilege users in their commune's account, everything replicated ×3. Simulated clusters run
in several processes, each a real client with its own credentials, using broadcaster's Link,
manifest and signature code: watch the programme, verify it, fetch and check its audio, pull
commands. The communes run in one process: each takes the province's signed programme as a station
of the province, checks it, fetches the audio and passes a programme signed by itself down to its
clusters (the audio uploaded into its own account's store), then forwards its clusters' play-log
rows up with their path, as the commune's daemon does.

Prints: seconds from the province's publish until every cluster has a verified programme and audio
(p50/p99/max; goal p99 ≤ 60 s); an urgent warning from the province sent straight into every
commune's account by `play --urgent`'s own path with the server leading the command stream killed just
before, until every cluster has it, by whichever way came first (p50/p99; goal p99 ≤ 5 s); play-log rows ingested per
second at the province (goal ≥ 5,000/s); a release of broadcaster (RELEASE_MB, signed as `fleet release`
signs it) sent to every commune just before that warning, so the warning is measured while it flows, and
passed on by each commune to its clusters: seconds until each cluster has verified it and its file
(p50/p99); the peak memory of each nats-server (the release's transfer included) and of the hubs.
Passwords are hashed at bcrypt cost 6 here (the product uses 11): the connect storm measures NATS.
"""

from __future__ import annotations

import asyncio
import json
import queue
import multiprocessing as mp
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.fleet import ingest, pct, rss_of  # noqa: E402  (the same measures as the district's bench)
from tests.fleet import free_ports  # noqa: E402

ROWS_PER_CLUSTER = 20
FETCHES_PER_PROCESS = 40
PROVINCE = "tinh"


def clusters_worker(clusters: list[tuple[str, str]], server: str, keys: dict, out: mp.Queue, workdir: str):
    """Simulated loudspeaker clusters: (commune, cluster) pairs, each its own client."""
    from broadcaster.fleet import names
    from broadcaster.fleet.client import Link
    from broadcaster.fleet.credentials import Credentials
    from broadcaster.fleet.manifest import read_manifest
    from broadcaster.fleet.orders import read_command
    from broadcaster.fsutil import sha256_file
    fetching = None

    async def cluster(commune: str, c: str, ready: asyncio.Queue):
        creds = Credentials(c, f"pw-{c}", server, c, {commune: keys[commune], PROVINCE: keys[PROVINCE]}, commune)
        got = asyncio.Event()
        pushed: list[bytes | None] = [None]

        async def changed(data):
            pushed[0] = data
            got.set()

        def now_command(data: bytes) -> None:
            d = read_command(data, creds.keys, c, [c])
            if d.get("title") != "stop":
                out.put(("command", c, time.time(), datetime.fromisoformat(d["issued"]).timestamp(), d["signer"], "core"))

        async def connect():
            for attempt in range(10):
                link = Link(creds)
                try:
                    await link.connect(name=c, forever=True)
                    await link.on_manifest(changed)
                    await link.on(names.now_subject(c), now_command)   # a command on core NATS, as the product's station takes it
                    return link
                except Exception as e:
                    await link.close()
                    out.put(("retry", c, "connect: " + repr(e)[:100]))
                    await asyncio.sleep(min(30, 2 ** attempt) * random.uniform(0.5, 1.5))
            raise SystemExit(f"{c} could not connect")
        link = await connect()
        await ready.put(c)
        out.put(("step", c, "watching for its programme"))
        doc, failed = None, 0
        while doc is None:   # the watch (it carries the programme), or a look every 10 s (as the product's station)
            try:
                await asyncio.wait_for(got.wait(), 10 * random.uniform(0.8, 1.2))
            except asyncio.TimeoutError:
                pass
            got.clear()
            try:
                how = "the watch" if pushed[0] else "a poll"
                raw, pushed[0] = pushed[0] or await link.my_manifest(), None
                failed = 0
                if raw is not None:
                    d = read_manifest(raw, keys[commune], c)
                    if d["bulletins"]:
                        doc = d
                        out.put(("step", c, f"programme seen through {how}; waiting to fetch its audio"))
            except Exception as e:
                out.put(("step", c, f"reading its programme: {e!r}"[:160]))
                out.put(("retry", c, repr(e)[:120]))
                failed += 1
                if failed >= 1:   # a link that answers nothing (20 s of retries): as the station's link does, again
                    out.put(("reconnect", c))
                    await link.close()
                    link = await connect()
        await asyncio.sleep(random.uniform(0, doc.get("spread", 0)))   # as StationLink does
        for attempt in range(12):
            try:
                async with fetching:
                    out.put(("step", c, f"fetching its audio (try {attempt + 1})"))
                    for info in doc["bulletins"].values():
                        path = Path(workdir) / f"{c}-{info['sha256'][:8]}"
                        await link.fetch_object(info["sha256"], path)
                        assert sha256_file(path) == info["sha256"]
                        path.unlink()
                break
            except Exception as e:
                out.put(("step", c, f"audio failed (try {attempt + 1}): {e!r}"[:160]))
                out.put(("retry", c, repr(e)[:120]))
                await asyncio.sleep(min(30, 2 ** attempt) * random.uniform(0.5, 1.5))
        out.put(("programme", c, time.time()))
        asyncio.ensure_future(take_release(link, c))
        cmd = await link.command_consumer()
        while True:
            try:
                msgs = await cmd.fetch(1, timeout=5)
            except Exception:
                continue
            for m in msgs:
                d = read_command(m.data, creds.keys, c, [c])
                await m.ack()
                if d.get("title") == "stop":
                    await link.close()
                    return
                out.put(("command", c, time.time(), datetime.fromisoformat(d["issued"]).timestamp(), d["signer"], "stream"))

    async def take_release(link, c: str) -> None:
        """As the station's link does: its key of bc_release watched (and read every 10 s), the release
        verified, its file fetched and its SHA-256 checked ("installed" here: the new environment itself is
        made in about a second, measured by tests/test_release.py)."""
        from broadcaster.fleet.release import read_release
        wake = asyncio.Event()
        try:
            await link.on(f"$KV.{names.RELEASES}.{c}", lambda _d: wake.set())
        except Exception as e:
            out.put(("retry", c, "watch the release: " + repr(e)[:100]))
        while True:
            try:
                raw = await link.kv_get(names.RELEASES, c)
                if raw:
                    doc = read_release(raw, {commune_of[c]: keys[commune_of[c]], PROVINCE: keys[PROVINCE]})
                    path = Path(workdir) / f"{c}-release"
                    async with fetching:
                        await link.fetch_object(doc["sha256"], path)
                    assert path.stat().st_size == doc["size"] and sha256_file(path) == doc["sha256"]
                    path.unlink()
                    out.put(("release", c, time.time()))
                    return
            except Exception as e:
                out.put(("retry", c, "the release: " + repr(e)[:100]))
            try:
                await asyncio.wait_for(wake.wait(), 10 * random.uniform(0.8, 1.2))
            except asyncio.TimeoutError:
                pass
            wake.clear()

    commune_of = {c: m for m, c in clusters}

    async def main():
        nonlocal fetching
        # hundreds of simulated clusters share one Python loop here, which cannot drain hundreds of sockets
        # at once as as many boards would: a few fetch at a time per process, the others wait their turn
        fetching = asyncio.Semaphore(FETCHES_PER_PROCESS)
        ready: asyncio.Queue = asyncio.Queue()
        tasks = [asyncio.create_task(cluster(m, c, ready)) for m, c in clusters]
        for _ in clusters:
            await ready.get()
        out.put(("ready", len(clusters), time.time()))
        await asyncio.gather(*tasks, return_exceptions=True)
    asyncio.run(main())


async def retried(out: mp.Queue, who: str, what: str, step, tries: int = 8):
    """A set-up step tried again on any failure, as the product's links do (a node lost, a leader being
    elected), backing off; the last failure raised with what it was doing."""
    for attempt in range(tries):
        try:
            return await step()
        except Exception as e:
            out.put(("retry", who, f"{what}: {e!r}"[:120]))
            if attempt == tries - 1:
                raise RuntimeError(f"{who}: {what}: {e!r} after {tries} tries") from None
            await asyncio.sleep(min(20, 2 ** attempt) * random.uniform(0.5, 1.5))


def communes_worker(tree: dict[str, list[str]], server: str, up_pw: dict, keys: dict, private: dict, out: mp.Queue,
                    workdir: str):
    """The communes: each a station of the province and the hub of its clusters."""
    from broadcaster.fleet.client import Link
    from broadcaster.fleet.credentials import Credentials
    from broadcaster.fleet.manifest import read_manifest
    from broadcaster.fleet.names import hub_user
    from broadcaster.fleet.signing import sign

    async def commune(m: str, clusters: list[str]):
        up = Link(Credentials(m, up_pw[m], server, m, {PROVINCE: keys[PROVINCE]}, PROVINCE))
        down = Link(Credentials(hub_user(m), f"hub-{m}", server, None, {m: keys[m]}, m, private[m]))
        await retried(out, m, "connect up", lambda: up.connect(name=f"{m} up", forever=True))
        await retried(out, m, "connect down", lambda: down.connect(name=f"{m} down", forever=True))
        await retried(out, m, "its account's layout", lambda: down.ensure_layout(clusters))
        out.put(("commune-ready", m))
        got = asyncio.Event()
        pushed: list[bytes | None] = [None]

        async def changed(data):
            pushed[0] = data
            got.set()
        await retried(out, m, "watch its programme", lambda: up.on_manifest(changed))
        doc = None
        while doc is None:
            try:
                await asyncio.wait_for(got.wait(), 10)
            except asyncio.TimeoutError:
                pass
            got.clear()
            raw, pushed[0] = pushed[0] or await retried(out, m, "read its programme", up.my_manifest), None
            if raw is not None:
                doc = read_manifest(raw, keys[PROVINCE], m)
        for info in doc["bulletins"].values():   # fetched as a station of the province, put in its own store
            path = Path(workdir) / f"{m}-{info['sha256'][:8]}"

            async def store(info=info, path=path):
                await up.fetch_object(info["sha256"], path)
                if not await down.has_object(info["sha256"]):
                    await down.put_object(info["sha256"], path)
            await retried(out, m, "fetch and store the audio", store)
        version = int(time.time() * 1000)

        async def one(c):
            mine = {**doc, "station": c, "by": m, "version": version,
                    "zones": {c: doc["zones"].get(c, {"name": c})},
                    "slots": [{**s, "zones": [c]} for s in doc["slots"] if c in s["zones"]]}
            mine.pop("signature", None)
            data = json.dumps(sign(mine, private[m]), sort_keys=True).encode()
            await retried(out, m, f"pass the programme to {c}", lambda: down.put_manifest(c, data))
        from broadcaster.fleet.publish import bounded
        await bounded([one(c) for c in clusters], 32)
        out.put(("passed-down", m, time.time()))
        # the clusters' rows, forwarded up with their path as the commune's outbox does
        for c in clusters:
            for i in range(ROWS_PER_CLUSTER):
                row = {"id": i + 1, "version": 2, "scheduled": datetime.now(timezone.utc).isoformat(), "zone": c,
                       "bulletin": "b", "priority": "normal", "slot": 1, "status": "played", "path": c}
                await up.publish_row(json.dumps(row).encode(), f"{m}/{c}:{i + 1}:2")
        out.put(("rows-up", m, time.time()))
        # a release from the province: verified, its file into this commune's store, then on to its clusters
        # as the commune's daemon passes it (the province's signature kept)
        from broadcaster.fleet import names
        from broadcaster.fleet.release import read_release
        while True:
            raw = await retried(out, m, "read its release", lambda: up.kv_get(names.RELEASES, m))
            if raw:
                break
            await asyncio.sleep(1)
        rel = read_release(raw, {PROVINCE: keys[PROVINCE]})
        path = Path(workdir) / f"{m}-release"

        async def store_release():
            await up.fetch_object(rel["sha256"], path)
            if not await down.has_object(rel["sha256"]):
                await down.put_object(rel["sha256"], path)
        await retried(out, m, "fetch and store the release", store_release)
        await bounded([retried(out, m, f"pass the release to {c}", lambda c=c: down.kv_put(names.RELEASES, c, raw))
                       for c in clusters], 32)
        out.put(("release-passed", m, time.time()))
        await up.close()
        await down.close()

    async def main():
        await asyncio.gather(*(commune(m, cs) for m, cs in tree.items()))
    asyncio.run(main())
    out.put(("communes-rss", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def take(out: mp.Queue, workers: list, seconds: float):
    """The next message of the workers, or SystemExit when one of them has died or none came in ``seconds``
    (rather than waiting out the whole time on a process that is gone)."""
    deadline = time.time() + seconds
    while True:
        try:
            return out.get(timeout=2)
        except queue.Empty:
            dead = [w for w in workers if w.exitcode not in (None, 0)]
            if dead:
                raise SystemExit(f"a worker process ended with exit code {dead[0].exitcode}") from None
            if time.time() > deadline:
                raise SystemExit(f"no message from the workers in {seconds:.0f} s") from None


def main() -> None:
    n_communes = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    per = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    procs = int(sys.argv[3]) if len(sys.argv) > 3 else 6
    release_mb = float(sys.argv[4]) if len(sys.argv) > 4 else 20
    import bcrypt
    from broadcaster.config import load_config
    from broadcaster.fleet.accounts import server_config
    from broadcaster.fleet.client import Link
    from broadcaster.fleet.credentials import Credentials
    from broadcaster.fleet import names
    from broadcaster.fleet.names import hub_user
    from broadcaster.fleet.orders import make_command, save_tree, send_play
    from broadcaster.fleet.release import make_release
    from broadcaster.fleet.publish import bounded, plan, publish
    from broadcaster.fleet.signing import new_private_key, public_key
    from broadcaster.records.playlog import Journal

    tmp = Path(tempfile.mkdtemp(prefix="bench-province-"))
    ports = free_ports(6)
    ports, routes = ports[:3], ports[3:]
    server = ",".join(f"nats://127.0.0.1:{p}" for p in ports)
    tree = {f"xa{m:02d}": [f"c{m:02d}_{i:03d}" for i in range(per)] for m in range(n_communes)}
    total = n_communes * per
    rate = 22050
    # a 60-second bulletin as a commune's programme carries it: MP3 at 64 kbit/s
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "anoisesrc=d=60:c=pink:a=0.1",
                    "-ac", "1", "-ar", str(rate), "-b:a", "64k", str(tmp / "bulletin.mp3")], check=True)
    zones = "".join(f'[zones.{c}]\nstation = "{m}"\n' for m, cs in tree.items() for c in cs)
    (tmp / "schedule.toml").write_text(
        f'timezone = "UTC"\n[fleet]\nserver = "{server}"\nid = "{PROVINCE}"\n[bulletins.b]\nfile = "bulletin.mp3"\n'
        f'{zones}[[slots]]\nbulletin = "b"\nzones = "*"\nat = ["05:30", "17:00"]\n')
    cfg = load_config(tmp / "schedule.toml")
    t = time.time()
    salt = bcrypt.gensalt(6)

    def h(pw: str) -> str:
        return bcrypt.hashpw(pw.encode(), salt).decode()
    up_pw = {m: f"up-{m}" for m in tree}
    accounts = {PROVINCE: {"account": PROVINCE, "parent": None, "hub_user": hub_user(PROVINCE), "hub": h("province"),
                           "stations": {m: h(up_pw[m]) for m in tree}}}
    for m, cs in tree.items():
        accounts[m] = {"account": m, "parent": PROVINCE, "hub_user": hub_user(m), "hub": h(f"hub-{m}"),
                       "stations": {c: h(f"pw-{c}") for c in cs}}
    servers = []
    for i, port in enumerate(ports):
        conf = tmp / f"n{i + 1}.conf"
        conf.write_text(server_config(accounts, f"127.0.0.1:{port}", tmp / f"js{i + 1}", server_name=f"n{i + 1}",
                                      cluster={"name": PROVINCE, "listen": f"127.0.0.1:{routes[i]}",
                                               "routes": [f"nats-route://127.0.0.1:{r}" for r in routes]}))
        servers.append(subprocess.Popen(["nats-server", "-c", str(conf)], stdout=subprocess.DEVNULL,
                                        stderr=open(tmp / f"n{i + 1}.log", "wb")))
    workers: list = []
    stage = ["starting"]
    try:
        private = {m: new_private_key() for m in [PROVINCE, *tree]}
        keys = {m: public_key(k) for m, k in private.items()}
        province = Credentials(hub_user(PROVINCE), "province", server, None, {PROVINCE: keys[PROVINCE]}, PROVINCE,
                               private[PROVINCE])
        (tmp / "state" / "fleet").mkdir(parents=True, exist_ok=True)   # as `fleet init` leaves them, for send_play
        (tmp / "state" / "fleet" / "hub.toml").write_text(f'user = "{hub_user(PROVINCE)}"\npassword = "province"\n')
        (tmp / "state" / "fleet" / "hub.key").write_text(private[PROVINCE])
        print(f"{n_communes} communes × {per} clusters = {total} clusters on 3 nats-servers (cluster, R3), "
              f"{procs} processes of clusters; programme audio {cfg.bulletins['b'].file.stat().st_size / 1e6:.1f} MB")

        async def layout():
            for _ in range(60):   # until the cluster has a JetStream leader
                link = Link(province)
                try:
                    await link.connect(name="bench province", forever=True)
                    await link.ensure_layout(list(tree))
                    await link.close()
                    return
                except Exception:
                    await link.close()
                    await asyncio.sleep(1)
            raise SystemExit("the cluster never came up")
        stage[0] = "the province's layout"
        asyncio.run(layout())
        print(f"set-up (accounts of {total + n_communes + 1} users, 3 servers, the province's layout): {time.time() - t:.1f} s")

        out: mp.Queue = mp.Queue()
        ctx = mp.get_context("fork")
        everyone = [(m, c) for m, cs in tree.items() for c in cs]
        t_c = time.time()
        communes = ctx.Process(target=communes_worker, args=(tree, server, up_pw, keys, private, out, str(tmp)))
        communes.start()
        workers.append(communes)
        stage[0] = "the communes connecting"
        ready_communes = 0
        while ready_communes < n_communes:
            msg = take(out, workers, 600)
            if msg[0] == "commune-ready":
                ready_communes += 1
            elif msg[0] == "retry":
                print(f"  retry: {msg[1]}: {msg[2]}", flush=True)
        print(f"communes connected, each with its account's layout ({per} R3 command consumers each): "
              f"{time.time() - t_c:.1f} s")
        work = [ctx.Process(target=clusters_worker, args=(everyone[i::procs], server, keys, out, str(tmp)))
                for i in range(procs)]
        t_conn = time.time()
        for w in work:
            w.start()
        workers += work
        stage[0] = "the clusters connecting"
        ready, retries = 0, {}
        while ready < total:
            msg = take(out, workers, 600)
            if msg[0] == "ready":
                ready += msg[1]
            elif msg[0] == "retry":
                retries[msg[2]] = retries.get(msg[2], 0) + 1
        print(f"all {total} clusters connected and watching in {time.time() - t_conn:.1f} s"
              + (f" ({sum(retries.values())} retries)" if retries else ""))

        plans, files = plan(cfg, private[PROVINCE], datetime.now(timezone.utc))

        async def send():
            link = Link(province)
            await link.connect(name="bench publish", forever=True)
            await publish(link, cfg, plans, files)
            await link.close()
        t_pub = time.time()
        stage[0] = "the publish and its programme reaching the clusters"
        asyncio.run(send())
        t_sent = time.time()
        done, passed, rows_up, communes_rss = {}, {}, {}, float("nan")
        deadline = t_pub + 600
        said = time.time()
        steps: dict[str, str] = {}
        reconnected: set[str] = set()
        deadline = t_pub + 240
        while (len(done) < total or len(rows_up) < n_communes) and time.time() < deadline:
            if time.time() - said > 20:
                said = time.time()
                print(f"  … {said - t_pub:.0f} s: {len(passed)}/{n_communes} communes passed it down, {len(done)}/{total} "
                      "clusters have it", flush=True)
            try:
                msg = out.get(timeout=5)
            except Exception:
                continue
            if msg[0] == "step":
                steps[msg[1]] = msg[2]
            elif msg[0] == "programme":
                done[msg[1]] = msg[2] - t_pub
            elif msg[0] == "passed-down":
                passed[msg[1]] = msg[2] - t_pub
            elif msg[0] == "rows-up":
                rows_up[msg[1]] = msg[2]
            elif msg[0] == "reconnect":
                reconnected.add(msg[1])
            elif msg[0] == "communes-rss":
                communes_rss = msg[1]
            elif msg[0] == "retry":
                retries[msg[2]] = retries.get(msg[2], 0) + 1
        late = sorted(set(c for _m, c in everyone) - set(done))
        if late:   # say which never finished, and where they stopped, instead of waiting
            by_step: dict[str, list[str]] = {}
            for c in late:
                by_step.setdefault(steps.get(c, "?"), []).append(c)
            print(f"{len(late)} cluster(s) without their programme {time.time() - t_pub:.0f} s after the publish; last step:")
            for step, who in sorted(by_step.items(), key=lambda kv: -len(kv[1])):
                print(f"  {len(who):5d}  {step}  (e.g. {', '.join(who[:5])})")
        lat = sorted(done.values()) or [float("nan")]
        print(f"province publish: {t_sent - t_pub:.2f} s for {n_communes} signed programmes; passed down by every commune "
              f"within {max(passed.values() or [float('nan')]):.1f} s")
        print(f"programme verified with its audio at {len(done)}/{total} clusters: p50 {pct(lat, 50):.1f} s, "
              f"p99 {pct(lat, 99):.1f} s, max {max(lat):.1f} s after the province's publish (goal p99 ≤ 60 s)")
        if reconnected:
            print(f"{len(reconnected)} cluster(s) whose link stopped answering connected again (the station's link "
                  "does so when its requests time out)")
        if retries:
            print("retries: " + "; ".join(f"{k} ×{v}" for k, v in sorted(retries.items(), key=lambda kv: -kv[1])[:3]))

        stage[0] = "the rows at the province"
        journal = Journal(tmp / "state")

        (tmp / "state" / "fleet" / "accounts").mkdir(exist_ok=True)   # as the province's own folder holds them
        for m in tree:
            (tmp / "state" / "fleet" / "accounts" / f"{m}.json").write_text(json.dumps(accounts[m]))
        got, spent = ingest(province, journal, cfg)
        stored = sum(journal.station_counts().values())
        print(f"play-log rows at the province: {got} taken, {stored} stored under commune/cluster "
              f"(expected {total * ROWS_PER_CLUSTER}) in {spent:.2f} s = {got / spent:,.0f} rows/s (goal ≥ 5,000/s)")

        async def urgent(title: str) -> float:
            """Straight into every commune's account for each of its clusters, as `play --group` does."""
            link = Link(province)
            await link.connect(name="bench urgent", forever=True)
            now = datetime.now(timezone.utc)
            audio = plans[0].manifest["bulletins"]["b"]
            t = time.time()

            async def one(m, cs):
                doc, data = make_command(m, bulletin="b", title=title, audio=audio, zones=cs, priority="urgent", now=now,
                                         deadline=now + timedelta(minutes=5), signing_key=private[PROVINCE], by=PROVINCE)
                await link.send_command(m, data, doc["id"])
                await bounded([link.send_command_below(m, c, data, doc["id"]) for c in cs], 32)
            await bounded([one(m, cs) for m, cs in tree.items()], 8)
            sent = time.time() - t
            await link.close()
            return sent
        async def warning() -> tuple[float, int]:
            """The product's own `play --urgent` path (fleet.orders.send_play), with the server that leads
            the province's command stream killed just before; the tree below as the province's daemon keeps it."""
            save_tree(cfg, {m: {"stations": {c: {"zones": [c]} for c in cs}} for m, cs in tree.items()})
            link = Link(province)
            await link.connect(name="bench leader")
            leader = (await link.js.stream_info("BC_CMD")).cluster.leader
            await link.close()
            killed = int(leader[1:]) - 1
            servers[killed].kill()
            now = datetime.now(timezone.utc)
            t = time.time()
            await send_play(cfg, "b", stations=list(tree), zone=None, priority="urgent", now=now,
                            deadline=now + timedelta(minutes=5))
            return time.time() - t, killed
        # a release of broadcaster (RELEASE_MB of random bytes, signed as `fleet release` signs it) sent to
        # every commune just before the warning: the warning is measured while the release flows
        wheel = tmp / "broadcaster-99.0.0-py3-none-any.whl"
        with open(wheel, "wb") as f:
            for _ in range(int(release_mb)):
                f.write(random.randbytes(2**20))
        rel = make_release(wheel, signing_key=private[PROVINCE], by=PROVINCE, now=datetime.now(timezone.utc),
                           trial=900, quiet=60)

        async def send_release():
            link = Link(province)
            await link.connect(name="bench release", forever=True)
            await link.ensure_layout(list(tree))
            await link.put_object(rel["sha256"], wheel)
            data = json.dumps(rel).encode()
            await bounded([link.kv_put(names.RELEASES, m, data) for m in tree], 16)
            await link.close()
        stage[0] = "the release sent"
        t_rel = time.time()
        asyncio.run(send_release())
        print(f"release of {release_mb:.0f} MB signed, stored and sent to {n_communes} communes in "
              f"{time.time() - t_rel:.1f} s", flush=True)
        released: dict[str, float] = {}
        passed_rel: dict[str, float] = {}

        def on_release(msg) -> None:
            nonlocal communes_rss
            if msg[0] == "communes-rss":
                communes_rss = msg[1]
            elif msg[0] == "release":
                released[msg[1]] = msg[2] - t_rel
            elif msg[0] == "release-passed":
                passed_rel[msg[1]] = msg[2] - t_rel
            elif msg[0] == "retry":
                retries[msg[2]] = retries.get(msg[2], 0) + 1

        stage[0] = "the urgent warning, a server killed, while the release flows"
        sent, killed = asyncio.run(warning())
        first: dict[str, float] = {}
        how: dict[str, int] = {}
        deadline = time.time() + 60
        while len(first) < total and time.time() < deadline:
            try:
                msg = out.get(timeout=5)
            except Exception:
                continue
            if msg[0] == "command" and msg[1] not in first:
                first[msg[1]] = msg[2] - msg[3]
                how[msg[5]] = how.get(msg[5], 0) + 1
            on_release(msg)
        lat = sorted(first.values())
        print(f"urgent warning from the province to {total} clusters through `play --urgent`'s own path, server "
              f"n{killed + 1} (the command stream's leader) killed just before (sent in {sent:.1f} s): {len(lat)} "
              f"received ({', '.join(f'{v} first on {k}' for k, v in sorted(how.items()))}); p50 {pct(lat, 50):.2f} s, "
              f"p99 {pct(lat, 99):.2f} s, max {max(lat or [float('nan')]):.2f} s (goal p99 ≤ 5 s)")
        servers[killed] = subprocess.Popen(["nats-server", "-c", str(tmp / f"n{killed + 1}.conf")],
                                           stdout=subprocess.DEVNULL, stderr=open(tmp / f"n{killed + 1}b.log", "wb"))
        stage[0] = "the release reaching the clusters"
        retries.clear()
        deadline, said = time.time() + 1800, time.time()
        while len(released) < total and time.time() < deadline:
            if time.time() - said > 30:
                said = time.time()
                print(f"  … {said - t_rel:.0f} s: {len(passed_rel)}/{n_communes} communes passed the release on, "
                      f"{len(released)}/{total} clusters have it", flush=True)
            try:
                on_release(out.get(timeout=5))
            except queue.Empty:
                continue
        deadline = time.time() + 30
        while communes_rss != communes_rss and time.time() < deadline:   # the communes' process, once it ends
            try:
                on_release(out.get(timeout=2))
            except queue.Empty:
                continue
        lat = sorted(released.values()) or [float("nan")]
        print(f"release of {release_mb:.0f} MB verified at {len(released)}/{total} clusters: p50 {pct(lat, 50):.1f} s, "
              f"p99 {pct(lat, 99):.1f} s, max {max(lat):.1f} s after it was sent (passed on by every commune within "
              f"{max(passed_rel.values() or [float('nan')]):.1f} s; {total * release_mb / 1024:.1f} GB in all)"
              + ("; retries: " + "; ".join(f"{k} ×{v}" for k, v in sorted(retries.items(), key=lambda kv: -kv[1])[:3])
                 if retries else ""))
        print("memory: nats-servers peak " + ", ".join(f"{rss_of(s.pid):.0f} MB" for s in servers)
              + f"; province process peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; "
              f"the {n_communes} communes' process peak {communes_rss:.0f} MB")
        stage[0] = "stopping"
        asyncio.run(urgent("stop"))
        for w in workers:
            w.join(20)
        journal.close()

    except BaseException as e:
        print(f"the bench failed during {stage[0]}: {e!r}; everything it started is stopped", flush=True)
        raise
    finally:   # whatever happened: no process of the bench outlives it
        for w in workers:
            if w.is_alive():
                w.kill()
        for s in servers:
            s.kill()
            s.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    main()
