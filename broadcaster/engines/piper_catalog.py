"""Piper's published Vietnamese voices: what can be installed, and installing one safely.

Piper's voices are published in the ``rhasspy/piper-voices`` repository on Hugging Face. Its
``voices.json`` lists every voice with its quality tier and the size (and MD5) of each file;
the hub's file listing gives the SHA-256 of each model (its Git LFS object id); each voice's
``MODEL_CARD`` names the data it was trained on and that data's licence. What was learnt is
kept in ``voices/.catalog.json``, so `voices` still lists them offline.

A download goes to ``NAME.onnx.part`` and goes on from where it stopped when run again (an
HTTP Range request); the model is checked against its published size and SHA-256, the config
against its size and MD5, before either is renamed into place (config first, then model: the
engine only sees a voice whose two files are both complete). Proxies come from the system's
settings (``HTTPS_PROXY``/``HTTP_PROXY``, or Windows' own), as requests reads them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from broadcaster.errors import BroadcasterError, StorageError
from broadcaster.fsutil import atomic_path, atomic_write_bytes, sha256_file
from broadcaster.i18n import N_, _

URL_VAR = "BROADCASTER_VOICES_URL"  # a mirror (or the tests' fake server) in place of Hugging Face
DEFAULT_URL = "https://huggingface.co"
REPO, REVISION = "rhasspy/piper-voices", "v1.0.0"
CATALOG = ".catalog.json"
BLOCK = 1 << 16
# words of a licence that limit what a broadcaster may do with the voice
RESTRICTIONS = ((r"\bNC\b|non-?commercial", N_("non-commercial use only")),
                (r"\bSA\b|share-?alike", N_("share-alike: what is made with it must carry the same licence")),
                (r"\bND\b|no-?deriv", N_("no derivatives")),
                (r"research|evaluation", N_("research use only")))
USB_HINT = N_("connect to the internet, or copy a voice from a USB stick: broadcaster voices install FILE.onnx")


class VoiceInstallError(BroadcasterError):
    """A voice cannot be listed, downloaded or installed. Not the input's fault."""

    exit_code = 1


@dataclass(frozen=True)
class Published:
    """One published Vietnamese Piper voice."""
    name: str           # vi_VN-vais1000-medium
    folder: str         # vi/vi_VN/vais1000/medium
    quality: str        # x_low, low, medium, high
    speakers: int
    size: int           # bytes of the model
    sha256: str         # of the model, as the hub lists it
    config_size: int
    config_md5: str
    licence: str        # of the training data, from the model card ("" when it names none)
    dataset: str

    def restrictions(self) -> list[str]:
        """What the licence forbids or demands, in words; one entry when no licence is stated."""
        if not self.licence:
            return [_("the model card states no licence for its training data")]
        return [_(words) for pattern, words in RESTRICTIONS if re.search(pattern, self.licence, re.IGNORECASE)]


def base_url() -> str:
    return os.environ.get(URL_VAR, DEFAULT_URL).rstrip("/")


def _file_url(path: str) -> str:
    return f"{base_url()}/{REPO}/resolve/{REVISION}/{path}"


def _session():
    import requests
    s = requests.Session()
    s.headers["User-Agent"] = "broadcaster (piper voice installer)"
    return s  # trust_env: proxies and certificates from the system's settings


def _get(session, url: str, what: str, **kw):
    import requests
    try:
        r = session.get(url, timeout=(10, 60), **kw)
    except requests.RequestException as e:
        raise VoiceInstallError(_("{what} cannot be fetched from {url}: {reason}", what=what, url=url,
                                  reason=_reason(e)), hint=_(USB_HINT)) from None
    if r.status_code >= 400:
        raise VoiceInstallError(_("{what} cannot be fetched from {url}: HTTP {status}", what=what, url=url,
                                  status=r.status_code), hint=_("try again later; if it persists, the voice may "
                                                                "have moved: check docs/configuration.md (Piper voices)"))
    return r


def _get_json(session, url: str, what: str):
    try:
        return _get(session, url, what).json()
    except ValueError:
        raise VoiceInstallError(_("{what} from {url} is not valid JSON", what=what, url=url),
                                hint=_("try again later")) from None


def _reason(e: Exception, started: bool = False) -> str:
    import requests
    if isinstance(e, requests.Timeout):
        return _("no answer in time")
    if started:
        return _("the connection was lost")
    if isinstance(e, requests.ConnectionError):
        return _("no connection (no internet, or a proxy is needed?)")
    text = str(e)
    return text if len(text) < 160 else text[:157] + "..."


def fetch_catalogue(voices_dir: Path, session=None) -> list[Published]:
    """The Vietnamese voices as published now (three small downloads per voice); saved for offline use."""
    session = session or _session()
    index = _get_json(session, _file_url("voices.json"), _("the list of Piper voices"))
    found = []
    for key, v in sorted(index.items()):
        if not isinstance(v, dict) or (v.get("language") or {}).get("family") != "vi":
            continue
        files = v.get("files") or {}
        model = next((p for p in files if p.endswith(".onnx")), None)
        if model is None or f"{model}.json" not in files:
            continue
        folder = model.rsplit("/", 1)[0]
        listing = _get_json(session, f"{base_url()}/api/models/{REPO}/tree/{REVISION}/{folder}",
                            _("the file list of {voice}", voice=key))
        lfs = next((f.get("lfs") or {} for f in listing if f.get("path") == model), {})
        card = _get(session, _file_url(f"{folder}/MODEL_CARD"), _("the model card of {voice}", voice=key)).text
        licence, dataset = _card(card)
        found.append(Published(key, folder, str(v.get("quality", "?")), int(v.get("num_speakers", 1)),
                               int(lfs.get("size") or files[model]["size_bytes"]), str(lfs.get("oid", "")),
                               int(files[f"{model}.json"]["size_bytes"]), str(files[f"{model}.json"]["md5_digest"]),
                               licence, dataset))
    saved = {"fetched": datetime.now(timezone.utc).isoformat(timespec="seconds"), "from": base_url(),
             "voices": [asdict(p) for p in found]}
    with contextlib.suppress(OSError):  # a read-only voices/ folder still lists
        voices_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(voices_dir / CATALOG, json.dumps(saved, ensure_ascii=False, indent=1).encode())
    return found


def _card(text: str) -> tuple[str, str]:
    """(licence, dataset URL) from a Piper MODEL_CARD: "* License: …" and "* URL: …" under "## Dataset"."""
    licence = re.search(r"^\s*\*?\s*Licen[cs]e\s*:\s*(.+?)\s*$", text, re.MULTILINE | re.IGNORECASE)
    url = re.search(r"^\s*\*?\s*URL\s*:\s*(\S+)", text, re.MULTILINE | re.IGNORECASE)
    return (licence.group(1) if licence else ""), (url.group(1) if url else "")


def saved_catalogue(voices_dir: Path) -> tuple[list[Published], str] | None:
    """The catalogue saved by the last successful fetch, and when it was fetched."""
    try:
        data = json.loads((voices_dir / CATALOG).read_text(encoding="utf-8"))
        return [Published(**v) for v in data["voices"]], str(data["fetched"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def catalogue(voices_dir: Path, session=None) -> tuple[list[Published], str | None, str | None]:
    """(voices, fetched-at of a saved copy or None when fresh, why it is not fresh)."""
    try:
        return fetch_catalogue(voices_dir, session), None, None
    except VoiceInstallError as e:
        saved = saved_catalogue(voices_dir)
        if saved is None:
            raise
        return saved[0], saved[1], e.message


def find(voices: list[Published], name: str) -> Published:
    stem = name.removesuffix(".onnx")
    for v in voices:
        if stem in (v.name, v.name.removeprefix("vi_VN-")):
            return v
    raise VoiceInstallError(_('there is no published Vietnamese Piper voice "{name}"', name=name),
                            hint=_("choose one of: {names}", names=", ".join(v.name for v in voices) or "-"))


Progress = Callable[[int, int], None]  # (bytes so far, bytes in all)


def download(voice: Published, voices_dir: Path, progress: Progress | None = None, session=None) -> Path:
    """Fetch, check and install ``voice`` into ``voices_dir``; returns the model's path."""
    session = session or _session()
    voices_dir.mkdir(parents=True, exist_ok=True)
    model = voices_dir / f"{voice.name}.onnx"
    part = model.with_name(model.name + ".part")
    _fetch_resumable(session, _file_url(f"{voice.folder}/{voice.name}.onnx"), part, voice.size, progress)
    got = sha256_file(part)
    if voice.sha256 and got != voice.sha256:
        part.unlink()
        raise VoiceInstallError(_("the downloaded model {name} does not match its published SHA-256 "
                                  "(expected {expected}, got {got}); it was deleted and nothing was installed",
                                  name=model.name, expected=voice.sha256[:16], got=got[:16]),
                                hint=_("run the command again; if it happens again, the download is being "
                                       "altered on the way (a proxy?) or the mirror is wrong"))
    config = _get(session, _file_url(f"{voice.folder}/{voice.name}.onnx.json"),
                  _("the config of {voice}", voice=voice.name)).content
    if len(config) != voice.config_size or hashlib.md5(config).hexdigest() != voice.config_md5:
        part.unlink()
        raise VoiceInstallError(_("the config {name}.json does not match its published size and MD5; "
                                  "nothing was installed", name=model.name), hint=_("run the command again"))
    _write_pair(model, config, lambda tmp: os.replace(part, tmp))
    return model


def _fetch_resumable(session, url: str, part: Path, size: int, progress: Progress | None) -> None:
    have = part.stat().st_size if part.exists() else 0
    if have > size:
        part.unlink()
        have = 0
    if have == size:
        return
    headers = {"Range": f"bytes={have}-"} if have else {}
    r = _get(session, url, _("the model"), stream=True, headers=headers)
    mode = "ab" if have and r.status_code == 206 else "wb"
    if mode == "wb":
        have = 0  # the server ignored the range: start again
    try:
        with open(part, mode) as f:
            while block := _read_some(r):
                f.write(block)
                f.flush()  # what arrived is kept, whenever the link drops
                have += len(block)
                if progress:
                    progress(have, size)
            os.fsync(f.fileno())
    except _LinkLost as e:
        raise VoiceInstallError(_("the download stopped at {have} of {size} MB: {reason}",
                                  have=_mb(have), size=_mb(size), reason=_reason(e.__cause__, started=True)),
                                hint=_("run the same command again: it goes on from there")) from None
    except OSError as e:
        raise StorageError(_("cannot write {path}: {reason}", path=part, reason=e.strerror),
                           hint=_("free some disk space, then run the same command again")) from None
    if have != size:
        raise VoiceInstallError(_("the download stopped at {have} of {size} MB", have=_mb(have), size=_mb(size)),
                                hint=_("run the same command again: it goes on from there"))


class _LinkLost(Exception):
    pass


def _read_some(response) -> bytes:
    """Whatever has arrived, up to a block (b"" at the end)."""
    import requests
    import urllib3
    try:
        return response.raw.read1(BLOCK, decode_content=True)
    except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as e:
        raise _LinkLost() from e


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f}"


def _write_pair(model: Path, config: bytes, place_model: Callable[[Path], None]) -> None:
    """The config, then the model, each through a temporary file and a rename."""
    try:
        atomic_write_bytes(model.with_name(model.name + ".json"), config)
        with atomic_path(model, suffix=".tmp") as tmp:
            place_model(tmp)
    except OSError as e:
        raise StorageError(_("cannot write {path}: {reason}", path=model, reason=e.strerror),
                           hint=_("free some disk space, or check that the voices folder is writable")) from None


def install_file(source: Path, voices_dir: Path, known: list[Published],
                 confirm: Callable[[Published], None] = lambda entry: None) -> tuple[Path, Published | None]:
    """Copy a model and its .json (from a USB stick) into ``voices_dir``, checked like a download
    when the saved catalogue knows it (``confirm`` is shown its entry before anything is written);
    returns the installed model and its catalogue entry."""
    config_path = Path(f"{source}.json")
    if not source.is_file():
        raise VoiceInstallError(_("{path} does not exist", path=source), hint=_("check the path to the .onnx file"))
    if not config_path.is_file():
        raise VoiceInstallError(_("{path} has no {name}.json beside it", path=source, name=source.name),
                                hint=_("copy both files of the voice"))
    try:
        config = config_path.read_bytes()
        language = (json.loads(config).get("language") or {}).get("code", "")
    except (OSError, ValueError, AttributeError):
        raise VoiceInstallError(_("{path} is not a Piper voice config", path=config_path),
                                hint=_("copy the .onnx.json that came with the model")) from None
    if not str(language).lower().startswith("vi"):
        raise VoiceInstallError(_("{name} is not a Vietnamese voice (its language is {language})",
                                  name=source.name, language=language or "?"),
                                hint=_("install a Vietnamese voice: broadcaster voices lists them"))
    entry = next((v for v in known if v.name == source.stem), None)
    if entry is not None and (source.stat().st_size != entry.size or sha256_file(source) != entry.sha256):
        raise VoiceInstallError(_("{name} is not the published voice of that name (its size or SHA-256 "
                                  "differs); nothing was installed", name=source.name),
                                hint=_("copy it again from a good source, or download it: broadcaster voices "
                                       "install {voice}", voice=entry.name))
    if entry is not None:
        confirm(entry)
    model = voices_dir / source.name
    if model.resolve() == source.resolve():
        return model, entry
    voices_dir.mkdir(parents=True, exist_ok=True)
    _write_pair(model, config, lambda tmp: shutil.copyfile(source, tmp))
    return model, entry
