"""A local fake of where Piper's voices are published (Hugging Face's rhasspy/piper-voices), for
`broadcaster voices install`'s real download code.

It serves what the installer reads, in the hub's shapes: ``voices.json`` (every voice, with its
files' sizes and MD5s), the hub's file listing of a voice's folder (its model's SHA-256 as the
Git LFS object id), each voice's ``MODEL_CARD`` and its two files, with HTTP Range requests.
It can cut a download after some bytes (as a dropped 3G link does), serve a model that does not
match its published hash, and act as an HTTP proxy (a request line with the whole URL).
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

PREFIX = "/rhasspy/piper-voices/resolve/v1.0.0/"
TREE = "/api/models/rhasspy/piper-voices/tree/v1.0.0/"

CARD = """# Model card for {dataset} ({quality})

* Language: vi_VN (Vietnamese, Việt Nam)
* Speakers: 1
* Quality: {quality}
* Samplerate: 16,000Hz

## Dataset

* URL: https://example.org/{dataset}
* License: {licence}

## Training

Trained from scratch.
"""


@dataclass
class FakeVoice:
    name: str
    model: bytes
    config: bytes
    licence: str
    quality: str = "medium"

    @property
    def folder(self) -> str:
        dataset = self.name.split("-")[1]
        return f"vi/vi_VN/{dataset}/{self.quality}"


class FakeHub:
    def __init__(self, voices: list[FakeVoice]):
        self.voices = {v.name: v for v in voices}
        self.cut_after: int | None = None   # the next model download stops after this many bytes
        self.tamper = False                 # serve a model that differs from its published hash
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.proxied: list[str] = []        # whole URLs asked of it as a proxy
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                hub._answer(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _files(self) -> dict[str, bytes]:
        out = {"voices.json": json.dumps(self._index()).encode()}
        for v in self.voices.values():
            dataset = v.name.split("-")[1]
            out[f"{v.folder}/{v.name}.onnx"] = v.model
            out[f"{v.folder}/{v.name}.onnx.json"] = v.config
            out[f"{v.folder}/MODEL_CARD"] = CARD.format(dataset=dataset, quality=v.quality,
                                                        licence=v.licence).encode()
        return out

    def _index(self) -> dict:
        index = {"en_US-lessac-medium": {"key": "en_US-lessac-medium", "language": {"family": "en"}, "files": {}}}
        for v in self.voices.values():
            base = f"{v.folder}/{v.name}"
            index[v.name] = {
                "key": v.name, "name": v.name.split("-")[1], "quality": v.quality, "num_speakers": 1,
                "language": {"code": "vi_VN", "family": "vi", "region": "VN"},
                "files": {f"{base}.onnx": {"size_bytes": len(v.model), "md5_digest": hashlib.md5(v.model).hexdigest()},
                          f"{base}.onnx.json": {"size_bytes": len(v.config),
                                                "md5_digest": hashlib.md5(v.config).hexdigest()},
                          f"{v.folder}/MODEL_CARD": {"size_bytes": 0, "md5_digest": ""}},
            }
        return index

    def _answer(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path
        if path.startswith("http://"):  # asked as a proxy
            self.proxied.append(path)
            path = urlsplit(path).path
        self.requests.append((path, h.headers.get("Range")))
        if path.startswith(TREE):
            folder = path[len(TREE):].strip("/")
            listing = [{"type": "file", "path": p, "size": len(body),
                        **({"lfs": {"oid": hashlib.sha256(body).hexdigest(), "size": len(body), "pointerSize": 133}}
                           if p.endswith(".onnx") else {})}
                       for p, body in self._files().items() if p.rsplit("/", 1)[0] == folder]
            return self._send(h, 200, json.dumps(listing).encode())
        body = self._files().get(path[len(PREFIX):].split("?")[0]) if path.startswith(PREFIX) else None
        if body is None:
            return self._send(h, 404, b"Entry not found")
        model = path.endswith(".onnx")
        if model and self.tamper:
            body = body[:-1] + bytes([body[-1] ^ 0xFF])
        start = 0
        rng = h.headers.get("Range")
        if rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
        cut, self.cut_after = (self.cut_after, None) if model else (None, self.cut_after)
        h.send_response(206 if start else 200)
        if start:
            h.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        h.send_header("Content-Length", str(len(body) - start))
        h.end_headers()
        part = body[start:] if cut is None else body[start:start + cut]
        h.wfile.write(part)
        h.wfile.flush()
        if cut is not None:
            h.close_connection = True
            h.connection.shutdown(2)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
        h.send_response(status)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)


def tiny_voice(folder: Path, name: str, licence: str, quality: str = "medium") -> FakeVoice:
    """A real (tiny) Piper model built by tests/tiny_piper.py, as a published voice."""
    from tests.tiny_piper import build
    model = build(folder / f"{name}.onnx")
    return FakeVoice(name, model.read_bytes(), Path(f"{model}.json").read_bytes(), licence, quality)
