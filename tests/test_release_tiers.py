"""A release two levels down, through real processes: the province sends it to its commune; the commune,
once healthy on it, passes it on to its cluster with the province's signature, and the cluster comes
up on it too, its airings on time."""

from __future__ import annotations

import json
import time

import pytest

from broadcaster import __version__
from tests.test_release import bump, build_release
from tests.tiers import Tree, one_of_each, slot

pytestmark = pytest.mark.audio


def test_a_commune_healthy_on_a_release_passes_it_on_to_its_cluster(pulse, tmp_path):
    version = bump(__version__, 1)
    wheel = build_release(tmp_path / "build", version)
    tree = Tree(tmp_path)
    t0 = time.time() + 30
    try:
        airings = [line for k in range(12) for line in slot("b", ["cum_1"], t0 + 10 * k)]
        province, commune, cluster = one_of_each(tree, airings, pulse.env)
        r = province.cli("fleet", "release", str(wheel), "--trial", "60s", "--quiet", "5s")
        assert r.code == 0 and "xa_1" in r.out, r.out + r.err
        commune.wait_for(f"version {version} is healthy: kept", 90)
        commune.wait_for(f"release {version} passed down to this hub's stations", 10)
        cluster.wait_for(f"release {version} installed beside this version", 30)
        cluster.wait_for(f"version {version} is healthy: kept", 60)
        # seen from the top: both levels on the new version
        deadline = time.time() + 20
        while {r["path"]: r["software"] for r in province.json("fleet", "status", "--json")} != \
                {"xa_1": version, "xa_1/cum_1": version}:
            assert time.time() < deadline, province.json("fleet", "status", "--json")
            time.sleep(1)
        # the cluster's airings: every one due played on time, before and after its switch
        cluster.wait_for("played", 1)
        rows = [x for x in json.loads(cluster.cli("log", "--json").out) if x["zone"] == "cum_1"]
        assert rows and all(x["status"] == "played" and abs(x["start_error_ms"]) < 100 for x in rows), rows
        due = [k for k in range(12) if t0 + 10 * k < time.time() - 3]
        assert len(rows) >= len(due), (rows, due)
    finally:
        tree.close()
