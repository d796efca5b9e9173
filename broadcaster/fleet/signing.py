"""A hub's Ed25519 signature on what it sends down: programmes, commands and live voice."""

from __future__ import annotations

import base64
import json

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from broadcaster.errors import RefusedError
from broadcaster.i18n import _


def new_private_key() -> str:
    """A new signing key, as base64 text (the 32 raw bytes)."""
    from cryptography.hazmat.primitives import serialization
    raw = Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                                     serialization.NoEncryption())
    return base64.b64encode(raw).decode()


def public_key(private: str) -> str:
    from cryptography.hazmat.primitives import serialization
    key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(private))
    return base64.b64encode(key.public_key().public_bytes(serialization.Encoding.Raw,
                                                          serialization.PublicFormat.Raw)).decode()


def canonical(doc: dict) -> bytes:
    """The bytes that are signed: the document without its signature, keys sorted, no spaces."""
    body = {k: v for k, v in doc.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign(doc: dict, private: str) -> dict:
    return {**doc, "signature": base64.b64encode(Signer(private).key.sign(canonical(doc))).decode()}


def verify(doc: dict, keys: dict[str, str] | str, what: str) -> str:
    """The name of the trusted hub whose valid signature ``doc`` carries (``keys``: name → public key,
    or one key); RefusedError if none."""
    sig = doc.get("signature")
    if not isinstance(sig, str):
        raise RefusedError(_("{what} is not signed", what=what))
    try:
        raw = base64.b64decode(sig)
    except ValueError:
        raw = b""
    return Verifier({"hub": keys} if isinstance(keys, str) else keys).check(canonical(doc), raw, what)


class Signer:
    """Signs bytes (a live voice's packets, many a second): the key is read once."""

    SIZE = 64

    def __init__(self, private: str):
        self.key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(private))

    def sign(self, data: bytes) -> bytes:
        return data + self.key.sign(data)


class Verifier:
    """Checks signatures against the trusted hubs' keys (name → public key; one that is not a key is
    skipped, as no signature can match it)."""

    def __init__(self, keys: dict[str, str]):
        self.keys = {}
        for name, k in keys.items():
            try:
                self.keys[name] = Ed25519PublicKey.from_public_bytes(base64.b64decode(k))
            except ValueError:
                continue

    def check(self, body: bytes, sig: bytes, what: str) -> str:
        """The name of the hub whose signature ``sig`` of ``body`` is; RefusedError if none."""
        for name, key in self.keys.items():
            try:
                key.verify(sig, body)
                return name
            except (InvalidSignature, ValueError):
                continue
        raise RefusedError(_("{what} does not carry the signature of a hub this station trusts", what=what),
                           hint=_("it was changed on the way or signed with another key"))

    def open(self, data: bytes, what: str) -> tuple[str, bytes]:
        """(the signer's name, the bytes it signed) of what a Signer signed; RefusedError if no trusted hub did."""
        body = data[:-Signer.SIZE]
        return self.check(body, data[-Signer.SIZE:], what), body


def check_format(doc: dict, ours: int, what: str) -> int:
    """The format of a message from another node (1 when it has none: the first versions wrote none).
    One of a newer format than this broadcaster reads is refused with the reason, never misread: a newer
    hub writes the oldest format that says what it sends, so stations a few versions behind keep working."""
    fmt = doc.get("format", 1)
    if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt < 1:
        raise RefusedError(_("{what} has no valid format", what=what))
    if fmt > ours:
        raise RefusedError(_("{what} has format {format}, newer than this broadcaster reads ({ours})", what=what,
                             format=fmt, ours=ours), hint=_("update broadcaster on this PC"))
    return fmt
