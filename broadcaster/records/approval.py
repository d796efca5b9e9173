"""Approval before airing ([approval] required = true): only audio whose script version was approved
goes on the air, on slots that were approved with it. A changed script keeps airing its last approved
audio, kept aside in ``<state>/approved/``, until the new version is approved; a new or changed slot
of a bulletin does not play until the bulletin is submitted and approved again (its other slots go on).

What is approved is the script, or a recording uploaded in the console (kept in ``recordings/``);
audio files a technician names in schedule.toml, and a hub's programme (approved at the hub), are not
asked for approval here."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from broadcaster.config import Bulletin, Config
from broadcaster.config.compose import RECORDINGS
from broadcaster.errors import PlaybackError
from broadcaster.fsutil import atomic_path, sha256_file
from broadcaster.i18n import _
from broadcaster.render.sidecar import read_sidecar
from broadcaster.records.accounts import Accounts, Approval


@dataclass(frozen=True)
class ApprovalState:
    state: str                  # not-needed | approved | changed | rescheduled | submitted | returned | never
    approved: Approval | None   # the version on the air
    latest: Approval | None

    @property
    def airs(self) -> bool:
        return self.state == "not-needed" or self.approved is not None


def source_of(cfg: Config, b: Bulletin) -> Path | None:
    """What an approver approves for ``b``: its script, or its recording uploaded in the console; None
    when it needs no approval here (a technician's audio file, the hub's programme)."""
    if b.origin != "local":
        return None
    if b.script is not None:
        return b.script
    if b.file is not None and b.file.resolve().is_relative_to((cfg.root / RECORDINGS).resolve()):
        return b.file
    return None


def slot_key(slot) -> str:
    """A slot's identity for approval: everything that decides when and where it plays."""
    what = [slot.sequence, slot.zones, [t.isoformat() for t in slot.at], slot.cron, slot.days, slot.monthly,
            slot.weeks, str(slot.start), str(slot.end), slot.priority, sorted(str(d) for d in slot.exceptions),
            slot.gap]
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:20]


def slots_of(cfg: Config, b: Bulletin) -> list[str]:
    """The keys of this node's own slots that begin with ``b``."""
    return sorted({slot_key(s) for s in cfg.slots if s.origin == "local" and not s.source and s.bulletin == b.id})


def _covers(a: Approval, keys) -> bool:
    return a.slots is None or set(keys) <= set(json.loads(a.slots))   # None: approved before slots were kept


def approved_path(cfg: Config, b: Bulletin, script_sha256: str) -> Path:
    suffix = b.file.suffix.lstrip(".").lower() if b.file is not None else b.audio.format
    return cfg.paths.state / "approved" / b.id / f"{script_sha256}.{suffix}"


def state_of(cfg: Config, accounts: Accounts, b: Bulletin) -> ApprovalState:
    source = source_of(cfg, b) if cfg.approval_required else None
    if source is None:
        return ApprovalState("not-needed", None, None)
    approved, latest = accounts.approved(b.id), accounts.latest(b.id)
    current = sha256_file(source) if source.is_file() else None
    keys = slots_of(cfg, b)
    if latest is not None and latest.script_sha256 == current and latest.state in ("submitted", "returned") \
            and (approved is None or approved.script_sha256 != current or not _covers(approved, keys)) \
            and _covers(latest, keys):
        return ApprovalState(latest.state, approved, latest)
    if approved is not None and approved.script_sha256 == current:
        return ApprovalState("approved" if _covers(approved, keys) else "rescheduled", approved, latest)
    return ApprovalState("changed" if approved else "never", approved, latest)


def slot_approved(cfg: Config, accounts: Accounts, slot) -> bool:
    """Whether an airing of ``slot`` may play: always, unless approval is required and this node's own slot
    is new or changed since its bulletin was last approved."""
    if not cfg.approval_required or slot.origin != "local" or slot.source:
        return True
    b = cfg.bulletins.get(slot.bulletin)
    if b is None or source_of(cfg, b) is None:
        return True
    approved = accounts.approved(b.id)
    return (approved is not None and _covers(approved, [slot_key(slot)])
            and (slot.priority != "urgent" or urgent_approver(accounts, approved)))


def urgent_approver(accounts: Accounts, approved) -> bool:
    """Whether the account that approved ``approved`` may put an airing on at urgent: urgent interrupts
    everything, even in quiet hours, and is the right of those who may play now (docs/console.md)."""
    who = accounts.get(approved.approver) if approved.approver else None
    return who is not None and who.may("play")


def submit(cfg: Config, accounts: Accounts, b: Bulletin, editor: str) -> None:
    """Submit the bulletin as it is now (its script or recording, and its slots) for approval."""
    source = source_of(cfg, b)
    if source is None:
        raise PlaybackError(_("{bulletin} needs no approval here", bulletin=b.id))
    text = source.read_text(encoding="utf-8", errors="replace") if b.script is not None else None
    accounts.submit(b.id, sha256_file(source), editor, text, slots_of(cfg, b))


def pin(cfg: Config, b: Bulletin) -> Path:
    """Keep aside the audio of the version being approved: the render of the script as it is now, or the
    uploaded recording."""
    source = source_of(cfg, b)
    if b.script is not None:
        side = read_sidecar(b.sidecar_path(cfg.paths)) or {}
        out = b.output_path(cfg.paths)
        script_sha = sha256_file(b.script)
        if side.get("script_sha256") != script_sha or not out.is_file():
            raise PlaybackError(_("{bulletin} has not been rendered from its current script", bulletin=b.id),
                                hint=_("render it first (broadcaster build)"))
    else:
        out, script_sha = source, sha256_file(source)
    target = approved_path(cfg, b, script_sha)
    with atomic_path(target) as tmp:
        shutil.copyfile(out, tmp)
    return target


def audio_to_air(cfg: Config, accounts: Accounts, b: Bulletin) -> Path:
    """The file an airing of ``b`` plays: the last approved version's when approval is required."""
    st = state_of(cfg, accounts, b)
    if st.state == "not-needed":
        return b.output_path(cfg.paths)
    if st.approved is None:
        raise PlaybackError(_("{bulletin} has no approved version yet: it does not air", bulletin=b.id),
                            hint=_("an approver approves it in the console or with broadcaster approve"))
    path = Path(st.approved.audio) if st.approved.audio else approved_path(cfg, b, st.approved.script_sha256)
    if not path.is_file():
        raise PlaybackError(_("the approved audio of {bulletin} is missing ({file})", bulletin=b.id, file=path.name),
                            hint=_("approve the current version again"))
    return path
