"""`broadcaster voices install`: Piper voices downloaded from a local fake of where they are published,
through the real download code (requests, Range, SHA-256), and copied from a USB stick."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from tests.conftest import BASE_CONFIG
from tests.fake_voices import FakeHub, tiny_voice

FREE = "vi_VN-tiny-medium"
RESTRICTED = "vi_VN-vivo-x_low"


@pytest.fixture
def hub(tmp_path_factory, network, monkeypatch):
    folder = tmp_path_factory.mktemp("published")
    server = FakeHub([tiny_voice(folder, FREE, "CC BY 4.0"),
                      tiny_voice(folder, RESTRICTED, "CC BY-NC-SA 4.0", quality="x_low")])
    network.add_passthru(server.url)  # requests reaches this server for real; anything else fails
    monkeypatch.setenv("BROADCASTER_VOICES_URL", server.url)
    yield server
    server.close()


def test_install_resumes_an_interrupted_download_checks_it_and_auto_speaks_with_it(
        project, hub, fake_edge, fake_google):
    project.write("schedule.toml", BASE_CONFIG.replace('engine = "espeak"', 'engine = "auto"'))
    r = project.run("voices")
    assert r.code == 0, r.err
    listed = {line.split()[0]: line for line in r.out.splitlines()[-3:] if line.startswith("    vi_VN")}
    assert set(listed) == {FREE, RESTRICTED}
    assert "licence of its data: CC BY 4.0" in listed[FREE] and "(" not in listed[FREE]
    assert "non-commercial use only" in listed[RESTRICTED] and "share-alike" in listed[RESTRICTED]
    assert "installed" not in r.out.split("Piper voices to install")[1]

    model = hub.voices[FREE].model
    hub.cut_after = len(model) // 2  # the link drops half-way
    r = project.run("voices", "install", "tiny-medium")
    assert r.code == 1
    assert "the download stopped at" in r.err and "run the same command again: it goes on from there" in r.err
    voices = project.root / "voices"
    assert not (voices / f"{FREE}.onnx").exists() and not (voices / f"{FREE}.onnx.json").exists()
    assert (voices / f"{FREE}.onnx.part").stat().st_size == len(model) // 2

    hub.requests.clear()
    r = project.run("voices", "install", FREE)
    assert r.code == 0, r.err
    assert "size and SHA-256 checked" in r.out
    ranges = [rng for path, rng in hub.requests if path.endswith(".onnx")]
    assert ranges == [f"bytes={len(model) // 2}-"]  # only the rest was fetched
    assert (voices / f"{FREE}.onnx").read_bytes() == model
    assert json.loads((voices / f"{FREE}.onnx.json").read_text())["language"]["code"] == "vi_VN"
    assert not (voices / f"{FREE}.onnx.part").exists()
    r = project.run("voices")
    assert "piper (offline): available" in r.out and "[installed]" in r.out

    fake_edge.plan.extend([403] * 50)    # the online voices refuse (or the internet is down)
    fake_google.plan.extend([400] * 50)
    r = project.run("build")
    assert r.code == 0, r.err
    side = project.sidecar("thong-bao")
    assert side["engine"] == "piper" and side["voice"].endswith(f"{FREE}.onnx")  # before espeak-ng


def test_a_model_that_does_not_match_its_hash_is_refused_and_nothing_installed(project, hub):
    hub.tamper = True
    r = project.run("voices", "install", FREE)
    assert r.code == 1
    assert "does not match its published SHA-256" in r.err and "nothing was installed" in r.err
    assert not any((project.root / "voices").glob("*.onnx*"))  # no model, no config, no .part
    hub.tamper = False
    assert project.run("voices", "install", FREE).code == 0


def test_a_restricting_licence_must_be_accepted(project, hub):
    r = project.run("voices", "install", RESTRICTED)
    assert r.code == 1
    assert "CC BY-NC-SA 4.0" in r.out and "non-commercial use only" in r.out
    assert "--accept-licence" in r.err
    assert not [q for q, _ in hub.requests if q.endswith(".onnx")]  # asked before downloading anything
    r = project.run("voices", "install", RESTRICTED, "--accept-licence")
    assert r.code == 0, r.err
    assert (project.root / "voices" / f"{RESTRICTED}.onnx").is_file()
    r = project.run("voices", "install", "vi_VN-khong-co")
    assert r.code == 1 and 'no published Vietnamese Piper voice "vi_VN-khong-co"' in r.err and FREE in r.err


def test_the_system_proxy_is_used(project, hub, network, monkeypatch):
    for var in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("BROADCASTER_VOICES_URL", "http://voices.invalid")  # only the proxy knows this name
    monkeypatch.setenv("HTTP_PROXY", hub.url)
    network.add_passthru("http://voices.invalid")
    r = project.run("voices", "install", FREE)
    assert r.code == 0, r.err
    assert any(u.startswith("http://voices.invalid/") and u.endswith(f"{FREE}.onnx") for u in hub.proxied)


def test_the_list_is_kept_for_offline_use(project, hub, monkeypatch):
    assert project.run("voices").code == 0
    monkeypatch.setenv("BROADCASTER_VOICES_URL", "http://127.0.0.1:9")  # now nothing answers
    r = project.run("voices")
    assert "the list saved on" in r.out and FREE in r.out and "no connection" in r.out
    r = project.run("voices", "install", FREE)
    assert r.code == 1 and "cannot be fetched" in r.err and "voices install FILE.onnx" in r.err


def test_install_from_a_usb_stick(project, hub, tmp_path):
    usb = tmp_path / "usb"
    usb.mkdir()
    (usb / f"{FREE}.onnx").write_bytes(hub.voices[FREE].model)
    (usb / f"{FREE}.onnx.json").write_bytes(hub.voices[FREE].config)
    r = project.run("voices", "install", str(usb / f"{FREE}.onnx"))
    assert r.code == 0, r.err
    installed = project.root / "voices" / f"{FREE}.onnx"
    assert hashlib.sha256(installed.read_bytes()).digest() == hashlib.sha256(hub.voices[FREE].model).digest()
    shutil.rmtree(project.root / "voices")

    assert project.run("voices").code == 0  # the published list is now known: a copy is checked against it
    (usb / f"{FREE}.onnx").write_bytes(hub.voices[FREE].model + b"\0")
    r = project.run("voices", "install", str(usb / f"{FREE}.onnx"))
    assert r.code == 1 and "is not the published voice of that name" in r.err
    assert not (project.root / "voices" / f"{FREE}.onnx").exists()

    (usb / f"{RESTRICTED}.onnx").write_bytes(hub.voices[RESTRICTED].model)  # a known voice whose licence
    (usb / f"{RESTRICTED}.onnx.json").write_bytes(hub.voices[RESTRICTED].config)  # restricts use
    r = project.run("voices", "install", str(usb / f"{RESTRICTED}.onnx"))
    assert r.code == 1 and "--accept-licence" in r.err
    assert not (project.root / "voices" / f"{RESTRICTED}.onnx").exists()  # asked before anything is copied
    assert project.run("voices", "install", str(usb / f"{RESTRICTED}.onnx"), "--accept-licence").code == 0

    other = usb / "en_US-x-low.onnx"
    other.write_bytes(hub.voices[FREE].model)
    (usb / "en_US-x-low.onnx.json").write_text('{"language": {"code": "en_US"}}')
    r = project.run("voices", "install", str(other))
    assert r.code == 1 and "is not a Vietnamese voice (its language is en_US)" in r.err
    (usb / "en_US-x-low.onnx.json").unlink()
    r = project.run("voices", "install", str(other))
    assert r.code == 1 and "has no en_US-x-low.onnx.json beside it" in r.err
